"""Delivery that keeps trying (issue 8 item 6): a failed text is retried with backoff, never sent
twice once Twilio accepted it, and a member whose text keeps failing gets the email copy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.adapters.delivery import record_provider_status
from bot.adapters.notifier import CompositeNotifier
from bot.adapters.outbox import OutboxNotifier
from bot.adapters.twilio_sms import TwilioNotifier
from bot.config import PROJECT_ROOT, Settings
from bot.ops.integration import undeliverable
from bot.profile import load_profile
from bot.services.otp import CodeText
from bot.store.db import async_session_factory, make_async_engine, session_scope
from bot.store.models import Contact, OutboxMessage
from bot.worker.base import JobContext
from bot.worker.integration import retry_messages
from tests.store import rows

PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
PHONE = "+17065550101"
EMAIL = "dana.whitfield@example.com"
TEXT = "JEC: power is back on near Wrens as of 3:05 PM. If you're still out, reply OUT."
TWILIO = Settings(
    twilio_account_sid="AC" + "0" * 32,
    twilio_auth_token="token",
    twilio_from_number="+17065550000",
    public_base_url="https://chat.jec.example",
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def unavailable() -> TwilioRestException:
    return TwilioRestException(503, "/Messages.json", "Service unavailable", 20500)


class ScriptedTwilio:
    """Twilio's REST client, answering each create() with the next scripted outcome: an exception
    to raise, or None to accept (a new SID). `accepted` is what Twilio took."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []
        self.accepted: list[str] = []
        self.messages = self

    def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        sid = f"SM{len(self.calls):032d}"
        self.accepted.append(sid)
        return SimpleNamespace(sid=sid)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_async_engine(db_url)
    try:
        async with session_scope(async_session_factory(engine)) as s:
            dana = await rows.member(s, "M1", "Dana", "Whitfield")
            s.add_all(
                [
                    Contact(member_id=dana.id, kind="phone", value=PHONE, is_primary=True),
                    Contact(member_id=dana.id, kind="email", value=EMAIL, is_primary=True),
                ]
            )
        yield async_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def setup(sessions, http, twilio: ScriptedTwilio, clock: Clock) -> tuple[JobContext, Any]:
    sms = TwilioNotifier(TWILIO, sessions, client=twilio, clock=clock)
    notifier = CompositeNotifier(sms=sms, email=OutboxNotifier(sessions, clock=clock))
    return JobContext(TWILIO, PROFILE, sessions, notifier, http, clock), notifier


async def outbox(sessions) -> list[OutboxMessage]:
    async with sessions() as s:
        return list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_a_failed_text_is_retried_with_backoff_and_sent_once(sessions, http) -> None:
    clock, twilio = Clock(), ScriptedTwilio(unavailable())
    ctx, notifier = setup(sessions, http, twilio, clock)
    first = await notifier.send_sms(PHONE, TEXT)
    assert first.status == "failed"
    assert await retry_messages(ctx) == 0  # not yet: the first retry waits 2 minutes
    clock.advance(minutes=2)
    assert await retry_messages(ctx) == 1
    assert await retry_messages(ctx) == 0
    assert len(twilio.accepted) == 1 and len(twilio.calls) == 2
    (row,) = await outbox(sessions)  # the same row, now sent: one message, one record
    assert (row.status, row.provider_id, row.attempts) == ("sent", twilio.accepted[0], 2)
    # both tries carried the same status callback URL, naming this row
    assert {c["status_callback"] for c in twilio.calls} == {
        f"https://chat.jec.example/sms/twilio/status?outbox={row.id}"
    }


async def test_a_text_that_keeps_failing_is_given_up_and_emailed(sessions, http, db_url):
    clock = Clock()
    twilio = ScriptedTwilio(*[unavailable() for _ in range(10)])
    ctx, notifier = setup(sessions, http, twilio, clock)
    await notifier.send_sms(PHONE, TEXT)
    for minutes in (2, 10, 30):
        clock.advance(minutes=minutes)
        await retry_messages(ctx)
    assert len(twilio.calls) == 4  # the send and three retries
    assert twilio.accepted == []
    text, email = await outbox(sessions)
    assert text.gave_up_at is not None and text.fallback_outbox_id == email.id
    assert (email.channel, email.to) == ("email", EMAIL)
    assert TEXT in email.body and "ending 0101" in email.body
    clock.advance(hours=1)
    await retry_messages(ctx)
    assert len(twilio.calls) == 4 and len(await outbox(sessions)) == 2  # nothing more, ever
    [listed] = undeliverable(db_url)
    assert (listed["to"], listed["messages"], listed["email_copies"]) == (PHONE, 1, 1)
    assert "20500" in str(listed["last_error"])


async def test_a_refused_number_is_not_retried_but_emailed_at_once(sessions, http) -> None:
    clock = Clock()
    invalid = TwilioRestException(400, "/Messages.json", "Invalid 'To' number", 21211)
    twilio = ScriptedTwilio(invalid)
    ctx, notifier = setup(sessions, http, twilio, clock)
    await notifier.send_sms(PHONE, TEXT)
    assert await retry_messages(ctx) == 1  # given up: a 400 will not change
    clock.advance(hours=2)
    await retry_messages(ctx)
    assert len(twilio.calls) == 1
    assert [(m.channel, m.to) for m in await outbox(sessions)] == [("sms", PHONE), ("email", EMAIL)]


async def test_a_retry_after_twilio_accepted_does_not_send_twice(sessions, http) -> None:
    """Our call timed out, but Twilio had taken the text: its status report arrives, and the
    retry job leaves the text alone."""
    clock = Clock()
    twilio = ScriptedTwilio(TimeoutError())
    ctx, notifier = setup(sessions, http, twilio, clock)
    await notifier.send_sms(PHONE, TEXT)
    (row,) = await outbox(sessions)
    assert row.status == "failed" and row.provider_id is None
    async with session_scope(sessions) as s:  # what the gateway does with Twilio's callback
        await record_provider_status(
            s,
            outbox_id=row.id,
            message_sid="SMlate" + "0" * 26,
            status="delivered",
            error_code=None,
            now=clock(),
        )
    clock.advance(minutes=5)
    assert await retry_messages(ctx) == 0
    assert len(twilio.calls) == 1
    (row,) = await outbox(sessions)
    assert (row.status, row.delivery_status) == ("sent", "delivered")


async def test_two_retry_jobs_at_once_send_once(sessions, http, db_url) -> None:
    clock, twilio = Clock(), ScriptedTwilio(unavailable())
    ctx, notifier = setup(sessions, http, twilio, clock)
    await notifier.send_sms(PHONE, TEXT)
    clock.advance(minutes=2)
    engine = make_async_engine(db_url)
    try:
        other, _ = setup(async_session_factory(engine), http, twilio, clock)
        await asyncio.gather(retry_messages(ctx), retry_messages(other))
    finally:
        await engine.dispose()
    assert len(twilio.accepted) == 1 and len(twilio.calls) == 2


async def test_undelivered_after_acceptance_gets_the_email_copy_not_a_resend(sessions, http):
    clock, twilio = Clock(), ScriptedTwilio()
    ctx, notifier = setup(sessions, http, twilio, clock)
    sent = await notifier.send_sms(PHONE, TEXT)
    async with session_scope(sessions) as s:
        await record_provider_status(
            s,
            outbox_id=sent.outbox_id,
            message_sid=sent.provider_id,
            status="undelivered",
            error_code="30003",
            now=clock(),
        )
    assert await retry_messages(ctx) == 1
    assert len(twilio.calls) == 1
    text, email = await outbox(sessions)
    assert (text.delivery_status, text.delivery_error_code) == ("undelivered", "30003")
    assert email.to == EMAIL and text.fallback_outbox_id == email.id


async def test_a_one_time_code_is_never_retried_or_emailed(sessions, http) -> None:
    clock, twilio = Clock(), ScriptedTwilio(unavailable())
    ctx, notifier = setup(sessions, http, twilio, clock)
    code = CodeText(
        "JEC code: 482913. Expires in 10 min.", redacted="JEC code: ******", validity_seconds=600
    )
    await notifier.send_sms(PHONE, code)
    clock.advance(hours=1)
    assert await retry_messages(ctx) == 0
    (row,) = await outbox(sessions)
    assert len(twilio.calls) == 1 and row.body == "JEC code: ******"


async def test_a_report_that_beats_our_timed_out_call_keeps_the_text_sent(
    sessions, http, db_url
) -> None:
    """Twilio's report arrives while our call is still waiting, then the call times out."""
    clock = Clock()
    twilio = ScriptedTwilio(TimeoutError())
    ctx, notifier = setup(sessions, http, twilio, clock)
    original = twilio.create

    def report_then_time_out(**kwargs: Any) -> Any:
        import asyncio as _asyncio

        outbox_id = int(kwargs["status_callback"].rsplit("=", 1)[1])

        async def report() -> None:  # the gateway: another process, its own engine
            engine = make_async_engine(db_url)
            try:
                async with session_scope(async_session_factory(engine)) as s:
                    await record_provider_status(
                        s,
                        outbox_id=outbox_id,
                        message_sid="SMfast" + "0" * 26,
                        status="sent",
                        error_code=None,
                        now=clock(),
                    )
            finally:
                await engine.dispose()

        _asyncio.run(report())  # in the worker thread, as the gateway would meanwhile
        return original(**kwargs)

    twilio.messages = SimpleNamespace(create=report_then_time_out)
    result = await notifier.send_sms(PHONE, TEXT)
    assert result.status == "failed"  # what our call saw
    (row,) = await outbox(sessions)
    assert (row.status, row.provider_id) == ("sent", "SMfast" + "0" * 26)
    clock.advance(hours=1)
    assert await retry_messages(ctx) == 0 and len(twilio.calls) == 1
