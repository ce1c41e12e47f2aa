"""The notifier a process uses: Twilio for texts and SMTP for email where configured, the local
outbox otherwise. Built once per process by its container (`ActionDeps`, the gateway's state)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.outbox import OutboxNotifier
from bot.adapters.smtp_email import SmtpNotifier
from bot.adapters.twilio_sms import TwilioNotifier
from bot.config import Settings
from bot.services.notify import DeliveryResult, Notifier, OptOutCheck
from bot.store.models import OutboxMessage


class CompositeNotifier:
    """Texts through one notifier, emails through another."""

    def __init__(self, sms: Notifier, email: Notifier) -> None:
        self.sms = sms
        self.email = email

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        return await self.sms.send_sms(to_e164, body)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self.email.send_email(to, subject, body)

    async def resend(self, row: OutboxMessage) -> DeliveryResult:
        """Send a failed outbox row again through the provider of its channel (the retry job,
        bot/adapters/delivery.py, claimed it). A channel with no provider has nothing to retry."""
        if row.channel == "sms":
            resend_sms = getattr(self.sms, "resend", None)
            if resend_sms is not None:
                return await resend_sms(row.id, row.to, row.body, row.attempts)
        else:
            resend_email = getattr(self.email, "resend", None)
            if resend_email is not None:
                return await resend_email(row.id, row.to, row.subject or "", row.body, row.attempts)
        return DeliveryResult("outbox", outbox_id=row.id)


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
