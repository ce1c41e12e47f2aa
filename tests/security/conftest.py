"""Fixtures for the attack tests: the action container on a fresh SQLite database with a clock
the attacker's script can move, and a block of sequential accounts to guess at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.actions.deps import ActionDeps, use_deps, wire
from bot.config import PROJECT_ROOT, Settings
from bot.demo import generate_demo_data
from bot.profile import CoopProfile, load_profile
from bot.store.db import session_scope
from bot.store.models import Account
from tests.actions.identity_helpers import DEMO_TODAY, NOW
from tests.store import rows

# The three commonest ZIP codes of the territory: an attacker's first guesses.
COMMON_ZIPS = ("30833", "30434", "30824")
FIRST_GUESSED = 1_000_100_000


@dataclass
class MovableClock:
    """A clock the test moves forward, like an attacker waiting out a lock."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def profile() -> CoopProfile:
    return load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def demo_deps(
    sqlite_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    profile: CoopProfile,
    clock: MovableClock,
) -> Iterator[ActionDeps]:
    """The named demo members (docs/demo-accounts.md) behind the real action container."""
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    deps = wire(Settings(database_url=sqlite_url), profile, session_factory, clock=clock)
    use_deps(deps)
    yield deps
    use_deps(None)


async def add_sequential_accounts(
    factory: async_sessionmaker[AsyncSession], count: int = 40
) -> list[tuple[str, str]]:
    """`count` members with consecutive account numbers, their ZIPs cycling through the three
    commonest ones (as neighbouring numbers in a small territory would be); (number, ZIP)."""
    made = []
    async with session_scope(factory) as session:
        for i in range(count):
            member = await rows.member(session, f"SEQ{i:03d}", f"Member{i}", "Seq")
            number, zip_code = str(FIRST_GUESSED + i), COMMON_ZIPS[i % len(COMMON_ZIPS)]
            session.add(
                Account(
                    account_number=number,
                    member_id=member.id,
                    service_street=f"{100 + i} Main St",
                    service_town="Wrens",
                    service_zip=zip_code,
                )
            )
            made.append((number, zip_code))
    return made


def web(client_ip: str) -> dict[str, Any]:
    """Turn metadata as the gateway sends it for a web chat from `client_ip`."""
    return {"channel": "web", "client_ip": client_ip}


def sms(phone: str) -> dict[str, Any]:
    return {"channel": "sms", "phone": phone}


REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """The local Redis, for the tests that prove a Redis-backed path (lock mirror, shared rate
    limits); skipped only where no Redis runs (`.ci/run` starts one, so CI always runs them)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_TEST_URL
