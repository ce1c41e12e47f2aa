"""Emails through SMTP (STARTTLS when offered, SSL on port 465); texts go to the outbox.

smtplib is blocking: each send runs in `asyncio.to_thread` with a timeout.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.outbox import Clock, OutboxWriter
from bot.config import Settings
from bot.services.notify import DeliveryResult, OptOutCheck
from bot.services.otp import CodeText
from bot.store.types import utcnow


class SmtpNotifier(OutboxWriter):
    """Emails through SMTP (STARTTLS when offered, SSL on port 465). Texts go to the outbox.

    `smtp_factory(host, port, timeout=...)` returns an `smtplib.SMTP`-like object (tests: a fake).
    """

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_opted_out: OptOutCheck | None = None,
        smtp_factory: Callable[..., Any] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(session_factory, is_opted_out=is_opted_out, clock=clock)
        self._settings = settings
        self._factory_smtp = smtp_factory or (
            smtplib.SMTP_SSL if settings.smtp_port == 465 else smtplib.SMTP
        )

    def _send_blocking(self, message: EmailMessage) -> None:
        s = self._settings
        with self._factory_smtp(s.smtp_host, s.smtp_port, timeout=s.http_timeout_seconds) as smtp:
            if s.smtp_port != 465:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message)

    def _message_id(self, outbox_id: int) -> str:
        domain = self._settings.smtp_from.rpartition("@")[2].strip("> ") or "localhost"
        return f"<jec-outbox-{outbox_id}@{domain}>"

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        oid = await self._record(
            channel="email",
            to=to,
            subject=subject,
            body=body,
            status="sending",
            retryable=not isinstance(body, CodeText),
        )
        return await self._attempt(oid, to, subject, body, attempts=0)

    async def resend(
        self, outbox_id: int, to: str, subject: str, body: str, attempts: int
    ) -> DeliveryResult:
        """Try a failed email again, with the same Message-ID (the retry job claimed the row)."""
        return await self._attempt(outbox_id, to, subject, body, attempts=attempts)

    async def _attempt(
        self, oid: int, to: str, subject: str, body: str, *, attempts: int
    ) -> DeliveryResult:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        # The same Message-ID on every try of this row: a mail system that did get an earlier try
        # treats a resend as the same message.
        message["Message-ID"] = self._message_id(oid)
        message.set_content(str(body))
        await self._update(oid, attempts=attempts + 1)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send_blocking, message),
                timeout=self._settings.http_timeout_seconds + 1,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the result, never raised into a chat
            return await self._failed(
                oid, exc, retryable=not isinstance(body, CodeText), attempts=attempts + 1
            )
        return await self._sent(oid, None)

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self._to_outbox_sms(to_e164, body)
