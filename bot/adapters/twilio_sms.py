"""Texts through Twilio's REST API (emails are not Twilio's job: they go to the outbox).

The twilio library is blocking: each call runs in `asyncio.to_thread` with a timeout, so the event
loop never waits on the network. A one-time code text (`bot.services.otp.CodeText`) is sent with
Twilio's `validity_period` set to the code's lifetime, so a delayed text is dropped rather than
delivered with a dead code; its outbox row keeps only the redacted form.

Every text carries a `StatusCallback` URL (`PUBLIC_BASE_URL` + `/sms/twilio/status?outbox=<id>`):
Twilio's delivery reports are recorded against the outbox row (bot/adapters/delivery.py), and a
report for a text whose send timed out proves Twilio accepted it, so the retry job never sends it
again. A failed text other than a one-time code is retried with backoff (`bot.adapters.delivery`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.outbox import Clock, OutboxWriter
from bot.config import Settings
from bot.services.notify import DeliveryResult, OptOutCheck
from bot.services.otp import CodeText
from bot.store.types import utcnow


class TwilioNotifier(OutboxWriter):
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
        self._public_url = settings.public_base_url.rstrip("/")
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

    def status_callback_url(self, outbox_id: int) -> str:
        """Where Twilio reports this text's delivery status: the gateway's signed status webhook,
        with the outbox row's id so the status is recorded against the message we sent."""
        return f"{self._public_url}/sms/twilio/status?outbox={outbox_id}"

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        body, refused = await self._screen_sms(to_e164, body)
        if refused:
            return refused
        # The row exists before the provider is called: its id goes into the status callback URL,
        # and a crash mid-send leaves a row the retry job can see (never a text with no record).
        oid = await self._record(
            channel="sms",
            to=to_e164,
            body=body,
            status="sending",
            retryable=not isinstance(body, CodeText),
        )
        return await self._attempt(oid, to_e164, body, attempts=0)

    async def resend(
        self, outbox_id: int, to_e164: str, body: str, attempts: int
    ) -> DeliveryResult:
        """Try a failed text again (the retry job claimed the row; `attempts` calls so far)."""
        if self._is_opted_out is not None and await self._is_opted_out(to_e164):
            await self._update(
                outbox_id,
                error="number opted out (STOP); not sent",
                retryable=False,
                next_attempt_at=None,
                lease_until=None,
            )
            return DeliveryResult("opted_out", outbox_id=outbox_id, error="opted out")
        return await self._attempt(outbox_id, to_e164, body, attempts=attempts)

    async def _attempt(self, oid: int, to_e164: str, body: str, *, attempts: int) -> DeliveryResult:
        extra: dict[str, Any] = {"status_callback": self.status_callback_url(oid)}
        if isinstance(body, CodeText):
            extra["validity_period"] = body.validity_seconds
        await self._update(oid, attempts=attempts + 1)
        try:
            message = await asyncio.wait_for(
                asyncio.to_thread(
                    self._client.messages.create,
                    to=to_e164,
                    from_=self._from,
                    body=str(body),
                    **extra,
                ),
                timeout=self._timeout + 1,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the result, never raised into a chat
            # A code is never sent again later (it expires; the row keeps only its redacted form).
            return await self._failed(
                oid, exc, retryable=not isinstance(body, CodeText), attempts=attempts + 1
            )
        sid = str(getattr(message, "sid", "") or "") or None
        return await self._sent(oid, sid)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return await self._to_outbox_email(to, subject, body)
