"""Container health check: exit 0 when URL answers 2xx within 3 seconds, 1 otherwise.

Standard library only, so the same file serves the app image (Python 3.11) and the Rasa image
(Python 3.10), which have no curl. Usage: python healthcheck.py http://127.0.0.1:8080/livez
"""

import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - local URL
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
