"""Fixtures of the attack tests on the running gateway app (console and web chat) on a fresh
SQLite database, a Rasa fake, a settable clock and two agents, Maria and Tom, plus Ann (admin).

The `clock` here (the gateway's settable clock) overrides the one of tests/security."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from gateway.agent_fixtures import (
    console_client,
    console_settings,
    create_agents,
    serve_controlled_rasa,
)
from gateway.agent_helpers import Clock, ControlledRasa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from tests.store.sessions import open_sessions


class NoSms:
    async def send_sms(self, to_e164: str, body: str) -> Any:
        return type("Result", (), {"ok": True})()


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> ControlledRasa:
    return await serve_controlled_rasa(aiohttp_server)


@pytest.fixture
def totp_mode() -> str:
    return "off"


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any, totp_mode: str) -> Settings:
    return console_settings(sqlite_url, fake_rasa, tmp_path, console_totp=totp_mode)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, clock: Clock) -> TestClient:
    return await console_client(aiohttp_client, settings, clock, notifier=NoSms())


@pytest.fixture
def agents(settings: Settings) -> dict[str, int]:
    return create_agents(settings, with_admin=True)


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_sessions(sqlite_url) as factory:
        yield factory
