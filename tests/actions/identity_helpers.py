"""Trackers for identity/balance action tests: slots, channel metadata, event timestamps."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.config import PROJECT_ROOT
from tests.actions.conftest import listening_tracker

EASTERN = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=EASTERN)  # demo data "today"
DEMO_TODAY = date(2026, 11, 28)

DANA_ACCOUNT, DANA_ZIP, DANA_PHONE = "1000004821", "30833", "+17065550101"
EARL_ACCOUNT, EARL_ZIP = "1000007315", "30434"
MARCUS_PHONE = "+17065550104"
BOBBIE_ACCOUNT, BOBBIE_ZIP = "1000009914", "30823"


def domain() -> dict[str, Any]:
    """The identity domain as the action server receives it (forms and slots)."""
    return yaml.safe_load(Path(PROJECT_ROOT / "domain" / "identity.yml").read_text())


def make_tracker(
    *,
    text: str = "",
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    new_slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    sender_id: str = "conv-1",
    active_loop: str | None = None,
    message_id: str = "m-1",
    timestamps: tuple[float, float] | None = None,
) -> Tracker:
    """A tracker whose latest member message is `text`; `new_slots` were just extracted from it
    (what a form's validation action sees), `slots` were set before."""
    meta = metadata or {}
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [],
        "message_id": message_id,
        "metadata": meta,
    }
    events: list[dict[str, Any]] = []
    if timestamps is not None:
        events.append({"event": "bot", "text": "earlier", "timestamp": timestamps[0]})
    user = {
        "event": "user",
        "text": text,
        "parse_data": parse,
        "metadata": meta,
        "message_id": message_id,
    }
    if timestamps is not None:
        user["timestamp"] = timestamps[1]
    events.append(user)
    events += [{"event": "slot", "name": k, "value": v} for k, v in (new_slots or {}).items()]
    all_slots = {"tier": "public", **(slots or {}), **(new_slots or {})}
    return listening_tracker(sender_id, all_slots, parse, events, active_loop)


async def run(
    action: Action, tracker: Tracker, dom: dict[str, Any] | None = None
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """(texts sent, messages with buttons, slot values the action set)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, dom if dom is not None else domain())
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return [m.get("text") for m in dispatcher.messages], dispatcher.messages, slots


def verified_slots(
    member_id: int,
    account_id: int | None,
    first_name: str,
    last4: str | None,
    at: datetime = NOW,
    tier: str = "verified",
) -> dict[str, Any]:
    return {
        "tier": tier,
        "member_id": member_id,
        "account_id": account_id,
        "member_first_name": first_name,
        "account_last4": last4,
        "verified_how": "account+zip",
        "verified_at": at.isoformat(),
    }
