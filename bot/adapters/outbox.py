"""The outbox table: every text and email the assistant sends is recorded there, whatever the
provider (status `outbox` when no provider is configured, `sent` with the provider's id, or
`failed` with the reason), so IT staff and demo users can always see what was sent
(`jecbot outbox`). `OutboxNotifier` is the embedded default: nothing leaves the machine.

A one-time code text (`bot.services.otp.CodeText`) is kept only in its redacted form
("JEC code: ******") whenever the row is a record of something a provider delivered or refused;
only the provider gets the code. In the local outbox (status `outbox`) the row is the delivery
itself, the member's phone of the embedded demo, so it holds the text as sent."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TextIO

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.gsm7 import straighten
from bot.services.notify import DeliveryResult, OptOutCheck, sms_problem
from bot.services.otp import CodeText, stored_text
from bot.store.db import make_sync_engine, session_scope, sync_session_factory
from bot.store.models import OutboxMessage
from bot.store.types import utcnow

Clock = Callable[[], datetime]


class OutboxWriter:
    """Writes outbox rows and applies the SMS rules; the base of every notifier here."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_opted_out: OptOutCheck | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._factory = session_factory
        self._is_opted_out = is_opted_out
        self._clock = clock

    async def _record(
        self,
        *,
        channel: str,
        to: str,
        body: str,
        status: str,
        subject: str | None = None,
        provider_id: str | None = None,
        error: str | None = None,
        retryable: bool = False,
    ) -> int:
        now = self._clock()
        async with session_scope(self._factory) as session:
            row = OutboxMessage(
                channel=channel,
                to=to,
                subject=subject,
                body=body if status == "outbox" else stored_text(body),
                status=status,
                provider_id=provider_id,
                error=(error or None) and error[:200],
                created_at=now,
                sent_at=now if status == "sent" else None,
                retryable=retryable,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def _update(self, outbox_id: int, **values: object) -> None:
        """Change one outbox row (the result of a provider call made for it)."""
        async with session_scope(self._factory) as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values)
            )

    async def _sent(self, outbox_id: int, provider_id: str | None) -> DeliveryResult:
        now = self._clock()
        await self._update(
            outbox_id,
            status="sent",
            provider_id=provider_id,
            sent_at=now,
            error=None,
            next_attempt_at=None,
            lease_until=None,
        )
        return DeliveryResult("sent", outbox_id=outbox_id, provider_id=provider_id)

    async def _failed(
        self, outbox_id: int, exc: BaseException, *, retryable: bool, attempts: int
    ) -> DeliveryResult:
        """Record a provider failure; a transient one of a message that may be sent again
        (`retryable`: not a one-time code) gets its next try (`bot.adapters.delivery`)."""
        error = provider_error(exc)
        transient = retryable and transient_failure(exc)
        async with session_scope(self._factory) as session:
            await session.execute(
                update(OutboxMessage)
                # a delivery report already in (our call timed out after Twilio took the text)
                # proves it was accepted: the row stays sent
                .where(OutboxMessage.id == outbox_id, OutboxMessage.delivery_status.is_(None))
                .values(
                    status="failed",
                    error=error,
                    retryable=retryable,
                    lease_until=None,
                    next_attempt_at=self._clock() + retry_delay(attempts) if transient else None,
                )
            )
        return DeliveryResult("failed", outbox_id=outbox_id, error=error)

    async def _screen_sms(self, to_e164: str, body: str) -> tuple[str, DeliveryResult | None]:
        """The body to send, or a refusal (recorded as a failed outbox row)."""
        code = body if isinstance(body, CodeText) else None
        body = straighten(body)
        if code is not None:  # keep the redacted form and validity with the straightened text
            body = CodeText(
                body,
                redacted=straighten(code.redacted),
                validity_seconds=code.validity_seconds,
            )
        problem = sms_problem(body)
        if problem:
            oid = await self._record(
                channel="sms", to=to_e164, body=body, status="failed", error=f"rejected: {problem}"
            )
            return body, DeliveryResult("rejected", outbox_id=oid, error=problem)
        if self._is_opted_out is not None and await self._is_opted_out(to_e164):
            oid = await self._record(
                channel="sms",
                to=to_e164,
                body=body,
                status="failed",
                error="number opted out (STOP); not sent",
            )
            return body, DeliveryResult("opted_out", outbox_id=oid, error="opted out")
        return body, None

    async def _to_outbox_sms(self, to_e164: str, body: str) -> DeliveryResult:
        body, refused = await self._screen_sms(to_e164, body)
        if refused:
            return refused
        return DeliveryResult(
            "outbox",
            outbox_id=await self._record(channel="sms", to=to_e164, body=body, status="outbox"),
        )

    async def _to_outbox_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        oid = await self._record(
            channel="email", to=to, subject=subject, body=body, status="outbox"
        )
        return DeliveryResult("outbox", outbox_id=oid)


class OutboxNotifier(OutboxWriter):
    """The embedded default: nothing leaves the machine; `jecbot outbox` shows the messages."""

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self._to_outbox_sms(to_e164, body)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self._to_outbox_email(to, subject, body)


RETRY_DELAYS = (timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first send and three retries


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed provider call. The first wait is long enough for a
    Twilio status callback to arrive if a timed-out send was accepted after all."""
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


def transient_failure(exc: BaseException) -> bool:
    """Worth another try: timeouts, network errors, 429 and 5xx. A 4xx refusal (bad or
    unsubscribed number, bad sender) and an SMTP 5xx refusal of the recipient are not."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    smtp_code = getattr(exc, "smtp_code", None)
    if isinstance(smtp_code, int):
        return 400 <= smtp_code < 500
    if getattr(exc, "recipients", None):  # smtplib.SMTPRecipientsRefused
        return False
    return True


def provider_error(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return (f"{code}: {text}" if code else f"{type(exc).__name__}: {text}")[:200]


def print_outbox(
    database_url: str, limit: int = 20, to: str | None = None, file: TextIO | None = None
) -> None:
    """Print the newest outbox messages first: a header line per message, then its text indented."""
    out = file or sys.stdout
    engine = make_sync_engine(database_url)
    try:
        with sync_session_factory(engine)() as session:
            query = select(OutboxMessage)
            if to:
                query = query.where(OutboxMessage.to == to)
            rows = session.scalars(
                query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(
                    limit
                )
            ).all()
    finally:
        engine.dispose()
    if not rows:
        print("The outbox is empty." if not to else f"No messages to {to}.", file=out)
        return
    print(f"{'#':>5}  {'when (UTC)':<19}  {'via':<5}  {'to':<28}  status", file=out)
    for row in rows:
        when = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
        status = row.status + (f" ({row.error})" if row.error else "")
        print(f"{row.id:>5}  {when:<19}  {row.channel:<5}  {row.to:<28}  {status}", file=out)
        if row.subject:
            print(f"       Subject: {row.subject}", file=out)
        for line in row.body.splitlines() or [""]:
            print(f"       {line}", file=out)
