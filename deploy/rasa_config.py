"""Write what the Rasa server needs to start, with the same code `jecbot run` uses.

Containers and systemd units run this (app environment, before Rasa starts) into a directory
only Rasa reads, usually /run/jec:
- the endpoints file and whatever `bot.runner.write_endpoints` writes beside it (action server,
  tracker store, lock store), and
- `rasa.json`: the Rasa command line and environment of `bot.runner.build_children`, which
  deploy/rasa/launch.py executes in the Rasa image.
So there is no second, hand-written Rasa configuration to drift from the runner. A container or
unit runs one Rasa (the first replica's command line, RASA_REPLICAS=1 in the templates): the
platform makes the copies (compose/k8s replicas), all sharing the PostgreSQL tracker store and
the Redis lock store the endpoints file names. Both images keep
the project at /app (the runner's paths are valid in either) and run as uid 10001. The files hold
secrets (database password, tokens): they are written 0600.
Usage: python deploy/rasa_config.py /run/jec
"""

import json
import os
import sys
from pathlib import Path

from bot.config import load_settings
from bot.runner import build_children, write_endpoints

SPEC_NAME = "rasa.json"


def rasa_spec(out_dir: Path) -> dict[str, object]:
    """Write the endpoints file into `out_dir`; return the runner's Rasa argv and environment."""
    settings = load_settings()
    endpoints = write_endpoints(settings, out_dir / "endpoints.yml")
    rasa = next(c for c in build_children(settings, endpoints, gateway=False) if c.name == "rasa")
    return {
        "argv": rasa.argv,
        "env": rasa.env,
        "unset": list(getattr(rasa, "unset", ())),
    }


def main(target: str) -> int:
    out_dir = Path(target)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.umask(0o077)
    spec = rasa_spec(out_dir)
    (out_dir / SPEC_NAME).write_text(json.dumps(spec, indent=1) + "\n")
    for path in out_dir.iterdir():
        path.chmod(0o600)
    print(f"wrote Rasa's configuration into {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
