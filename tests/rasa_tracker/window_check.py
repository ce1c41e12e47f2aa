"""Run by tests/rasa_tracker/test_tracker_window.py in the RASA environment (Python 3.10):
one long session through `WindowedSQLTrackerStore` and, on the same events table, Rasa's own
`SQLTrackerStore`; prints one JSON line comparing what each hands to the policies.

Argv: <domain dir> <sqlite file> <turns> <window_events>.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)

from rasa_addons.tracker_store import WindowedSQLTrackerStore


def turn_events(i: int, t: float, new_session_at: int = -1) -> list:
    """A member turn: message, slot extraction, an action, a reply, listen; variations on i."""
    events = [
        UserUttered(
            f"message {i}", {"name": "greet", "confidence": 1.0}, timestamp=t, message_id=f"m{i}"
        ),
        ActionExecuted("action_extract_slots", timestamp=t),
    ]
    if i % 7 == 0:
        events.append(SlotSet("zip_code", f"{30000 + i}", timestamp=t))
    if i == 30:
        events += [ActiveLoop("verify_form", timestamp=t), SlotSet("requested_slot", "zip_code")]
    if i == 60:
        events += [ActiveLoop(None, timestamp=t), SlotSet("requested_slot", None)]
    if i == 200:
        events.append(ActiveLoop("callback_form", timestamp=t))
    if i % 11 == 0:  # a fallback: the slot set by this message is reverted with it
        events += [
            SlotSet("zip_code", "99999", timestamp=t),
            ActionExecuted("action_default_fallback", timestamp=t),
            BotUttered("Sorry, I didn't get that.", timestamp=t),
            UserUtteranceReverted(timestamp=t),
        ]
    if i == 250:
        events.append(ConversationPaused(timestamp=t))
    if i == 260:
        events.append(ConversationResumed(timestamp=t))
    if i == 270:
        events.append(ConversationPaused(timestamp=t))
    if i == new_session_at:  # the member came back after the session expired
        events = [
            ActionExecuted("action_session_start", timestamp=t),
            SessionStarted(timestamp=t),
            ActionExecuted("action_listen", timestamp=t),
        ] + events
    events += [
        ActionExecuted("action_greet", timestamp=t),
        BotUttered(f"reply {i}", timestamp=t),
        ActionExecuted("action_listen", timestamp=t),
    ]
    return events


async def main() -> None:
    domain_dir, db, turns, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    new_session_at = int(sys.argv[5]) if len(sys.argv) > 5 else -1
    domain = Domain.load(domain_dir)
    windowed = WindowedSQLTrackerStore(domain=domain, host=f"sqlite:///{db}", window_events=window)
    plain = SQLTrackerStore(domain=domain, host=f"sqlite:///{db}")
    sender = "long-session"
    t = time.time()
    tracker = await windowed.create_tracker(sender, append_action_listen=False)
    for event in (  # what Rasa's action_session_start leaves
        ActionExecuted("action_session_start", timestamp=t),
        SessionStarted(timestamp=t),
        SlotSet("session_started_metadata", {"channel": "sms"}, timestamp=t),
        ActionExecuted("action_listen", timestamp=t),
    ):
        tracker.update(event)
    await windowed.save(tracker)
    written = len(tracker.events)
    retrieve_ms, sizes, mismatches = [], [], []
    for i in range(1, turns + 1):
        t += 1.0
        started = time.perf_counter()
        tracker = await windowed.retrieve(sender)
        retrieve_ms.append((time.perf_counter() - started) * 1000)
        for event in turn_events(i, t, new_session_at):
            tracker.update(event)
        written += len(turn_events(i, t, new_session_at))
        await windowed.save(tracker)
        sizes.append(len(tracker.events))
        if i % 25 == 0 or i >= turns - 15:
            full = await plain.retrieve(sender)
            mine = await windowed.retrieve(sender)
            if full.current_slot_values() != mine.current_slot_values():
                mismatches.append(f"slots differ after turn {i}")
            if full.active_loop_name != mine.active_loop_name:
                mismatches.append(f"active loop differs after turn {i}")
            if full.is_paused() != mine.is_paused():
                mismatches.append(f"paused differs after turn {i}")
            if [e.as_dict() for e in list(full.events)[-30:]] != [
                e.as_dict() for e in list(mine.events)[-30:]
            ]:
                mismatches.append(f"latest events differ after turn {i}")
            if full.latest_message.text != mine.latest_message.text:
                mismatches.append(f"latest message differs after turn {i}")
    with plain.session_scope() as session:
        stored = session.query(plain.SQLEvent).filter_by(sender_id=sender).count()
    full = await plain.retrieve(sender)
    everything = await plain.retrieve_full_tracker(sender)
    print(
        json.dumps(
            {
                "all_sessions_events": len(everything.events),
                "written": written,
                "stored": stored,
                "full_events": len(full.events),
                "windowed_events": len((await windowed.retrieve(sender)).events),
                "max_windowed_events": max(sizes),
                "mismatches": mismatches,
                "retrieve_ms_first10": sorted(retrieve_ms[:10])[5],
                "retrieve_ms_last10": sorted(retrieve_ms[-10:])[5],
                "final_slots": {
                    k: v for k, v in full.current_slot_values().items() if v is not None
                },
                "final_loop": full.active_loop_name,
                "final_paused": full.is_paused(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
