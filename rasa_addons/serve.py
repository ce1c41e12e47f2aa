"""`python -m rasa_addons.serve run ...`: `rasa run` with its secrets kept off the command line
and out of its log.

`rasa run` takes the HTTP API token only as `--auth-token`, which every user of the machine can
read in the process list. This wrapper reads it from the environment (`RASA_TOKEN`), hands it to
Rasa inside the process, and removes it and the other keys Rasa is given (`JEC_ACTION_SERVER_KEY`,
`JEC_RASA_CHANNEL_KEYS`) from everything the process writes to stdout and stderr, which is where
its log goes. Before Rasa starts it installs the text cap (`rasa_addons.limits`).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, List, Optional

SECRET_ENV = ("RASA_TOKEN", "JEC_ACTION_SERVER_KEY", "JEC_RASA_CHANNEL_KEYS", "SECRET_KEY")
REDACTED = "[redacted]"


class RedactingStream:
    """A text stream that writes through to `stream` with every secret replaced."""

    def __init__(self, stream: Any, secrets: Iterable[str]) -> None:
        self._stream = stream
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def write(self, text: str) -> int:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def secrets_in(env: "os._Environ[str] | dict[str, str]") -> List[str]:
    """The secret values to keep out of the log (comma-separated lists split)."""
    found: List[str] = []
    for name in SECRET_ENV:
        found += [part.strip() for part in env.get(name, "").split(",") if part.strip()]
    return found


def rasa_argv(args: List[str], token: str) -> List[str]:
    """Rasa's own argv: `args` plus the token when the HTTP API is enabled."""
    argv = ["rasa", *args]
    if "--enable-api" in args:
        argv += ["--auth-token", token]
    return argv


def main(args: Optional[List[str]] = None) -> None:
    args = list(sys.argv[1:] if args is None else args)
    if "--auth-token" in args:
        sys.exit("Pass the Rasa token in RASA_TOKEN, never on the command line.")
    token = os.environ.pop("RASA_TOKEN", "").strip()
    if "--enable-api" in args and not token:
        sys.exit("RASA_TOKEN is not set: Rasa's HTTP API needs a token.")
    secrets = secrets_in(os.environ) + [token]
    sys.stdout = RedactingStream(sys.stdout, secrets)
    sys.stderr = RedactingStream(sys.stderr, secrets)
    sys.argv = rasa_argv(args, token)

    from rasa.__main__ import main as rasa_main

    from rasa_addons import limits

    limits.install()  # every text is cut before NLU, whatever the channel
    rasa_main()


if __name__ == "__main__":
    main()
