"""One-time codes: the second step from `verified` to `confirmed` (compliance.md "Identity tiers").

- A 6-digit code from `secrets`, sent to a phone or email on file, valid 10 minutes, 5 tries,
  usable once.
- Stored only as HMAC-SHA256(per-code random salt, code); the code itself is never stored or
  logged, and checked with a constant-time comparison.
- Sending a new code for the same conversation and purpose retires every earlier unused one (it is
  marked consumed), so only the newest code works.
- Sends are rate-limited: at most 3 codes per conversation in any 10 minutes. That is enough for
  "I didn't get it, send again" twice, and stops a script from flooding a member's phone.
- An answer that is not a 6-digit number (after removing spaces and dashes) is `malformed` and
  not counted as a try: "yes" or an amount typed at the wrong moment should not burn attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.masking import mask_email, mask_phone
from bot.profile import CoopProfile
from bot.services.notify import Notifier
from bot.store.db import session_scope
from bot.store.models import OneTimeCode


@dataclass(frozen=True)
class OtpRules:
    length: int = 6
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    max_sends: int = 3
    send_window: timedelta = timedelta(minutes=10)
    short_name: str = "JEC"

    @classmethod
    def from_profile(cls, profile: CoopProfile) -> OtpRules:
        v = profile.verification
        return cls(
            length=v.otp_length,
            ttl=timedelta(minutes=v.otp_ttl_minutes),
            max_attempts=v.otp_max_attempts,
            short_name=profile.coop.short_name,
        )


class SendStatus(str, Enum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"  # the provider refused or failed; the code was retired


@dataclass(frozen=True)
class SentCode:
    status: SendStatus
    masked_destination: str
    expires_at: datetime | None = None
    retry_after: datetime | None = None  # when rate-limited
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT


class OtpStatus(str, Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NONE_PENDING = "none_pending"
    MALFORMED = "malformed"  # not a code at all; not counted


@dataclass(frozen=True)
class OtpResult:
    status: OtpStatus
    attempts_left: int = 0
    account_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is OtpStatus.OK


def hash_code(code: str, salt: str) -> str:
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


def mask_destination(destination: str, channel: str) -> str:
    return mask_email(destination) if channel == "email" else mask_phone(destination)


class OtpService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        rules: OtpRules | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        if notifier is None:
            raise ValueError("OtpService needs a notifier to deliver codes")
        self._factory = session_factory
        self.rules = rules or OtpRules()
        self._notifier = notifier

    def message(self, code: str) -> str:
        minutes = int(self.rules.ttl.total_seconds() // 60)
        return f"{self.rules.short_name} code: {code}. Never share it. Expires in {minutes} min."

    async def send(
        self,
        *,
        conversation_id: str,
        account_id: int | None,
        purpose: str,
        destination: str,
        channel: str,
        now: datetime,
    ) -> SentCode:
        """Create, store (hashed) and deliver a new code; earlier unused codes stop working."""
        if channel not in ("sms", "email"):
            raise ValueError(f"channel must be sms or email, not {channel!r}")
        masked = mask_destination(destination, channel)
        async with session_scope(self._factory) as session:
            window_start = now - self.rules.send_window
            recent = (
                await session.scalars(
                    select(OneTimeCode.created_at)
                    .where(
                        OneTimeCode.conversation_id == conversation_id,
                        OneTimeCode.created_at > window_start,
                        OneTimeCode.created_at <= now,
                    )
                    .order_by(OneTimeCode.created_at)
                )
            ).all()
            if len(recent) >= self.rules.max_sends:
                oldest_counted = recent[len(recent) - self.rules.max_sends]
                return SentCode(
                    SendStatus.RATE_LIMITED,
                    masked,
                    retry_after=oldest_counted + self.rules.send_window,
                )
            await session.execute(
                update(OneTimeCode)
                .where(
                    OneTimeCode.conversation_id == conversation_id,
                    OneTimeCode.purpose == purpose,
                    OneTimeCode.consumed_at.is_(None),
                )
                .values(consumed_at=now)
            )
            code = "".join(secrets.choice("0123456789") for _ in range(self.rules.length))
            salt = secrets.token_hex(16)
            row = OneTimeCode(
                conversation_id=conversation_id,
                account_id=account_id,
                purpose=purpose,
                destination=masked,
                code_hash=hash_code(code, salt),
                salt=salt,
                expires_at=now + self.rules.ttl,
                attempts=0,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            code_id, expires_at = row.id, row.expires_at

        body = self.message(code)
        if channel == "sms":
            delivery = await self._notifier.send_sms(destination, body)
        else:
            delivery = await self._notifier.send_email(
                destination, f"Your {self.rules.short_name} code", body
            )
        if not delivery.ok:
            async with session_scope(self._factory) as session:
                await session.execute(
                    update(OneTimeCode).where(OneTimeCode.id == code_id).values(consumed_at=now)
                )
            return SentCode(SendStatus.FAILED, masked, error=delivery.error or delivery.status)
        return SentCode(SendStatus.SENT, masked, expires_at=expires_at)

    async def check(
        self, *, conversation_id: str, purpose: str, code: str, now: datetime
    ) -> OtpResult:
        """Check an answer against the newest unused code for this conversation and purpose."""
        answer = re.sub(r"[\s\-]", "", code or "")
        async with session_scope(self._factory) as session:
            row = await session.scalar(
                select(OneTimeCode)
                .where(
                    OneTimeCode.conversation_id == conversation_id,
                    OneTimeCode.purpose == purpose,
                    OneTimeCode.consumed_at.is_(None),
                )
                .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
                .limit(1)
                .with_for_update()
            )
            if row is None:
                return OtpResult(OtpStatus.NONE_PENDING)
            if now >= row.expires_at:
                return OtpResult(OtpStatus.EXPIRED)
            if row.attempts >= self.rules.max_attempts:
                return OtpResult(OtpStatus.TOO_MANY_ATTEMPTS)
            if not re.fullmatch(rf"\d{{{self.rules.length}}}", answer):
                return OtpResult(
                    OtpStatus.MALFORMED, attempts_left=self.rules.max_attempts - row.attempts
                )
            if hmac.compare_digest(hash_code(answer, row.salt), row.code_hash):
                row.consumed_at = now
                return OtpResult(OtpStatus.OK, account_id=row.account_id)
            row.attempts += 1
            left = self.rules.max_attempts - row.attempts
            if left <= 0:
                return OtpResult(OtpStatus.TOO_MANY_ATTEMPTS)
            return OtpResult(OtpStatus.WRONG, attempts_left=left)

    async def pending(self, *, conversation_id: str, purpose: str, now: datetime) -> bool:
        """Whether a usable code is waiting (so the dialogue knows to expect one)."""
        async with self._factory() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OneTimeCode)
                .where(
                    OneTimeCode.conversation_id == conversation_id,
                    OneTimeCode.purpose == purpose,
                    OneTimeCode.consumed_at.is_(None),
                    OneTimeCode.expires_at > now,
                )
            )
            return bool(count)
