"""Issue 12 item 7: one-time code sends and wrong guesses are limited per destination and per
account, not only per conversation, then locked with an audit entry."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.actions.identity.confirm import ValidateConfirmForm
from bot.actions.identity.questions import ActionAskOtpCode
from bot.store.models import Account, AuditEntry, OutboxMessage
from tests.actions.identity_helpers import (
    DANA_ACCOUNT,
    DANA_PHONE,
    make_tracker,
    run,
    verified_slots,
)


async def dana(factory) -> tuple[int, int]:
    async with factory() as session:
        account = await session.scalar(
            select(Account).where(Account.account_number == DANA_ACCOUNT)
        )
        return account.member_id, account.id


async def texts_to(factory, phone: str) -> list[str]:
    async with factory() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxMessage.body)
                    .where(OutboxMessage.to == phone, OutboxMessage.status == "outbox")
                    .order_by(OutboxMessage.id)
                )
            ).all()
        )


async def audit_count(factory, action: str) -> int:
    async with factory() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
        )


async def ask_for_code(conversation: str, slots) -> list[str]:
    tracker = make_tracker(
        text="pay my bill", slots=slots, sender_id=conversation, active_loop="confirm_form"
    )
    texts, _, _ = await run(ActionAskOtpCode(), tracker)
    return texts


async def answer_code(conversation: str, slots, code: str) -> tuple[list[str], dict]:
    tracker = make_tracker(
        text=code,
        slots=slots,
        new_slots={"otp_code": code},
        sender_id=conversation,
        active_loop="confirm_form",
    )
    texts, _, set_slots = await run(ValidateConfirmForm(), tracker)
    return texts, set_slots


async def test_thirty_codes_to_one_phone_from_ten_conversations_are_refused(
    demo_deps, session_factory
) -> None:
    member_id, account_id = await dana(session_factory)
    slots = verified_slots(member_id, account_id, "Dana", "4821")
    answers = []
    for conversation in range(10):  # each conversation asks three times, within a minute
        for _ in range(3):
            answers += await ask_for_code(f"flood-{conversation}", slots)
    assert len(await texts_to(session_factory, DANA_PHONE)) == 5
    refused = [a for a in answers if "code" in a and "I'll text" not in a]
    assert len(refused) == 25
    assert await audit_count(session_factory, "otp.locked") == 1


async def test_ten_wrong_codes_across_conversations_lock_the_account(
    demo_deps, session_factory
) -> None:
    member_id, account_id = await dana(session_factory)
    slots = verified_slots(member_id, account_id, "Dana", "4821")
    for conversation, wrong_guesses in (("g-1", 4), ("g-2", 4), ("g-3", 2)):
        await ask_for_code(conversation, slots)
        code = re.search(r"code: (\d{6})", (await texts_to(session_factory, DANA_PHONE))[-1])[1]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(wrong_guesses):
            await answer_code(conversation, slots, wrong)
    # The tenth wrong guess locked codes for this account: even the right code is refused...
    texts, set_slots = await answer_code("g-3", slots, code)
    assert set_slots.get("tier") is None and "(706) 547-2167" in texts[0]
    assert await audit_count(session_factory, "otp.locked") == 1
    # ...and no new code is sent from a fresh conversation.
    before = len(await texts_to(session_factory, DANA_PHONE))
    texts = await ask_for_code("g-4", slots)
    assert len(await texts_to(session_factory, DANA_PHONE)) == before
    assert "(706) 547-2167" in texts[0]


async def test_destination_limits_on_sqlite_and_postgresql(db_url) -> None:
    """The per-destination counts, guess sums and locks agree on both databases."""
    from datetime import UTC, datetime, timedelta

    from bot.services.notify import DeliveryResult
    from bot.services.otp import OtpRules, OtpService, OtpStatus, SendStatus
    from bot.store.db import async_session_factory, make_async_engine

    class Phone:
        def __init__(self) -> None:
            self.texts: list[str] = []

        async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
            self.texts.append(str(body))
            return DeliveryResult("outbox")

        async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
            raise AssertionError("no email here")

    now = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    engine = make_async_engine(db_url)
    try:
        phone = Phone()
        otp = OtpService(async_session_factory(engine), OtpRules(), phone, secret_key="k" * 40)

        async def send(conversation: str, at: datetime):
            return await otp.send(
                conversation_id=conversation,
                account_id=None,
                purpose="confirm",
                destination="+17065550101",
                channel="sms",
                now=at,
            )

        statuses = [(await send(f"c{i}", now)).status for i in range(7)]
        assert statuses == [SendStatus.SENT] * 5 + [SendStatus.RATE_LIMITED] * 2
        later = now + timedelta(hours=1, seconds=1)
        assert (await send("c9", later)).ok  # the hour passed
        code = re.search(r"code: (\d{6})", phone.texts[-1])[1]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(4):
            await otp.check(conversation_id="c9", purpose="confirm", code=wrong, now=later)
        assert (
            await otp.check(conversation_id="c9", purpose="confirm", code=code, now=later)
        ).status is OtpStatus.OK
    finally:
        await engine.dispose()
