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


def tracker_for(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> Tracker:
    """A tracker whose latest member message is `text`, classified as `intent`."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
    }
    return Tracker(
        sender_id="test-member",
        slots={},
        latest_message=message,
        events=[{"event": "user", "text": text, "parse_data": message}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run_action(
    action: Action, tracker: Tracker
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; return (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events
