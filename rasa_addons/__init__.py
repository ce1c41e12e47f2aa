"""Code that runs inside the Rasa server (the Python 3.10 environment in `rasa-env/`).

Rasa loads `rasa_addons.gateway_channel.GatewayInput` from the credentials file: the only input
channel for member turns. `rasa_addons.serve` starts `rasa run` with the HTTP API token taken from
the environment instead of the command line. `rasa_addons.signing` is plain standard library, so
the app's tests can check that the gateway's signatures and keys match what Rasa verifies.
"""
