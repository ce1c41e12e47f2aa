"""Outbound texts and emails: Twilio and SMTP when configured, else the local outbox table.

Every message, whatever the provider, is written to the `outbox` table (status `outbox` when no
provider is configured, `sent` with the provider's id, or `failed` with the reason), so IT staff
and demo users can always see what the assistant sent (`jecbot outbox`).

Rules enforced here, not by callers:
- An SMS body is GSM-7 and at most 320 characters (extension characters such as `{` count as
  two). Curly quotes and dashes from profile text are straightened first; anything else that is
  not GSM-7, or a body that is too long, is refused (`status="rejected"`), never sent as UCS-2.
- A number that opted out (STOP) is never texted: every notifier takes an `is_opted_out(phone)`
  hook, provided by the gateway, and refuses (`status="opted_out"`).
- Provider calls are blocking libraries (twilio, smtplib): they run in `asyncio.to_thread` with a
  timeout, so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import smtplib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.services.checks import gsm7_length, is_gsm7
from bot.store.db import make_sync_engine, session_scope, sync_session_factory
from bot.store.models import OutboxMessage
from bot.store.types import utcnow

SMS_MAX_CHARS = 320

OptOutCheck = Callable[[str], Awaitable[bool]]
Clock = Callable[[], datetime]

# The GSM-7 alphabet lives in bot.services.checks; these names stay for existing importers.
# Note: notifier's `gsm7_safe` is a yes/no test (checks.is_gsm7), unlike checks.gsm7_safe, which rewrites.
gsm7_safe = is_gsm7
_STRAIGHTEN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\t": " ",
    }
)


def to_gsm7(text: str) -> str:
    """Straighten typographic quotes, dashes and ellipses that creep in from profile text."""
    return text.translate(_STRAIGHTEN)


def sms_problem(body: str) -> str | None:
    """Why `body` may not be texted, or None if it is fine (GSM-7, 1-320 characters)."""
    if not body.strip():
        return "empty message"
    bad = sorted({ch for ch in body if not is_gsm7(ch)})
    if bad:
        return "not GSM-7: " + " ".join(f"U+{ord(ch):04X}" for ch in bad)
    if gsm7_length(body) > SMS_MAX_CHARS:
        return f"{gsm7_length(body)} characters, more than {SMS_MAX_CHARS}"
    return None


def mask_phone(e164: str) -> str:
    """`+17065550101` -> `***-***-0101`."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"


def mask_email(address: str) -> str:
    """`dana.whitfield@example.com` -> `d***@example.com`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message. `ok` is True for sent and for the local outbox."""

    status: str  # sent | outbox | failed | opted_out | rejected
    outbox_id: int | None = None
    provider_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "outbox")


class Notifier(Protocol):
    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult: ...

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult: ...


# ---------------------------------------------------------------- shared bookkeeping


class _OutboxWriter:
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
    ) -> int:
        now = self._clock()
        async with session_scope(self._factory) as session:
            row = OutboxMessage(
                channel=channel,
                to=to,
                subject=subject,
                body=body,
                status=status,
                provider_id=provider_id,
                error=(error or None) and error[:200],
                created_at=now,
                sent_at=now if status == "sent" else None,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def _screen_sms(self, to_e164: str, body: str) -> tuple[str, DeliveryResult | None]:
        """The body to send, or a refusal (recorded as a failed outbox row)."""
        body = to_gsm7(body)
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


class OutboxNotifier(_OutboxWriter):
    """The embedded default: nothing leaves the machine; `jecbot outbox` shows the messages."""

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self._to_outbox_sms(to_e164, body)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self._to_outbox_email(to, subject, body)


# ---------------------------------------------------------------- providers


class TwilioNotifier(_OutboxWriter):
    """Texts through Twilio's REST API. Emails are not Twilio's job: they go to the outbox.

    `client` is a `twilio.rest.Client` (built from settings when not given; tests pass a fake).
    """

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_opted_out: OptOutCheck | None = None,
        client: Any = None,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(session_factory, is_opted_out=is_opted_out, clock=clock)
        self._from = settings.twilio_from_number
        self._timeout = settings.http_timeout_seconds
        self._client = client if client is not None else self._make_client(settings)

    @staticmethod
    def _make_client(settings: Settings) -> Any:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        return Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=TwilioHttpClient(timeout=settings.http_timeout_seconds),
        )

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        body, refused = await self._screen_sms(to_e164, body)
        if refused:
            return refused
        try:
            message = await asyncio.wait_for(
                asyncio.to_thread(
                    self._client.messages.create, to=to_e164, from_=self._from, body=body
                ),
                timeout=self._timeout + 1,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the result, never raised into a chat
            error = _provider_error(exc)
            oid = await self._record(
                channel="sms", to=to_e164, body=body, status="failed", error=error
            )
            return DeliveryResult("failed", outbox_id=oid, error=error)
        sid = str(getattr(message, "sid", "") or "") or None
        oid = await self._record(
            channel="sms", to=to_e164, body=body, status="sent", provider_id=sid
        )
        return DeliveryResult("sent", outbox_id=oid, provider_id=sid)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self._to_outbox_email(to, subject, body)


class SmtpNotifier(_OutboxWriter):
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

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send_blocking, message),
                timeout=self._settings.http_timeout_seconds + 1,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the result, never raised into a chat
            error = _provider_error(exc)
            oid = await self._record(
                channel="email", to=to, subject=subject, body=body, status="failed", error=error
            )
            return DeliveryResult("failed", outbox_id=oid, error=error)
        oid = await self._record(channel="email", to=to, subject=subject, body=body, status="sent")
        return DeliveryResult("sent", outbox_id=oid)

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self._to_outbox_sms(to_e164, body)


class CompositeNotifier:
    """Texts through one notifier, emails through another."""

    def __init__(self, sms: Notifier, email: Notifier) -> None:
        self.sms = sms
        self.email = email

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self.sms.send_sms(to_e164, body)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self.email.send_email(to, subject, body)


def build_notifier(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    is_opted_out: OptOutCheck | None = None,
) -> CompositeNotifier:
    """Twilio for texts and SMTP for email where configured; the local outbox otherwise."""
    outbox = OutboxNotifier(session_factory, is_opted_out=is_opted_out)
    sms: Notifier = (
        TwilioNotifier(settings, session_factory, is_opted_out=is_opted_out)
        if settings.twilio_configured
        else outbox
    )
    email: Notifier = (
        SmtpNotifier(settings, session_factory, is_opted_out=is_opted_out)
        if settings.smtp_configured
        else outbox
    )
    return CompositeNotifier(sms=sms, email=email)


def _provider_error(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return (f"{code}: {text}" if code else f"{type(exc).__name__}: {text}")[:200]


# ---------------------------------------------------------------- `jecbot outbox`


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
