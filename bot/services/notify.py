"""Texts and emails to members: the rules every message obeys and the `Notifier` protocol.

The adapters in `bot/adapters/` (Twilio, SMTP, the local outbox) implement `Notifier`; services
and actions depend only on this module. Rules enforced for every text, whatever the provider:
- an SMS body is GSM-7 and at most 306 characters (extension characters such as `{` count as
  two), so it always fits two concatenated segments (2 x 153 GSM-7 characters; 320 made three);
  anything else is refused (`status="rejected"`), never sent as UCS-2;
- a number that opted out (STOP) is never texted (`status="opted_out"`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.gsm7 import gsm7_length, is_gsm7

SMS_MAX_CHARS = 306  # two concatenated GSM-7 segments of 153

OptOutCheck = Callable[[str], Awaitable[bool]]


def sms_problem(body: str) -> str | None:
    """Why `body` may not be texted, or None if it is fine (GSM-7, 1-306 characters)."""
    if not body.strip():
        return "empty message"
    bad = sorted({ch for ch in body if not is_gsm7(ch)})
    if bad:
        return "not GSM-7: " + " ".join(f"U+{ord(ch):04X}" for ch in bad)
    if gsm7_length(body) > SMS_MAX_CHARS:
        return f"{gsm7_length(body)} characters, more than {SMS_MAX_CHARS}"
    return None


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
