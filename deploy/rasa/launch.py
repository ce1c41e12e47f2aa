"""Start Rasa exactly as `jecbot run` would, from the rasa.json deploy/rasa_config.py wrote.

Runs in the Rasa image (Python 3.10, standard library only). `--listen HOST` replaces the
address Rasa binds to (`-i`): in a container that is 0.0.0.0, since the address other processes
use (RASA_URL's host, a container or Service name) is not one the container can bind.
Usage: python launch.py /run/jec/rasa.json [--listen 0.0.0.0]
"""

import argparse
import json
import os
import sys


def command(spec: dict, listen: str | None) -> tuple[list[str], dict[str, str]]:
    """The argv and environment to exec (the runner's, with the listen address replaced)."""
    argv = list(spec["argv"])
    if listen is not None and "-i" in argv:
        argv[argv.index("-i") + 1] = listen
    env = {k: v for k, v in os.environ.items() if k not in set(spec.get("unset", []))}
    env.update(spec.get("env", {}))
    return argv, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec")
    parser.add_argument("--listen", default=None)
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as fh:
        argv, env = command(json.load(fh), args.listen)
    if not os.access(argv[0], os.X_OK):
        sys.exit(f"launch.py: {argv[0]} is not in this image; rebuild it (deploy/rasa/Dockerfile)")
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
