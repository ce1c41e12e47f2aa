"""Helpers for the gateway tests: a fake Rasa server, a Twilio-style texter, database queries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.signatures import sign

PUBLIC_BASE = "https://chat.jec.example"
AUTH_TOKEN = "test-auth-token-123"


@dataclass
class FakeRasa:
    """Answers like Rasa's gateway channel; `reply` maps a request body to bot messages.
    `calls` holds the turns without the transport's `message_id` (kept in `message_ids`) and
    `headers` the signature headers of each."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    reply: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda body: [
        {"recipient_id": body["sender"], "text": f"You said: {body['message']}"}
    ]
    fail: bool = False
    delay: float = 0.0
    server: TestServer | None = None

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.message_ids.append(body.pop("message_id", ""))
        self.headers.append(
            {k: v for k, v in request.headers.items() if k.lower().startswith("x-jec-")}
        )
        self.calls.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response(self.reply(body))

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    @property
    def messages(self) -> list[str]:
        return [c["message"] for c in self.calls]


async def serve_fake_rasa(aiohttp_server: Any) -> FakeRasa:
    """A FakeRasa behind a real test server (pytest-aiohttp's `aiohttp_server` fixture)."""
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post(CHANNEL_PATH, fake.webhook)
    app.router.add_get("/", fake.root)
    fake.server = await aiohttp_server(app)
    return fake


def gateway_settings(sqlite_url: str, fake_rasa: FakeRasa, var_dir: Any, **more: Any) -> Settings:
    """The gateway's test settings: SQLite, the fake Rasa, the test secrets, short timeouts."""
    assert fake_rasa.server is not None
    return Settings(
        var_dir=var_dir,
        database_url=sqlite_url,
        rasa_url=str(fake_rasa.server.make_url("")).rstrip("/"),
        public_base_url=PUBLIC_BASE,
        secret_key="test-secret-key",
        twilio_auth_token=AUTH_TOKEN,
        http_timeout_seconds=5.0,
        **{"assistant_down_apology_seconds": 0.0, **more},  # existing tests: apologise at once
    )


async def count(db: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> int:
    async with db() as session:
        return (
            await session.execute(select(func.count()).select_from(model).where(*where))
        ).scalar_one()


async def rows(
    db: async_sessionmaker[AsyncSession], model: Any, *where: Any, order_by: Any = None
) -> list[Any]:
    async with db() as session:
        stmt = select(model).where(*where)
        if order_by is not None:
            stmt = stmt.order_by(order_by)
        return list((await session.execute(stmt)).scalars().all())


class MemberTexts:
    """A webhook's answer with the texts the queued turn sent afterwards, as one TwiML body (what
    the member's phone shows for that text)."""

    def __init__(self, status: int, twiml: str, later: list[str]) -> None:
        from twilio.twiml.messaging_response import MessagingResponse

        from bot.gateway.simulate import twiml_bodies

        self.status = status
        response = MessagingResponse()
        for body in [*twiml_bodies(twiml), *later]:
            response.message(body)
        self._text = str(response)

    async def text(self) -> str:
        return self._text


class Texter:
    """Posts signed Twilio-style webhooks to the gateway under test."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._n = 0

    def form(
        self, body: str, from_number: str = "+17065550101", sid: str | None = None
    ) -> dict[str, str]:
        self._n += 1
        return {
            "MessageSid": sid or f"SM{self._n:032d}",
            "AccountSid": "AC" + "1" * 32,
            "From": from_number,
            "To": "+17065550100",
            "Body": body,
            "NumMedia": "0",
        }

    async def post(
        self,
        path: str,
        form: dict[str, str],
        *,
        signed_url: str | None = None,
        signature: str | None = "auto",
    ) -> Any:
        url = signed_url or PUBLIC_BASE + path
        headers = {}
        if signature == "auto":
            headers["X-Twilio-Signature"] = sign(self.settings, url, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=form, headers=headers)

    async def text(
        self, body: str, from_number: str = "+17065550101", sid: str | None = None
    ) -> tuple[int, list[str]]:
        """Text the gateway; returns the webhook's status and every text the member gets for it:
        the TwiML (keyword answers, notices) and then what the queued turn texted through the
        notifier (the local outbox), once the turn is done."""
        from bot.gateway.simulate import twiml_bodies

        form = self.form(body, from_number, sid)
        before = await self._outbox_max_id()
        resp = await self.post("/sms/twilio", form)
        bodies = twiml_bodies(await resp.text())
        if resp.status == 200:
            await self.wait_for_turn(form["MessageSid"])
            bodies += await self._outbox_after(before, from_number)
        return resp.status, bodies

    async def _outbox_max_id(self) -> int:
        return await outbox_max_id(self.settings.database_url)

    async def _outbox_after(self, after_id: int, to: str) -> list[str]:
        return await outbox_after(self.settings.database_url, after_id, to)

    async def wait_for_turn(self, sid: str, timeout: float = 15.0) -> str | None:
        return await wait_for_turn(self.settings.database_url, sid, timeout)


def _db(database_url: str) -> Any:
    from bot.store.db import async_session_factory, make_async_engine

    engine = make_async_engine(database_url)
    return engine, async_session_factory(engine)


async def outbox_max_id(database_url: str) -> int:
    from bot.store.models import OutboxMessage

    engine, factory = _db(database_url)
    try:
        async with factory() as session:
            return int((await session.execute(select(func.max(OutboxMessage.id)))).scalar() or 0)
    finally:
        await engine.dispose()


async def outbox_after(database_url: str, after_id: int, to: str) -> list[str]:
    """The texts the notifier put in the local outbox for this phone after `after_id`."""
    from bot.store.models import OutboxMessage

    engine, factory = _db(database_url)
    try:
        async with factory() as session:
            found = await session.execute(
                select(OutboxMessage.body, OutboxMessage.to)
                .where(OutboxMessage.id > after_id, OutboxMessage.channel == "sms")
                .order_by(OutboxMessage.id)
            )
            digits = "".join(c for c in to if c.isdigit())[-10:]
            return [b for b, t in found if "".join(c for c in t if c.isdigit())[-10:] == digits]
    finally:
        await engine.dispose()


async def wait_for_turn(database_url: str, sid: str, timeout: float = 15.0) -> str | None:
    """The sid's final status once its queued turn is done (and texted)."""
    from bot.store.models import SmsInbound, TurnRequest

    engine, factory = _db(database_url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            async with factory() as session:
                status = (
                    await session.execute(
                        select(SmsInbound.status).where(SmsInbound.message_sid == sid)
                    )
                ).scalar_one_or_none()
                turn = (
                    await session.execute(
                        select(TurnRequest.status).where(TurnRequest.key == f"sms:{sid}")
                    )
                ).scalar_one_or_none()
            settled = status not in (None, "received", "queued") and turn in (
                None,
                "sent",
                "skipped",
            )
            if settled or asyncio.get_running_loop().time() > deadline:
                return status
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def with_queued_replies(
    database_url: str, form: dict[str, str], xml: str, outbox_before: int
) -> str:
    """The webhook's TwiML with the texts its queued turn sent afterwards (the member's view)."""
    await wait_for_turn(database_url, form["MessageSid"])
    later = await outbox_after(database_url, outbox_before, form.get("From", ""))
    return MemberTexts(200, xml, later)._text


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll an async check until it returns something truthy (background work finishing)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)
