"""Write Rasa's endpoints file from the environment, with the same code `jecbot run` uses.

Containers and systemd units run this (app image, before Rasa starts) so the action server URL,
tracker store and lock store Rasa gets are exactly `bot.runner.endpoints_config(settings)`:
there is no second, hand-written endpoints file to drift. Usage:
    python deploy/write_endpoints.py /run/jec/endpoints.yml
The file holds the database and Redis passwords: it is written 0600 (both images run as
uid 10001, so the Rasa container can read it).
"""

import os
import sys
from pathlib import Path

from bot.config import load_settings
from bot.runner import write_endpoints


def main(target: str) -> int:
    path = Path(target)
    write_endpoints(load_settings(), path)
    os.chmod(path, 0o600)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
