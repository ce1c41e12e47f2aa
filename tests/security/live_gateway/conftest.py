"""Fixtures of the attack tests on the running gateway app (console and web chat) on a fresh
SQLite database, a Rasa fake, a settable clock and two agents, Maria and Tom, plus Ann (admin).

The `clock` here (the gateway's settable clock) overrides the one of tests/security."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from gateway.agent_helpers import PASSWORD, Clock, ControlledRasa, rasa_app
from gateway.helpers import AUTH_TOKEN
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.gateway.agents_cli import create_agent
from bot.gateway.app import create_app
from bot.gateway.handoff import HANDOFF, SWEEP_INTERVAL, HandoffRouter
from bot.gateway.state import GATEWAY, Gateway, GatewayOptions
from bot.store.db import async_session_factory, make_async_engine


class NoSms:
    async def send_sms(self, to_e164: str, body: str) -> Any:
        return type("Result", (), {"ok": True})()


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> ControlledRasa:
    fake = ControlledRasa()
    fake.server = await aiohttp_server(rasa_app(fake))
    return fake


@pytest.fixture
def totp_mode() -> str:
    return "off"


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any, totp_mode: str) -> Settings:
    assert fake_rasa.server is not None
    return Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        rasa_url=str(fake_rasa.server.make_url("")).rstrip("/"),
        rasa_token="rasa-secret",
        public_base_url="http://chat.jec.example",
        secret_key="test-secret-key",
        twilio_auth_token=AUTH_TOKEN,
        http_timeout_seconds=5.0,
        console_totp=totp_mode,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, clock: Clock) -> TestClient:
    app = create_app(
        settings,
        clock=clock,
        notifier=NoSms(),
        options=GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0),
    )
    app[SWEEP_INTERVAL] = 0.0
    return await aiohttp_client(app)


@pytest.fixture
def gw(client: TestClient) -> Gateway:
    return client.app[GATEWAY]


@pytest.fixture
def router(client: TestClient) -> HandoffRouter:
    return client.app[HANDOFF]


@pytest.fixture
def agents(settings: Settings) -> dict[str, int]:
    return {
        "maria": create_agent(settings, "maria", "Maria Lopez", PASSWORD),
        "tom": create_agent(settings, "tom", "Tom Beasley", PASSWORD),
        "ann": create_agent(settings, "ann", "Ann Lee", PASSWORD, admin=True),
    }


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_async_engine(sqlite_url)
    try:
        yield async_session_factory(engine)
    finally:
        await engine.dispose()
