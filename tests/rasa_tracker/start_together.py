"""Run by tests/rasa_tracker/test_replicas_start_together.py in the RASA environment: open
`WindowedSQLTrackerStore` on a database at a given wall-clock instant, as a Rasa replica does at
start-up (the URL given as `host`, as the runner's endpoints file gives it), and print "ok"
(or fail as Rasa would, with a traceback).

Argv: <domain dir> <database URL> <unix time to start at> [rasa-only]
(with "rasa-only", Rasa's own `SQLTrackerStore`: only its `events` table).
"""

from __future__ import annotations

import sys
import time

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

from rasa_addons.tracker_store import WindowedSQLTrackerStore


def main() -> None:
    domain_dir, url, start_at = sys.argv[1:4]
    domain = Domain.load(domain_dir)
    time.sleep(max(0.0, float(start_at) - time.time()))
    kind = SQLTrackerStore if sys.argv[4:] == ["rasa-only"] else WindowedSQLTrackerStore
    kind(domain, host=url).engine.dispose()
    print("ok")


if __name__ == "__main__":
    main()
