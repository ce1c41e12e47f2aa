"""Rasa's SQL tracker store with a bounded read: a turn's cost does not grow with the session.

Rasa's `SQLTrackerStore` loads and replays every event of the current session on each turn
(and counts them again to know which ones to save), and every policy then rebuilds the states
of the whole tracker once per predicted action. In one long session the turn's cost grew with
its length (issue 13: p50 60 ms after one turn, 338 ms after 450).

`WindowedSQLTrackerStore` keeps the same table (`events`, written exactly as Rasa writes it, so
`rasa export`, the HTTP API and the gateway's handoff work as before) and adds a small one,
`jec_tracker_snapshots`: per conversation, the state of the session up to an event id (the slot
values, the active form, whether the bot is paused) as a few synthetic events. A turn then
reads the snapshot and only the events after it:

    [action_session_start, session_started, slot sets..., active_loop?, paused?, action_listen]
    + the stored events after `upto_id` (fewer than 2 x `window_events`)

When more than 2 x `window_events` events follow the snapshot, it is moved forward on the next
read: the state is rebuilt by Rasa's own tracker from the old snapshot plus the events up to a
member message about `window_events` before the end (a member message, so a fallback's revert,
which goes back to the last member message, never reaches behind the cut), and stored.

What a windowed tracker does not have: member and bot events older than the window (at least
`window_events` events, ten turns or more). The policies look back `max_history: 5` turns, and our
actions look back to the latest member message or the last few of them. No rule uses
`conversation_start`, which would see the window's synthetic start as a new conversation.
A new session (`session_started`, after `session_expiration_time`) starts without a snapshot,
as in Rasa (a conversation with no `session_started` at all keeps a snapshot for "no session").

Configured in the generated endpoints file (`jecbot run`, `bot.runner.endpoints_config`):

    tracker_store:
      type: rasa_addons.tracker_store.WindowedSQLTrackerStore
      url: sqlite:///var/rasa-tracker.db     # or postgresql://...
      window_events: 60
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any, Dict, Iterator, List, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    SessionStarted,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_EVENTS = 60
MIN_WINDOW_EVENTS = 30
LOADED_ATTR = "_jec_events_in_store"  # how many of tracker.events are already stored

_snapshots_metadata = sa.MetaData()
SNAPSHOTS = sa.Table(
    "jec_tracker_snapshots",
    _snapshots_metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("session_start", sa.Float, nullable=True),  # timestamp of its session_started
    sa.Column("upto_id", sa.Integer, nullable=False),  # the last event id the state includes
    sa.Column("events", sa.Text, nullable=False),  # JSON list of the synthetic prefix events
)


def prefix_events(tracker: DialogueStateTracker, timestamp: float) -> List[Dict[Text, Any]]:
    """The synthetic events that give a new tracker `tracker`'s state."""
    events: List[Any] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=timestamp),
        SessionStarted(timestamp=timestamp),
    ]
    for name, slot in tracker.slots.items():
        if slot.value != slot.initial_value:
            events.append(SlotSet(name, slot.value, timestamp=timestamp))
    if tracker.active_loop_name:
        events.append(ActiveLoop(tracker.active_loop_name, timestamp=timestamp))
    if tracker.is_paused():
        events.append(ConversationPaused(timestamp=timestamp))
    events.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=timestamp))
    return [event.as_dict() for event in events]


def cut_index(type_names: List[str], window: int) -> Optional[int]:
    """Where to move the snapshot to in a window of events (their type names): the latest member
    message at least `window` events before the end, or None (then the snapshot stays)."""
    if len(type_names) <= 2 * window:
        return None
    for index in range(len(type_names) - window, 0, -1):
        if type_names[index] == "user":
            return index
    return None


# Any fixed number: the PostgreSQL advisory lock that replicas take to create our tables in turn.
SCHEMA_LOCK_KEY = 0x4A454354  # "JECT"
SCHEMA_ATTEMPTS = 5


def _create_schema(engine: Any, index: Any) -> None:
    """Create the snapshot table and the events index, once, however many replicas start together.

    Two Rasa replicas start at the same moment against a fresh database; two `CREATE TABLE` of
    the same name race in PostgreSQL's catalogue and one fails (a unique violation on
    `pg_type`), which used to stop that Rasa. Rasa guards its own `events` table with a retry;
    ours takes a transaction-level advisory lock on PostgreSQL, so the second replica waits and
    then finds the table there, and retries a few times on any other database."""
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                    conn.execute(lock, {"key": SCHEMA_LOCK_KEY})
                _snapshots_metadata.create_all(conn)
                index.create(conn, checkfirst=True)
            return
        except sa.exc.SQLAlchemyError as exc:  # another process made them at the same moment
            if attempt == SCHEMA_ATTEMPTS:
                raise
            logger.warning("tracker tables not created yet (%s); trying again", exc)
            time.sleep(0.5 * attempt)


class WindowedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose `retrieve` reads a snapshot and a bounded tail of events."""

    def __init__(self, *args: Any, window_events: Any = DEFAULT_WINDOW_EVENTS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.window_events = max(int(window_events or DEFAULT_WINDOW_EVENTS), MIN_WINDOW_EVENTS)
        # Reading "events of this sender after id N" is an index range with (sender_id, id).
        index = sa.Index("jec_events_sender_id_id", self.SQLEvent.sender_id, self.SQLEvent.id)
        _create_schema(self.engine, index)

    # ------------------------------------------------------------------------------ read

    def _session_start(self, session: Any, sender_id: Text) -> Optional[float]:
        return (
            session.query(sa.func.max(self.SQLEvent.timestamp))
            .filter(
                self.SQLEvent.sender_id == sender_id,
                self.SQLEvent.type_name == SessionStarted.type_name,
            )
            .scalar()
        )

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session: snapshot + the events after it."""
        with self.session_scope() as session:
            snapshot = session.execute(
                sa.select(SNAPSHOTS.c.session_start, SNAPSHOTS.c.upto_id, SNAPSHOTS.c.events).where(
                    SNAPSHOTS.c.sender_id == sender_id
                )
            ).first()
            newer_session = snapshot is not None and (
                session.query(self.SQLEvent.id)
                .filter(
                    self.SQLEvent.sender_id == sender_id,
                    self.SQLEvent.id > snapshot.upto_id,
                    self.SQLEvent.type_name == SessionStarted.type_name,
                )
                .first()
                is not None
            )
            if snapshot is not None and not newer_session:
                # Only the events after the snapshot are read (an index range on sender, id).
                start = snapshot.session_start
                prefix = json.loads(snapshot.events)
                rows = (
                    session.query(self.SQLEvent)
                    .filter(
                        self.SQLEvent.sender_id == sender_id,
                        self.SQLEvent.id > snapshot.upto_id,
                    )
                    .order_by(self.SQLEvent.id)
                    .all()
                )
            else:  # no snapshot yet, or a new session began after it: Rasa's own read
                start = self._session_start(session, sender_id)
                prefix = []
                rows = self._event_query(
                    session, sender_id, fetch_events_from_all_sessions=False
                ).all()
            if not rows and not prefix:
                return None
            if self.domain is None:
                return None
            events = [json.loads(row.data) for row in rows]
            cut = cut_index([row.type_name for row in rows], self.window_events)
            if cut is not None:
                before = DialogueStateTracker.from_dict(
                    sender_id, prefix + events[:cut], self.domain.slots
                )
                stamp = start if start is not None else (rows[0].timestamp or 0.0)
                prefix = prefix_events(before, stamp)
                self._store_snapshot(session, sender_id, start, rows[cut - 1].id, prefix)
                rows, events = rows[cut:], events[cut:]
            tracker = DialogueStateTracker.from_dict(sender_id, prefix + events, self.domain.slots)
            setattr(tracker, LOADED_ATTR, len(prefix) + len(events))
            return tracker

    def _store_snapshot(
        self,
        session: Any,
        sender_id: Text,
        start: float,
        upto_id: int,
        prefix: List[Dict[Text, Any]],
    ) -> None:
        values = {"session_start": start, "upto_id": upto_id, "events": json.dumps(prefix)}
        try:
            updated = session.execute(
                SNAPSHOTS.update().where(SNAPSHOTS.c.sender_id == sender_id).values(**values)
            ).rowcount
            if not updated:
                session.execute(SNAPSHOTS.insert().values(sender_id=sender_id, **values))
            session.commit()
        except sa.exc.SQLAlchemyError as exc:
            # Another replica moved the same snapshot at the same time: the same state, so its
            # row is as good as ours; this read still uses the state it computed.
            session.rollback()
            logger.debug("snapshot of %s not stored: %s", sender_id, exc)

    # ------------------------------------------------------------------------------ write

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events of `tracker` not stored yet (after the ones `retrieve` or the last save
        read or wrote); Rasa's own count for a tracker that did not come from here."""
        stored = getattr(tracker, LOADED_ATTR, None)
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        setattr(tracker, LOADED_ATTR, len(tracker.events))
