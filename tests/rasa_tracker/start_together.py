"""Run by tests/rasa_tracker/test_replicas_start_together.py in the RASA environment: open
`WindowedSQLTrackerStore` on a PostgreSQL database at a given wall-clock instant, as a Rasa
replica does at start-up, and print "ok" (or fail as Rasa would, with a traceback).

Argv: <domain dir> <host> <port> <database> <user> <unix time to start at> [rasa-only]
(with "rasa-only", Rasa's own `SQLTrackerStore`: only its `events` table).
"""

from __future__ import annotations

import sys
import time

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

from rasa_addons.tracker_store import WindowedSQLTrackerStore


def main() -> None:
    domain_dir, host, port, db, user, start_at = sys.argv[1:7]
    domain = Domain.load(domain_dir)
    time.sleep(max(0.0, float(start_at) - time.time()))
    kind = SQLTrackerStore if sys.argv[7:] == ["rasa-only"] else WindowedSQLTrackerStore
    store = kind(domain, dialect="postgresql", host=host, port=int(port), db=db, username=user)
    store.engine.dispose()
    print("ok")


if __name__ == "__main__":
    main()
