"""Fixtures of the console, handoff and payment page tests: they override the gateway fixtures
with a Rasa fake that also answers the HTTP API, a settable clock and a recording notifier."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from gateway.agent_fixtures import (
    RecordingSms,
    console_client,
    console_settings,
    create_agents,
    serve_controlled_rasa,
)
from gateway.agent_helpers import Clock, ControlledRasa


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> ControlledRasa:
    return await serve_controlled_rasa(aiohttp_server)


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any) -> Settings:
    # the second factor has its own tests (tests/security)
    return console_settings(sqlite_url, fake_rasa, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, clock: Clock, sms: RecordingSms
) -> TestClient:
    return await console_client(aiohttp_client, settings, clock, notifier=sms)


@pytest.fixture
def agents(settings: Settings) -> dict[str, int]:
    return create_agents(settings)
