"""Gateway test fixtures: a fake Rasa server, the gateway app on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.state import GatewayOptions
from gateway.helpers import FakeRasa, Texter, gateway_settings, serve_fake_rasa
from tests.store.sessions import open_sessions


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> FakeRasa:
    return await serve_fake_rasa(aiohttp_server)


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: FakeRasa, tmp_path: Any) -> Settings:
    return gateway_settings(sqlite_url, fake_rasa, tmp_path)


@pytest.fixture
def options() -> GatewayOptions:
    return GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, options: GatewayOptions) -> TestClient:
    return await aiohttp_client(create_app(settings, options=options))


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A separate session factory on the gateway's database, for assertions."""
    async with open_sessions(sqlite_url) as factory:
        yield factory


@pytest.fixture
def texter(client: TestClient, settings: Settings) -> Texter:
    return Texter(client, settings)
