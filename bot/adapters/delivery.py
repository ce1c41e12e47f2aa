"""Delivery that keeps trying: failed texts and emails sent again with backoff, Twilio's delivery
reports recorded against the message, and the email copy for a member whose text kept failing.

The rules, in the order the retry job (`retry_messages`) applies them:

- A provider failure worth another try (timeout, network, 429, 5xx) of a message that may be sent
  again (anything but a one-time code) gets `next_attempt_at` (`bot.adapters.outbox.retry_delay`:
  2, 10, 30 minutes). The job claims a due row with a conditional UPDATE (a lease), so with two
  workers exactly one sends it, and sends it with the same outbox row: the same status callback
  URL for a text, the same Message-ID for an email.
- Never twice what the provider accepted: a row with a provider id, or with a Twilio status
  report (which arrives only for a text Twilio accepted, even when our call timed out), is never
  sent again. The first wait (2 minutes) gives a late report time to arrive.
- A text that failed for good (a 4xx refusal, `MAX_ATTEMPTS` tries, or Twilio reporting it
  `undelivered`/`failed` after accepting it) is given up once (`gave_up_at`, claimed by UPDATE);
  when the member with that phone has an email on file, the same words go there
  (`fallback_outbox_id`). Given-up contacts are listed by `jecbot undeliverable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.outbox import MAX_ATTEMPTS
from bot.services.notify import Notifier
from bot.store.db import session_scope
from bot.store.models import Contact, OutboxMessage

LEASE = timedelta(minutes=5)
# Twilio's final statuses of a text it accepted but the carrier did not deliver.
FAILED_AFTER_ACCEPT = ("undelivered", "failed")
BATCH = 50


async def record_provider_status(
    session: AsyncSession,
    *,
    outbox_id: int | None,
    message_sid: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> int | None:
    """Record a Twilio status report against the text it is about (by the `outbox` id in the
    callback URL, or by the message SID). A report proves Twilio accepted the text: a row our
    call had marked failed (a timeout) becomes sent and is never sent again. Returns the row id."""
    where = (
        OutboxMessage.id == outbox_id
        if outbox_id is not None
        else OutboxMessage.provider_id == message_sid
    )
    row = await session.scalar(select(OutboxMessage).where(where, OutboxMessage.channel == "sms"))
    if row is None:
        return None
    if row.provider_id and row.provider_id != message_sid:
        return None  # a report about another message: not this row's
    row.provider_id = row.provider_id or message_sid
    row.delivery_status = status
    row.delivery_error_code = error_code
    row.delivery_updated_at = now
    if row.status in ("failed", "sending"):
        row.status, row.error, row.next_attempt_at = "sent", None, None
        row.sent_at = row.sent_at or now
    await session.flush()
    return row.id


@dataclass(frozen=True)
class RetryReport:
    retried: int = 0
    sent: int = 0
    gave_up: int = 0
    email_copies: int = 0

    @property
    def total(self) -> int:
        return self.retried + self.gave_up


def _free(now: datetime) -> Any:
    return or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)


async def _claim(
    sessions: async_sessionmaker[AsyncSession], ids: Sequence[int], condition: Any, values: dict
) -> list[int]:
    claimed = []
    for oid in ids:
        async with session_scope(sessions) as session:
            result = await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == oid, condition).values(**values)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(oid)
    return claimed


def _due_retry(now: datetime) -> Any:
    return and_(
        OutboxMessage.status.in_(("failed", "sending")),
        OutboxMessage.retryable.is_(True),
        OutboxMessage.gave_up_at.is_(None),
        OutboxMessage.provider_id.is_(None),
        OutboxMessage.delivery_status.is_(None),
        OutboxMessage.next_attempt_at.is_not(None),
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.attempts < MAX_ATTEMPTS,
        _free(now),
    )


def _given_up(now: datetime) -> Any:
    """Texts that failed for good and were not handled yet."""
    failed_for_good = and_(
        OutboxMessage.status == "failed",
        OutboxMessage.provider_id.is_(None),
        OutboxMessage.delivery_status.is_(None),
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.attempts >= MAX_ATTEMPTS),
    )
    failed_after_accept = and_(
        OutboxMessage.status == "sent", OutboxMessage.delivery_status.in_(FAILED_AFTER_ACCEPT)
    )
    return and_(
        OutboxMessage.retryable.is_(True),
        OutboxMessage.gave_up_at.is_(None),
        or_(failed_for_good, failed_after_accept),
        _free(now),
    )


async def _email_for_phone(session: AsyncSession, phone: str) -> str | None:
    """The primary email of the member with this phone on file (one member only), or None."""
    members = (
        await session.scalars(
            select(Contact.member_id).where(Contact.kind == "phone", Contact.value == phone)
        )
    ).all()
    if len(set(members)) != 1:
        return None  # unknown, or shared by several members: no guessing whose email it is
    return await session.scalar(
        select(Contact.value)
        .where(Contact.member_id == members[0], Contact.kind == "email")
        .order_by(Contact.is_primary.desc(), Contact.is_verified.desc(), Contact.id)
        .limit(1)
    )


async def retry_messages(
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    clock: Callable[[], datetime],
    *,
    coop_name: str,
) -> RetryReport:
    """One pass: send the due retries, then give up on the texts that failed for good (with the
    email copy where the member has an email)."""
    now = clock()
    retried = sent = gave_up = copies = 0
    resend = getattr(notifier, "resend", None)
    async with sessions() as session:
        due = (
            await session.scalars(
                select(OutboxMessage.id)
                .where(_due_retry(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(BATCH)
            )
        ).all()
    if resend is not None:
        for candidate in due:  # claimed one at a time, just before its send: the lease outlives it
            now = clock()
            if not await _claim(
                sessions, [candidate], _due_retry(now), {"lease_until": now + LEASE}
            ):
                continue
            oid = candidate
            async with sessions() as session:
                row = await session.get(OutboxMessage, oid)
            if row is None:
                continue
            result = await resend(row)
            if result.status == "outbox":  # no provider for this channel any more: give it up
                async with session_scope(sessions) as session:
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == oid)
                        .values(next_attempt_at=None, lease_until=None)
                    )
                continue
            retried += 1
            sent += int(result.status == "sent")
    now = clock()
    async with sessions() as session:
        done = (
            await session.scalars(
                select(OutboxMessage.id)
                .where(_given_up(now))
                .order_by(OutboxMessage.id)
                .limit(BATCH)
            )
        ).all()
    for oid in await _claim(sessions, done, _given_up(now), {"gave_up_at": now}):
        gave_up += 1
        async with sessions() as session:
            row = await session.get(OutboxMessage, oid)
            email = (
                await _email_for_phone(session, row.to) if row and row.channel == "sms" else None
            )
        if row is None or email is None:
            continue
        result = await notifier.send_email(
            email,
            f"{coop_name}: a text we could not deliver",
            f"We could not deliver this text to your phone ending {row.to[-4:]}, so here it is "
            f"by email:\n\n{row.body}\n",
        )
        if result.outbox_id is not None:
            async with session_scope(sessions) as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == oid)
                    .values(fallback_outbox_id=result.outbox_id)
                )
        copies += int(result.ok)
    return RetryReport(retried, sent, gave_up, copies)
