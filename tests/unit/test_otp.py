"""One-time codes: hashed, short-lived, few tries, single use; resend retires the old code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.adapters.outbox import OutboxNotifier
from bot.profile import load_profile
from bot.services.notify import DeliveryResult
from bot.services.otp import OtpRules, OtpService, OtpStatus, SendStatus
from bot.store.db import session_scope
from bot.store.models import OneTimeCode, OutboxMessage
from tests.store import rows

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
PHONE = "+17065550101"


class RecordingNotifier:
    """Keeps what would have been sent so the test can read the code like a member would."""

    def __init__(self, fail: bool = False) -> None:
        self.sms: list[tuple[str, str]] = []
        self.emails: list[tuple[str, str, str]] = []
        self.fail = fail

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.sms.append((to_e164, body))
        return DeliveryResult("failed", error="boom") if self.fail else DeliveryResult("outbox")

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.emails.append((to, subject, body))
        return DeliveryResult("outbox")

    def last_code(self) -> str:
        body = (self.sms or [("", "")])[-1][1] if self.sms else self.emails[-1][2]
        return re.search(r"code: (\d{6})", body).group(1)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def otp(session_factory, notifier) -> OtpService:
    return OtpService(session_factory, OtpRules(), notifier)


async def send(
    otp: OtpService, conv: str = "c1", now: datetime = NOW, purpose: str = "confirm_tier"
):
    return await otp.send(
        conversation_id=conv,
        account_id=None,
        purpose=purpose,
        destination=PHONE,
        channel="sms",
        now=now,
    )


async def check(
    otp: OtpService, code: str, conv: str = "c1", now: datetime = NOW, purpose: str = "confirm_tier"
):
    return await otp.check(conversation_id=conv, purpose=purpose, code=code, now=now)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_send_texts_a_six_digit_code_and_masks_the_destination(otp, notifier) -> None:
    sent = await send(otp)
    assert sent.ok and sent.status is SendStatus.SENT
    assert sent.masked_destination == "***-***-0101"
    assert sent.expires_at == NOW + timedelta(minutes=10)
    ((to, body),) = notifier.sms
    assert to == PHONE
    assert re.fullmatch(r"JEC code: \d{6}\. Never share it\. Expires in 10 min\.", body)


async def test_code_is_stored_only_as_a_salted_hash(otp, notifier, session_factory) -> None:
    await send(otp)
    await send(otp, conv="c2")
    code = notifier.last_code()
    async with session_factory() as s:
        rows = (await s.scalars(select(OneTimeCode))).all()
    assert len(rows) == 2 and rows[0].salt != rows[1].salt
    for row in rows:
        assert code not in row.code_hash and code not in row.salt and code not in row.destination
        assert row.destination == "***-***-0101"


async def test_right_code_confirms_once(otp, notifier) -> None:
    await otp.send(
        conversation_id="c1",
        account_id=None,
        purpose="confirm_tier",
        destination=PHONE,
        channel="sms",
        now=NOW,
    )
    code = notifier.last_code()
    ok = await check(otp, f"{code[:3]} {code[3:]}", now=NOW + timedelta(minutes=9))
    assert ok.ok
    again = await check(otp, code, now=NOW + timedelta(minutes=9))
    assert again.status is OtpStatus.NONE_PENDING


async def test_code_expires_at_ten_minutes(otp, notifier) -> None:
    await send(otp)
    code = notifier.last_code()
    assert (await check(otp, code, now=NOW + timedelta(minutes=10))).status is OtpStatus.EXPIRED


async def test_five_wrong_tries_use_up_the_code(otp, notifier) -> None:
    await send(otp)
    code = notifier.last_code()
    lefts = [(await check(otp, wrong(code))).attempts_left for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    fifth = await check(otp, wrong(code))
    assert fifth.status is OtpStatus.TOO_MANY_ATTEMPTS
    assert (await check(otp, code)).status is OtpStatus.TOO_MANY_ATTEMPTS


async def test_non_code_answers_are_not_counted(otp, notifier) -> None:
    await send(otp)
    code = notifier.last_code()
    for answer in ["yes", "12345", "1234567"]:
        r = await check(otp, answer)
        assert r.status is OtpStatus.MALFORMED and r.attempts_left == 5
    assert (await check(otp, code)).ok


async def test_resend_invalidates_the_earlier_code(otp, notifier, monkeypatch) -> None:
    digits = iter("111111" + "222222")
    monkeypatch.setattr("bot.services.otp.secrets.choice", lambda _alphabet: next(digits))
    await send(otp)
    await send(otp, now=NOW + timedelta(minutes=1))
    assert [body[10:16] for _, body in notifier.sms] == ["111111", "222222"]
    assert (await check(otp, "111111", now=NOW + timedelta(minutes=2))).status is OtpStatus.WRONG
    assert (await check(otp, "222222", now=NOW + timedelta(minutes=2))).ok


async def test_codes_are_per_conversation_and_purpose(otp, notifier) -> None:
    await send(otp, conv="c1", purpose="contact_change")
    code = notifier.last_code()
    assert (
        await check(otp, code, conv="c2", purpose="contact_change")
    ).status is OtpStatus.NONE_PENDING
    assert (
        await check(otp, code, conv="c1", purpose="confirm_tier")
    ).status is OtpStatus.NONE_PENDING
    assert (await check(otp, code, conv="c1", purpose="contact_change")).ok


async def test_sends_are_rate_limited(otp, notifier) -> None:
    for minute in range(3):
        assert (await send(otp, now=NOW + timedelta(minutes=minute))).ok
    fourth = await send(otp, now=NOW + timedelta(minutes=3))
    assert fourth.status is SendStatus.RATE_LIMITED and not fourth.ok
    assert fourth.retry_after == NOW + timedelta(minutes=10)
    assert len(notifier.sms) == 3
    assert (await send(otp, now=NOW + timedelta(minutes=10))).ok


async def test_email_destination_is_masked(session_factory, notifier) -> None:
    async with session_scope(session_factory) as s:
        member = await rows.member(s, "M1", "Dana", "Whitfield")
        account = rows.account(member, "1000004821")
        s.add(account)
        await s.flush()
        account_id = account.id
    otp = OtpService(session_factory, OtpRules(), notifier)
    sent = await otp.send(
        conversation_id="c1",
        account_id=account_id,
        purpose="contact_change",
        destination="dana.whitfield@example.com",
        channel="email",
        now=NOW,
    )
    assert sent.masked_destination == "d***@example.com"
    to, subject, _body = notifier.emails[0]
    assert to == "dana.whitfield@example.com" and "JEC" in subject
    r = await check(otp, notifier.last_code(), purpose="contact_change")
    assert r.ok and r.account_id == account_id


async def test_failed_delivery_retires_the_code(session_factory) -> None:
    failing = RecordingNotifier(fail=True)
    otp = OtpService(session_factory, OtpRules(), failing)
    sent = await send(otp)
    assert sent.status is SendStatus.FAILED
    assert (await check(otp, failing.last_code())).status is OtpStatus.NONE_PENDING


async def test_works_with_the_outbox_notifier(session_factory) -> None:
    otp = OtpService(session_factory, OtpRules(), OutboxNotifier(session_factory))
    await send(otp)
    async with session_factory() as s:
        (msg,) = (await s.scalars(select(OutboxMessage))).all()
    code = re.search(r"\d{6}", msg.body).group(0)
    assert (await check(otp, code)).ok


def test_rules_from_the_jec_profile() -> None:
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "jec.yml")
    rules = OtpRules.from_profile(profile)
    assert (rules.length, rules.ttl, rules.max_attempts, rules.short_name) == (
        6,
        timedelta(minutes=10),
        5,
        "JEC",
    )


async def test_send_and_check_on_sqlite_and_postgresql(db_url) -> None:
    """The row lock taken while checking a code works on PostgreSQL as well as SQLite."""
    from bot.store.db import async_session_factory, make_async_engine

    engine = make_async_engine(db_url)
    try:
        factory = async_session_factory(engine)
        notifier = RecordingNotifier()
        otp = OtpService(factory, OtpRules(), notifier)
        await send(otp, conv="pg")
        code = notifier.last_code()
        assert (await check(otp, wrong(code), conv="pg")).attempts_left == 4
        assert (await check(otp, code, conv="pg")).ok
        assert (await check(otp, code, conv="pg")).status is OtpStatus.NONE_PENDING
    finally:
        await engine.dispose()


async def test_the_code_text_carries_its_redacted_form_and_validity(otp, notifier) -> None:
    from bot.services.otp import CodeText

    await send(otp)
    ((_to, body),) = notifier.sms
    assert isinstance(body, CodeText)
    assert body.redacted == "JEC code: ******. Never share it. Expires in 10 min."
    assert body.validity_seconds == 600
