"""Helpers for the handoff, console and payment page tests: a Rasa fake that also answers the
HTTP API calls the gateway makes on hand-back, a settable clock, agents and a console sign-in."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.signatures import sign
from bot.store.db import session_scope
from bot.store.models import HandoffRequest
from gateway.helpers import FakeRasa

# Monday 30 November 2026, 10:00 in Louisville (America/New_York): agents are working.
MONDAY_10AM = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
# The same Monday at 17:30 local: agent hours are over.
MONDAY_AFTER_HOURS = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"


@dataclass
class Clock:
    now: datetime = MONDAY_10AM

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class ControlledRasa(FakeRasa):
    """Rasa's REST channel plus `tracker/events` (resume) and `trigger_intent`, recorded."""

    control: list[dict[str, Any]] = field(default_factory=list)
    trigger_replies: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            "EXTERNAL_agent_handback": [
                {"text": "You're back with the automated assistant. Anything else I can help with?"}
            ],
            "EXTERNAL_method_added": [
                {
                    "text": "Pay $142.87 with it now?",
                    "buttons": [{"title": "Yes", "payload": "/affirm"}],
                }
            ],
        }
    )

    async def events(self, request: web.Request) -> web.Response:
        self.control.append(
            {
                "call": "events",
                "conversation": request.match_info["cid"],
                "token": request.query.get("token"),
                "body": await request.json(),
            }
        )
        return web.json_response({"events": []})

    async def trigger(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.control.append(
            {
                "call": "trigger",
                "conversation": request.match_info["cid"],
                "token": request.query.get("token"),
                "body": body,
            }
        )
        messages = [
            {"recipient_id": request.match_info["cid"], **m}
            for m in self.trigger_replies.get(body.get("name"), [])
        ]
        return web.json_response({"tracker": {}, "messages": messages})

    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        return [c for c in self.control if c["call"] == kind]


def rasa_app(fake: ControlledRasa) -> web.Application:
    app = web.Application()
    app.router.add_post(CHANNEL_PATH, fake.webhook)
    app.router.add_get("/", fake.root)
    app.router.add_post("/conversations/{cid}/tracker/events", fake.events)
    app.router.add_post("/conversations/{cid}/trigger_intent", fake.trigger)
    return app


async def add_handoff(
    factory: Any,
    conversation_id: str,
    channel: str,
    *,
    topic: str = "high bill",
    tier: str = "verified",
    how: str | None = "account number + ZIP",
    account_id: int | None = None,
    member_id: int | None = None,
    created_at: datetime = MONDAY_10AM,
) -> int:
    async with session_scope(factory) as session:
        row = HandoffRequest(
            conversation_id=conversation_id,
            channel=channel,
            status="waiting",
            topic=topic,
            verified_tier=tier,
            verified_how=how,
            account_id=account_id,
            member_id=member_id,
            created_at=created_at,
        )
        session.add(row)
        await session.flush()
        return row.id


def hidden_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; returns the session's CSRF token from the console page."""
    form_page = await client.get("/console/login")
    token = hidden_csrf(await form_page.text())
    resp = await client.post(
        "/console/login",
        data={"csrf": token, "username": username, "password": password},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    home = await client.get("/console")
    assert home.status == 200
    return hidden_csrf(await home.text())


async def as_operator(command: Any, *args: Any) -> Any:
    """A `jecbot agents` command (synchronous, its own database connection) run the way an
    operator's shell runs it: beside the live gateway, not on its event loop, where it would wait
    for a write lock that a gateway task mid-transaction cannot release."""
    return await asyncio.to_thread(command, *args)


async def text_in(
    client: TestClient,
    settings: Settings,
    body: str,
    from_number: str = "+17065550101",
    sid: str = "SM1",
) -> web.Response:
    form = {
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": from_number,
        "To": "+17065550100",
        "Body": body,
        "NumMedia": "0",
    }
    url = settings.public_base_url + "/sms/twilio"
    from bot.gateway.state import GATEWAY
    from gateway.helpers import MemberTexts, Texter

    notifier = client.app[GATEWAY].service.sms
    before = len(getattr(notifier, "sent", []))
    resp = await client.post(
        "/sms/twilio", data=form, headers={"X-Twilio-Signature": sign(settings, url, form)}
    )
    twiml = await resp.text()
    if resp.status != 200:
        return resp
    # What the member gets for this text: the TwiML, then the queued turn's replies, texted by
    # the notifier once the turn is done, shown as one TwiML response.
    await Texter(client, settings).wait_for_turn(sid)
    later = [body for _to, body in getattr(notifier, "sent", [])[before:]]
    return MemberTexts(resp.status, twiml, later)  # type: ignore[return-value]


async def add_member(factory: Any, *, phone: str = "+17065550101") -> tuple[int, int]:
    """Dana Whitfield, account 1000004821, a phone on file; returns (member_id, account_id)."""
    from bot.store.models import Contact
    from tests.store import rows as seed_rows

    async with session_scope(factory) as session:
        member = await seed_rows.member(session, "M-4821", "Dana", "Whitfield")
        account = seed_rows.account(member, "1000004821")  # 412 Mill St, Wrens
        session.add_all(
            [account, Contact(member_id=member.id, kind="phone", value=phone, is_primary=True)]
        )
        await session.flush()
        return member.id, account.id
