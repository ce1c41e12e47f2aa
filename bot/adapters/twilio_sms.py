"""Texts through Twilio's REST API (emails are not Twilio's job: they go to the outbox).

The twilio library is blocking: each call runs in `asyncio.to_thread` with a timeout, so the event
loop never waits on the network. A one-time code text (`bot.services.otp.CodeText`) is sent with
Twilio's `validity_period` set to the code's lifetime, so a delayed text is dropped rather than
delivered with a dead code; its outbox row keeps only the redacted form.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.outbox import Clock, OutboxWriter, provider_error
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
        extra: dict[str, Any] = {}
        if isinstance(body, CodeText):
            extra["validity_period"] = body.validity_seconds
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
            error = provider_error(exc)
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
