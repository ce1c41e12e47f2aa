#!/bin/sh
# Start the Rasa server the way `jecbot run` does (bot/runner.py), on the container's address.
# RASA_TOKEN comes from the environment (a Secret); the endpoints file from write_endpoints.py.
set -eu
: "${RASA_TOKEN:?RASA_TOKEN must be set}"
exec rasa run \
    --enable-api \
    --auth-token "$RASA_TOKEN" \
    -i 0.0.0.0 \
    -p 5005 \
    --endpoints /run/jec/endpoints.yml \
    --credentials credentials.yml \
    --model models
