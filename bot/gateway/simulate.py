"""`jecbot sms`: simulate an inbound text, signed exactly like Twilio signs it.

Posts to the running gateway's `/sms/twilio` with an `X-Twilio-Signature` computed by the
`twilio` package for the configured public URL, prints the TwiML replies (keywords, notices),
then the texts the queued turn sent through the local outbox once it is done.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import TextIO

import aiohttp
from sqlalchemy import select

from bot.config import Settings
from bot.gateway.edge import clean_text
from bot.gateway.signatures import public_url, sign
from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.models import OutboxMessage

SMS_PATH = "/sms/twilio"


def twiml_bodies(xml_text: str) -> list[str]:
    """The texts in a TwiML <Response> (empty list for an empty response)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return []
    return [(m.findtext("Body") or m.text or "").strip() for m in root.iter("Message")]


def _form(settings: Settings, from_number: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": from_number,
        "To": settings.twilio_from_number or "+17065550100",
        "Body": body,
        "NumMedia": "0",
    }


async def _post(
    settings: Settings, form: dict[str, str], gateway_url: str | None
) -> tuple[int, str]:
    url = public_url(settings, SMS_PATH)
    target = (gateway_url.rstrip("/") + SMS_PATH) if gateway_url else url
    headers = {"X-Twilio-Signature": sign(settings, url, form)}
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(target, data=form, headers=headers) as resp,
    ):
        return resp.status, await resp.text()


def _outbox_since(settings: Settings, to: str, since: datetime) -> list[str]:
    engine = make_sync_engine(settings.database_url)
    try:
        with sync_session_factory(engine)() as session:
            rows = (
                session.execute(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.channel == "sms",
                        OutboxMessage.to == to,
                        OutboxMessage.created_at >= since,
                    )
                    .order_by(OutboxMessage.id)
                )
                .scalars()
                .all()
            )
            return [f"[{r.status}] {r.body}" for r in rows]
    finally:
        engine.dispose()


QUEUED_TURN_WAIT_SECONDS = 60.0


def _queued_replies(settings: Settings, sid: str, phone: str, since: datetime) -> list[str]:
    """The texts the queued turn of `sid` sent, once it is done (nothing if it had no turn)."""
    from bot.store.models import TurnRequest

    engine = make_sync_engine(settings.database_url)
    try:
        factory = sync_session_factory(engine)
        deadline = time.monotonic() + QUEUED_TURN_WAIT_SECONDS
        while True:
            with factory() as session:
                status = session.execute(
                    select(TurnRequest.status).where(TurnRequest.key == f"sms:{sid}")
                ).scalar_one_or_none()
            if status in (None, "sent", "skipped") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if status is None or status == "skipped":
            return []
        with factory() as session:
            rows = session.execute(
                select(OutboxMessage.body)
                .where(
                    OutboxMessage.channel == "sms",
                    OutboxMessage.to == phone,
                    OutboxMessage.created_at >= since,
                )
                .order_by(OutboxMessage.id)
            ).all()
        return [r[0] for r in rows]
    finally:
        engine.dispose()


def simulate_sms(
    settings: Settings,
    from_number: str,
    body: str,
    *,
    gateway_url: str | None = None,
    wait_seconds: float = 15.0,
    out: TextIO | None = None,
) -> int:
    """Send one simulated inbound text; 0 when the gateway accepted it."""
    out = out or sys.stdout
    from bot.core.phones import normalize_phone

    phone = normalize_phone(from_number, strict=False)
    if phone is None:
        print(f"Not a valid phone number: {from_number!r}", file=out)
        return 2
    body = clean_text(body)  # what the gateway would keep: valid Unicode, no control characters
    if not body.strip():
        print("Nothing to send: the text is empty.", file=out)
        return 2
    started = datetime.now(UTC) - timedelta(seconds=1)
    form = _form(settings, phone, body)
    try:
        status, text = asyncio.run(_post(settings, form, gateway_url))
    except aiohttp.ClientError as exc:
        print(f"Could not reach the gateway ({exc}). Is it running (jecbot run)?", file=out)
        return 1
    if status != 200:
        print(f"Gateway answered HTTP {status}: {text[:200]}", file=out)
        return 1
    replies = twiml_bodies(text)
    for reply in replies:
        print(f"< {reply}", file=out)
    # The gateway answered at once; the assistant's turn runs from the queue and its replies go
    # out through the notifier (here: the local outbox) once it is done.
    for reply in _queued_replies(settings, form["MessageSid"], phone, started):
        print(f"< {reply}", file=out)
        replies.append(reply)
    if not replies and wait_seconds > 0:
        deadline = time.monotonic() + wait_seconds
        found: list[str] = []
        while time.monotonic() < deadline and not found:
            time.sleep(0.5)
            found = _outbox_since(settings, phone, started)
        for line in found:
            print(f"< (outbox) {line}", file=out)
        if not found:
            print(
                "(no reply: opted out, with an agent, or the assistant is still working; "
                "see `jecbot outbox`)",
                file=out,
            )
    return 0
