"""Reading the tracker: what the member just said, on which channel, and what the assistant did
this turn. Every journey's actions use these helpers; none re-implements them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rasa_sdk import Tracker

from bot.core.answers import yes_no as _yes_no_words


def latest_text(tracker: Tracker) -> str:
    """The member's latest message, as the gateway forwarded it (already masked)."""
    return str((tracker.latest_message or {}).get("text") or "").strip()


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, name: str) -> str | None:
    """The first value of entity `name` in the latest message, stripped, or None."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value).strip() if value else None


def yes_no(tracker: Tracker, value: Any = None) -> bool | None:
    """The member's yes or no: a boolean slot value as it is, else the NLU's affirm/deny, else
    the shared vocabulary of `bot.core.answers`; None when it is neither (ask again)."""
    if isinstance(value, bool):
        return value
    intent = latest_intent(tracker)
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    return _yes_no_words(latest_text(tracker) if value is None else value)


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, (int, float)):
        return datetime.fromtimestamp(stamp, tz=UTC)
    return None


def idle_gap(tracker: Tracker) -> timedelta | None:
    """How long the conversation sat quiet before the latest member message.

    Measured between two tracker event timestamps (both from Rasa's clock), so it stays right
    when the action server's clock is frozen for tests. None when the events carry no time.
    """
    events = list(tracker.events or [])
    last_user = None
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            last_user = index
            break
    if last_user is None:
        return None
    current = _event_time(events[last_user])
    if current is None:
        return None
    for event in reversed(events[:last_user]):
        if event.get("event") in ("user", "bot", "action"):
            before = _event_time(event)
            if before is not None:
                return current - before
    return None


def _latest_metadata(tracker: Tracker) -> Mapping[str, Any]:
    meta = (tracker.latest_message or {}).get("metadata")
    if isinstance(meta, Mapping) and meta:
        return meta
    for event in reversed(list(tracker.events or [])):
        if event.get("event") == "user":
            meta = event.get("metadata")
            if isinstance(meta, Mapping) and meta:
                return meta
            break
    meta = tracker.get_slot("session_started_metadata")
    return meta if isinstance(meta, Mapping) else {}


def channel_of(tracker: Tracker) -> str:
    """ "sms" or "web" from the gateway's message metadata (default "web")."""
    channel = str(_latest_metadata(tracker).get("channel") or "").strip().lower()
    if channel not in ("web", "sms"):
        channel = str(tracker.get_slot("channel") or "web").lower()
    return "sms" if channel == "sms" else "web"


def phone_of(tracker: Tracker) -> str | None:
    """The member's phone (E.164) from SMS metadata, or None. Not proof of identity on its own."""
    raw = _latest_metadata(tracker).get("phone") or tracker.get_slot("phone")
    if not raw:
        return None
    text = str(raw).strip()
    return text if re.fullmatch(r"\+[1-9]\d{7,14}", text) else None


def client_ip_of(tracker: Tracker) -> str | None:
    """The web client's address as the gateway saw it (metadata `client_ip`), or None. Used only
    to count verification tries per address (docs/security.md); never shown or proof of anything.
    """
    raw = _latest_metadata(tracker).get("client_ip")
    text = str(raw).strip() if raw else ""
    return text[:64] or None


def idempotency_key(tracker: Tracker, purpose: str) -> str:
    """Stable for one member turn: the same confirmation re-sent (or an action retried) gives
    the same key, so the payment service charges once.

    Built from the sender id, the purpose and the id of the latest member message (its
    timestamp if the message has no id).
    """
    message_id = (tracker.latest_message or {}).get("message_id")
    if not message_id:
        for event in reversed(list(tracker.events or [])):
            if event.get("event") == "user":
                message_id = event.get("message_id") or event.get("timestamp")
                break
    return f"{tracker.sender_id}:{purpose}:{message_id or 'no-message'}"


# Slot extraction runs these between the member's message and the form's own action.
_SLOT_EXTRACTION_ACTIONS = {"action_extract_slots", "action_listen"}


def validator_spoke(tracker: Tracker) -> bool:
    """True if this turn's slot validation already answered the member (and re-asked).

    Only messages sent between the member's last message and the next real action count: a
    message from another action (a digression's answer, the identity gate) means the form must
    ask its question again itself.

    Rasa asks the question with a temporary tracker in which it has inserted the form's own
    `ActionExecuted` before the validator's events, so the form's own action does not count as
    another action (it did: every miss in the draft form got the re-ask and then the question).
    """
    form = tracker.active_loop_name
    spoke = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return spoke
        name = event.get("name")
        if kind == "action" and name not in _SLOT_EXTRACTION_ACTIONS and name != form:
            return False
        if kind == "bot":
            spoke = True
    return False


def asked_before(tracker: Tracker, action_name: str) -> bool:
    """Whether this question was already asked in the current run of the form."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") is not None:
            return False
        if event.get("event") == "action" and event.get("name") == action_name:
            return True
    return False
