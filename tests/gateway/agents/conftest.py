"""Fixtures of the console, handoff and payment page tests: they override the gateway fixtures
with a Rasa fake that also answers the HTTP API, a settable clock and a recording notifier."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.handoff import HANDOFF, SWEEP_INTERVAL, HandoffRouter
from bot.gateway.state import GATEWAY, Gateway, GatewayOptions
from gateway.agent_helpers import PASSWORD, Clock, ControlledRasa, rasa_app
from gateway.helpers import AUTH_TOKEN


class RecordingSms:
    """Stands in for the notifier: every text the gateway sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to_e164: str, body: str) -> Any:
        self.sent.append((to_e164, body))
        return type("Result", (), {"ok": True})()


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> ControlledRasa:
    fake = ControlledRasa()
    fake.server = await aiohttp_server(rasa_app(fake))
    return fake


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any) -> Settings:
    assert fake_rasa.server is not None
    # http public URL: the test client talks plain http, and Secure cookies would not come back.
    return Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        rasa_url=str(fake_rasa.server.make_url("")).rstrip("/"),
        rasa_token="rasa-secret",
        public_base_url="http://chat.jec.example",
        secret_key="test-secret-key",
        twilio_auth_token=AUTH_TOKEN,
        http_timeout_seconds=5.0,
        console_totp="off",  # the second factor has its own tests (tests/security)
    )


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
    app = create_app(
        settings,
        clock=clock,
        notifier=sms,
        options=GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0),
    )
    app[SWEEP_INTERVAL] = 0.0  # tests run the after-hours sweep themselves, at a chosen time
    return await aiohttp_client(app)


@pytest.fixture
def gw(client: TestClient) -> Gateway:
    return client.app[GATEWAY]


@pytest.fixture
def router(client: TestClient) -> HandoffRouter:
    return client.app[HANDOFF]


@pytest.fixture
def agents(settings: Settings) -> dict[str, int]:
    from bot.gateway.agents_cli import create_agent

    return {
        "maria": create_agent(settings, "maria", "Maria Lopez", PASSWORD),
        "tom": create_agent(settings, "tom", "Tom Beasley", PASSWORD),
    }
