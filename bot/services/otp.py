"""One-time codes: the second step from `verified` to `confirmed` (docs/policies.md, "Identity
tiers").

- A 6-digit code from `secrets`, sent to a phone or email on file, valid 10 minutes, 5 tries,
  usable once.
- Stored only as HMAC-SHA256(per-code random salt, code); the code itself is never stored or
  logged, and checked with a constant-time comparison.
- Sending a new code for the same conversation and purpose retires every earlier unused one (it is
  marked consumed), so only the newest code works.
- Sends are rate-limited: at most 3 codes per conversation in any 10 minutes. That is enough for
  "I didn't get it, send again" twice.
- Conversations are free to start, so sends and wrong guesses are also limited per destination
  (an HMAC of the phone or email) and per account, across conversations: 5 codes an hour, 10
  wrong guesses a day. Passing either writes a `SecurityLock` (bot.services.throttle) on both,
  one audit entry and a warning; while locked no code is sent and none is accepted.
- An answer that is not a 6-digit number (after removing spaces and dashes) is `malformed` and
  not counted as a try: "yes" or an amount typed at the wrong moment should not burn attempts.
- The text handed to the notifier is a `CodeText`: the provider gets the code, but every copy
  the outbox table keeps of a text a provider delivered is the redacted form ("JEC code: ******"),
  and the provider is told to drop the text once the code has expired (Twilio's
  `validity_period`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.masking import mask_email, mask_phone
from bot.profile import CoopProfile
from bot.services.audit import record
from bot.services.notify import Notifier
from bot.services.throttle import LockMirror, LockScope, add_lock, hmac_key, lock_until
from bot.store.db import session_scope
from bot.store.models import OneTimeCode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OtpRules:
    length: int = 6
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    max_sends: int = 3
    send_window: timedelta = timedelta(minutes=10)
    short_name: str = "JEC"
    # Across conversations, per destination and per account (docs/security.md).
    max_sends_per_destination: int = 5
    destination_window: timedelta = timedelta(hours=1)
    max_wrong_guesses: int = 10
    guess_window: timedelta = timedelta(hours=24)
    guess_lockout: timedelta = timedelta(hours=24)

    @classmethod
    def from_profile(cls, profile: CoopProfile) -> OtpRules:
        v = profile.verification
        return cls(
            length=v.otp_length,
            ttl=timedelta(minutes=v.otp_ttl_minutes),
            max_attempts=v.otp_max_attempts,
            short_name=profile.coop.short_name,
        )


class CodeText(str):
    """A text carrying a one-time code. The `str` value is what the provider delivers;
    `redacted` is what any stored copy keeps; `validity_seconds` is how long the provider may
    keep trying to deliver it (the code's lifetime)."""

    redacted: str
    validity_seconds: int

    def __new__(cls, text: str, *, redacted: str, validity_seconds: int) -> CodeText:
        made = super().__new__(cls, text)
        made.redacted = redacted
        made.validity_seconds = validity_seconds
        return made


def stored_text(body: str) -> str:
    """What a stored copy of `body` may hold: the redacted form of a code text, else `body`."""
    return body.redacted if isinstance(body, CodeText) else body


class SendStatus(StrEnum):
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
    # Why a send was refused: "conversation" (3 in 10 minutes here) or "locked" (too many codes
    # or wrong guesses for this destination or account, across conversations).
    limited_by: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT


class OtpStatus(StrEnum):
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
        *,
        secret_key: str = "",
        mirror: LockMirror | None = None,
    ) -> None:
        """`secret_key` keys the destination HMACs (the installation's SECRET_KEY; tools and
        tests may leave it empty, which only makes those HMACs guessable)."""
        if notifier is None:
            raise ValueError("OtpService needs a notifier to deliver codes")
        self._factory = session_factory
        self.rules = rules or OtpRules()
        self._notifier = notifier
        self._secret = secret_key
        self._mirror = mirror

    def message(self, code: str) -> str:
        minutes = int(self.rules.ttl.total_seconds() // 60)
        return f"{self.rules.short_name} code: {code}. Never share it. Expires in {minutes} min."

    def code_text(self, code: str) -> CodeText:
        """The code's text for the provider, with its redacted form and validity period."""
        return CodeText(
            self.message(code),
            redacted=self.message("*" * len(code)),
            validity_seconds=int(self.rules.ttl.total_seconds()),
        )

    def destination_key(self, destination: str) -> str:
        return hmac_key(self._secret, "otp-destination", destination.strip().lower())

    def _lock_keys(
        self, destination_key: str | None, account_id: int | None
    ) -> list[tuple[LockScope, str]]:
        keys = []
        if destination_key:
            keys.append((LockScope.OTP_DESTINATION, destination_key))
        if account_id is not None:
            keys.append((LockScope.OTP_ACCOUNT, str(account_id)))
        return keys

    async def _locked_until(
        self,
        session: AsyncSession,
        destination_key: str | None,
        account_id: int | None,
        now: datetime,
    ) -> datetime | None:
        ends = [
            await lock_until(session, scope, [key], now, self._mirror)
            for scope, key in self._lock_keys(destination_key, account_id)
        ]
        running = [end for end in ends if end is not None]
        return max(running) if running else None

    async def _lock(
        self,
        session: AsyncSession,
        *,
        destination_key: str | None,
        account_id: int | None,
        until: datetime,
        reason: str,
        count: int,
        conversation_id: str,
        masked: str,
        now: datetime,
    ) -> None:
        """Lock codes for this destination and account; one audit entry and a warning."""
        for scope, key in self._lock_keys(destination_key, account_id):
            await add_lock(
                session, scope, key, until=until, reason=reason, now=now, mirror=self._mirror
            )
        log.warning(
            "one-time codes to %s locked until %s (%d %s)",
            masked,
            until.isoformat(),
            count,
            "codes sent" if reason == "sends" else "wrong guesses",
        )
        await record(
            session,
            actor="system",
            action="otp.locked",
            account_id=account_id,
            conversation_id=conversation_id,
            details={
                "reason": reason,
                "count": count,
                "destination": masked,
                "retry_after": until.isoformat(),
            },
            now=now,
        )

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
        dkey = self.destination_key(destination)
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
                    limited_by="conversation",
                )
            locked = await self._locked_until(session, dkey, account_id, now)
            if locked is None:
                locked = await self._too_many_sends(
                    session, dkey, account_id, conversation_id, masked, now
                )
            if locked is not None:
                return SentCode(
                    SendStatus.RATE_LIMITED, masked, retry_after=locked, limited_by="locked"
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
                destination_key=dkey,
                code_hash=hash_code(code, salt),
                salt=salt,
                expires_at=now + self.rules.ttl,
                attempts=0,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            code_id, expires_at = row.id, row.expires_at

        body = self.code_text(code)
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
            if await self._locked_until(session, row.destination_key, row.account_id, now):
                return OtpResult(OtpStatus.TOO_MANY_ATTEMPTS)
            if not re.fullmatch(rf"\d{{{self.rules.length}}}", answer):
                return OtpResult(
                    OtpStatus.MALFORMED, attempts_left=self.rules.max_attempts - row.attempts
                )
            if hmac.compare_digest(hash_code(answer, row.salt), row.code_hash):
                row.consumed_at = now
                return OtpResult(OtpStatus.OK, account_id=row.account_id)
            row.attempts += 1
            await session.flush()
            if await self._too_many_guesses(session, row, conversation_id, now):
                return OtpResult(OtpStatus.TOO_MANY_ATTEMPTS)
            left = self.rules.max_attempts - row.attempts
            if left <= 0:
                return OtpResult(OtpStatus.TOO_MANY_ATTEMPTS)
            return OtpResult(OtpStatus.WRONG, attempts_left=left)

    async def _too_many_sends(
        self,
        session: AsyncSession,
        destination_key: str,
        account_id: int | None,
        conversation_id: str,
        masked: str,
        now: datetime,
    ) -> datetime | None:
        """Lock when this destination or account already had its codes for the hour."""
        since = now - self.rules.destination_window
        scopes = [OneTimeCode.destination_key == destination_key]
        if account_id is not None:
            scopes.append(OneTimeCode.account_id == account_id)
        for where in scopes:
            sent = (
                await session.scalars(
                    select(OneTimeCode.created_at)
                    .where(where, OneTimeCode.created_at > since, OneTimeCode.created_at <= now)
                    .order_by(OneTimeCode.created_at)
                )
            ).all()
            if len(sent) < self.rules.max_sends_per_destination:
                continue
            oldest_counted = sent[len(sent) - self.rules.max_sends_per_destination]
            until = oldest_counted + self.rules.destination_window
            await self._lock(
                session,
                destination_key=destination_key,
                account_id=account_id,
                until=until,
                reason="sends",
                count=len(sent),
                conversation_id=conversation_id,
                masked=masked,
                now=now,
            )
            return until
        return None

    async def _too_many_guesses(
        self, session: AsyncSession, row: OneTimeCode, conversation_id: str, now: datetime
    ) -> bool:
        """Lock for a day when this destination or account reached its wrong guesses."""
        since = now - self.rules.guess_window
        scopes = []
        if row.destination_key:
            scopes.append(OneTimeCode.destination_key == row.destination_key)
        if row.account_id is not None:
            scopes.append(OneTimeCode.account_id == row.account_id)
        for where in scopes:
            wrong = await session.scalar(
                select(func.coalesce(func.sum(OneTimeCode.attempts), 0)).where(
                    where, OneTimeCode.created_at > since, OneTimeCode.created_at <= now
                )
            )
            if int(wrong or 0) < self.rules.max_wrong_guesses:
                continue
            await self._lock(
                session,
                destination_key=row.destination_key,
                account_id=row.account_id,
                until=now + self.rules.guess_lockout,
                reason="guesses",
                count=int(wrong or 0),
                conversation_id=conversation_id,
                masked=row.destination,
                now=now,
            )
            return True
        return False

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
