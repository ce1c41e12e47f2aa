"""Action tests: each action's real `run()` with rasa-sdk's Tracker and CollectingDispatcher,
a real SQLite database and a fixed clock, through the same `bot.actions.deps` container the action
server uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.actions.deps import ActionDeps, use_deps, wire
from bot.config import PROJECT_ROOT, Settings
from bot.core.clock import fixed_clock
from bot.profile import CoopProfile, load_profile

EASTERN = ZoneInfo("America/New_York")
# Tuesday, Dec 1 2026, 10 AM Eastern: a normal working day, offices open.
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=EASTERN)


@pytest.fixture(scope="session")
def profile() -> CoopProfile:
    return load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@pytest.fixture
def make_deps(
    profile: CoopProfile, sqlite_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> Iterator[Any]:
    """`make_deps(now, processor=...)` installs deps with a clock stuck at `now` (and any
    collaborator given in place of the default); removed after the test."""

    def make(now: datetime = TUESDAY_10AM, **collaborators: Any) -> ActionDeps:
        deps = wire(
            Settings(database_url=sqlite_url),
            profile,
            session_factory,
            clock=fixed_clock(now),
            **collaborators,
        )
        use_deps(deps)
        return deps

    yield make
    use_deps(None)


def listening_tracker(
    sender_id: str,
    slots: dict[str, Any],
    latest_message: dict[str, Any],
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A tracker as an action sees it right after the member's message `latest_message`: the
    conversation's `events` so far (by default that one message), its `slots`, the form
    `active_loop` if one is running."""
    return Tracker(
        sender_id=sender_id,
        slots=slots,
        latest_message=latest_message,
        events=events
        if events is not None
        else [{"event": "user", "text": latest_message["text"], "parse_data": latest_message}],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def tracker_for(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> Tracker:
    """A tracker whose latest member message is `text`, classified as `intent`."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
    }
    return listening_tracker("test-member", {}, message)


async def run_action(
    action: Action, tracker: Tracker
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; return (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events
