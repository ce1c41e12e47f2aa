"""The bodies of the fixtures the console, handoff and payment page tests (tests/gateway/agents)
and the attack tests on the running gateway (tests/security/live_gateway) share: the Rasa fake
that answers the HTTP API, their settings, the gateway app with a settable clock, the agents and
a member's payment link."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.gateway.agents_cli import create_agent
from bot.gateway.app import create_app
from bot.gateway.handoff import SWEEP_INTERVAL
from bot.gateway.state import GatewayOptions
from bot.services.payment_links import create_link
from gateway.agent_helpers import MONDAY_10AM, PASSWORD, Clock, ControlledRasa, add_member, rasa_app
from gateway.helpers import AUTH_TOKEN


class RecordingSms:
    """Stands in for the notifier: every text the gateway sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to_e164: str, body: str) -> Any:
        self.sent.append((to_e164, body))
        return type("Result", (), {"ok": True})()


async def serve_controlled_rasa(aiohttp_server: Any) -> ControlledRasa:
    """A ControlledRasa behind a real test server (pytest-aiohttp's `aiohttp_server`)."""
    fake = ControlledRasa()
    fake.server = await aiohttp_server(rasa_app(fake))
    return fake


def console_settings(
    sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any, **more: Any
) -> Settings:
    """SQLite, the Rasa fake, the test secrets, plain-http public URL (the test client talks
    plain http, and Secure cookies would not come back), no console second factor unless `more`
    says otherwise."""
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
        **{"console_totp": "off", **more},
    )


async def console_client(
    aiohttp_client: Any, settings: Settings, clock: Clock | None, **collaborators: Any
) -> TestClient:
    """The gateway app on `clock` (None: the clock production reads) with `collaborators`
    (notifier, processor); the after-hours sweep does not run by itself (tests run it at a
    chosen time)."""
    app = create_app(
        settings,
        clock=clock,
        options=GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0),
        **collaborators,
    )
    app[SWEEP_INTERVAL] = 0.0
    return await aiohttp_client(app)


def create_agents(settings: Settings, *, with_admin: bool = False) -> dict[str, int]:
    """Maria and Tom (agents), and Ann (admin) when asked; their ids by username."""
    agents = {
        "maria": create_agent(settings, "maria", "Maria Lopez", PASSWORD),
        "tom": create_agent(settings, "tom", "Tom Beasley", PASSWORD),
    }
    if with_admin:
        agents["ann"] = create_agent(settings, "ann", "Ann Lee", PASSWORD, admin=True)
    return agents


async def new_payment_link(gw: Any, conversation_id: str, now: Any = MONDAY_10AM) -> str:
    """Dana (`add_member`) and a payment link for her account in `conversation_id`: its token."""
    member_id, account_id = await add_member(gw.sessions)
    link = await create_link(
        gw.sessions,
        secret_key=gw.settings.secret_key,
        public_base_url=gw.settings.public_base_url,
        member_id=member_id,
        account_id=account_id,
        conversation_id=conversation_id,
        now=now,
    )
    return link.token
