"""Identity verification: who the member is, and how sure we are (docs/policies.md, "Identity
tiers").

Tiers: `public` (nothing proven) < `verified` (account number plus ZIP of the service address or the
last payment's amount; by SMS a text from a phone on file is the first factor) < `confirmed`
(verified plus a one-time code, see `bot.services.otp`).

Rules kept here, in plain Python, so actions stay thin:

- Every evaluated try is a `VerificationAttempt` row keyed by an HMAC of the account number typed
  (never the number itself), so lockouts also cover numbers that do not exist.
- A mismatch always gets the same words, whether the account exists or not.
- Five failures within 15 minutes for a conversation, or for an account, lock verification for
  both for 15 minutes from the fifth failure. The lock is written as a marker row
  (`method="lockout"`), so failures before a lock never count towards the next one. Tries made
  while locked are recorded (`method="locked"`) but never evaluated and never extend the lock:
  even a correct answer gets the locked result.
- A new conversation starts none of this afresh. Across conversations (`bot.services.throttle`
  locks, audited and logged):
  - an account with 10 failures in 24 hours is locked for 24 hours (a ZIP code is a weak second
    factor: the territory has few of them, so one account must not get more than a few guesses);
  - a source (the texting phone, or the web client's address when the gateway passes
    `client_ip`) that fails 10 times in an hour, or tries a 6th different account number in 24
    hours, is locked for an hour, doubled for each earlier lock that day (at most 24 hours);
    trying many accounts is enumeration even when the guesses succeed;
  - 30 failures across the whole service in 15 minutes write one audit entry and a warning per
    15 minutes, for staff to look at (many addresses guessing at once).
- Malformed input (an account number that is not 10 digits, a ZIP that is not 5 digits or ZIP+4)
  is not an attempt: the member gets a friendly re-ask and nothing is counted. Typos are common
  by SMS and checking the format reveals nothing about any account.
- The verified state lasts while the conversation is active: `tier_still_valid` ends it after
  15 idle minutes.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.masking import mask_phone
from bot.profile import CoopProfile
from bot.services.audit import record as _audit
from bot.services.throttle import (
    LockMirror,
    LockScope,
    add_lock,
    address_bucket,
    doubled,
    hmac_key,
    lock_until,
    locks_since,
)
from bot.store.db import session_scope
from bot.store.models import Account, AuditEntry, Contact, Member, Payment, VerificationAttempt

log = logging.getLogger(__name__)

MISMATCH_MESSAGE = "That doesn't match what we have. Let's try once more."
ACCOUNT_FORMAT_MESSAGE = (
    "Your account number is 10 digits, printed at the top of your bill. "
    "Please send just those digits."
)
ZIP_FORMAT_MESSAGE = "Please send the 5-digit ZIP code of the service address."
SECOND_FACTOR_MESSAGE = (
    "Please send the ZIP code of the service address, or the amount of your last payment."
)

# Attempt rows with these methods are evaluated answers; the others are bookkeeping.
LOCKOUT_MARKER = "lockout"
LOCKED_TRY = "locked"
_BOOKKEEPING = (LOCKOUT_MARKER, LOCKED_TRY)


class Tier(StrEnum):
    """How sure we are of who we are talking to. Ordered: PUBLIC < VERIFIED < CONFIRMED."""

    PUBLIC = "public"
    VERIFIED = "verified"
    CONFIRMED = "confirmed"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank >= other.rank


_TIER_RANK = {Tier.PUBLIC: 0, Tier.VERIFIED: 1, Tier.CONFIRMED: 2}


@dataclass(frozen=True)
class VerificationRules:
    """The profile's `verification:` section plus the phone a locked-out member should call."""

    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    session_idle: timedelta = timedelta(minutes=15)
    member_services_phone: str = ""
    # Across conversations (docs/security.md).
    daily_max_failures: int = 10  # per account in `daily_window`, then locked `daily_lockout`
    daily_window: timedelta = timedelta(hours=24)
    daily_lockout: timedelta = timedelta(hours=24)
    source_max_failures: int = 10  # per phone or client address in `source_window`
    source_window: timedelta = timedelta(hours=1)
    source_max_accounts: int = 5  # different account numbers per source in `daily_window`
    source_lockout: timedelta = timedelta(hours=1)  # doubled per earlier lock that day
    alert_failures: int = 30  # across the service in `alert_window`: audit entry and warning
    alert_window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_profile(cls, profile: CoopProfile) -> VerificationRules:
        v = profile.verification
        return cls(
            max_failures=v.max_failures,
            failure_window=timedelta(minutes=v.failure_window_minutes),
            lockout=timedelta(minutes=v.lockout_minutes),
            session_idle=timedelta(minutes=v.session_idle_minutes),
            member_services_phone=profile.phones.member_services,
        )


class VerificationStatus(StrEnum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"  # wrong answer or unknown account: same words either way
    LOCKED = "locked"
    FORMAT = "format"  # malformed input; not counted
    NOT_ON_FILE = "not_on_file"  # SMS path: this phone is on no account; ask for the number
    AMBIGUOUS = "ambiguous"  # SMS path: phone and ZIP fit several members; ask for the number


@dataclass(frozen=True)
class AccountChoice:
    """One of the member's accounts, described without disclosing the full number."""

    account_id: int
    last4: str
    street: str
    town: str
    zip: str
    status: str

    @property
    def label(self) -> str:
        return f"account ending {self.last4} ({self.street}, {self.town})"


@dataclass(frozen=True)
class VerifiedMember:
    member_id: int
    first_name: str
    account_id: int | None  # the account the answer matched; None if the member must pick
    accounts: tuple[AccountChoice, ...]


@dataclass(frozen=True)
class VerificationResult:
    status: VerificationStatus
    message: str
    method: str | None = None  # zip | last_payment | phone_on_file
    member: VerifiedMember | None = None
    retry_after: datetime | None = None
    counted: bool = False  # whether this try was recorded as an evaluated attempt

    @property
    def ok(self) -> bool:
        return self.status is VerificationStatus.VERIFIED

    @property
    def tier(self) -> Tier:
        return Tier.VERIFIED if self.ok else Tier.PUBLIC

    @property
    def verified_how(self) -> str | None:
        if not self.ok:
            return None
        return {
            "zip": "account+zip",
            "last_payment": "account+last_payment",
            "phone_on_file": "phone_on_file+zip",
        }.get(self.method or "", self.method)


# ---------------------------------------------------------------- pure helpers


def normalize_account_number(raw: str) -> str | None:
    """`"1000-004 821"` -> `"1000004821"`; anything that is not exactly 10 digits -> None."""
    digits = re.sub(r"[\s\-.]", "", raw or "")
    return digits if re.fullmatch(r"\d{10}", digits) else None


def normalize_zip(raw: str) -> str | None:
    """5-digit ZIP or ZIP+4 (`30833-1234`, `308331234`) -> the 5-digit ZIP; else None."""
    text = re.sub(r"\s", "", raw or "")
    m = re.fullmatch(r"(\d{5})(?:-?\d{4})?", text)
    return m.group(1) if m else None


SIGN_IN_INTENT = "verify_identity"


def is_sign_in_request(intent: str | None, text: str) -> bool:
    """Whether a message said while the gate is asking is "verify me / sign in" rather than an
    answer: the sign-in intent and no digits. Such a message is not a wrong answer (no format
    hint, no try counted); the gate just asks its current question again. A message with digits
    ("sign in 1000004821") is still read as an answer."""
    return intent == SIGN_IN_INTENT and not re.search(r"\d", text or "")


def account_key(secret_key: str, account_number: str) -> str:
    """HMAC-SHA256 of a normalized account number: lockouts without storing what was typed."""
    return hmac_key(secret_key, "account", account_number)


def phone_key(secret_key: str, phone_e164: str) -> str:
    return hmac_key(secret_key, "phone", phone_e164)


def address_key(secret_key: str, client_ip: str | None) -> str | None:
    """HMAC of the client's address bucket (`bot.services.throttle.address_bucket`), or None."""
    bucket = address_bucket(client_ip)
    return hmac_key(secret_key, "address", bucket) if bucket else None


@dataclass(frozen=True)
class Source:
    """Where a try came from, keyed: the texting phone and the web client's address."""

    phone_key: str | None = None
    address_key: str | None = None
    phone_shown: str | None = None  # masked phone, for the audit entry
    address_shown: str | None = None  # the address bucket, for the audit entry and the log

    def scopes(self) -> list[tuple[LockScope, str]]:
        pairs = [(LockScope.PHONE, self.phone_key), (LockScope.ADDRESS, self.address_key)]
        return [(scope, key) for scope, key in pairs if key]


def tier_still_valid(
    verified_at: datetime | None,
    last_activity: datetime | None,
    now: datetime,
    rules: VerificationRules,
) -> bool:
    """A verified tier lasts while the conversation is active: it ends after `session_idle`."""
    if verified_at is None:
        return False
    since = max(verified_at, last_activity) if last_activity is not None else verified_at
    return now - since < rules.session_idle


def locked_message(retry_after: datetime, now: datetime, rules: VerificationRules) -> str:
    minutes = max(1, math.ceil((retry_after - now).total_seconds() / 60))
    if minutes < 60:
        wait = f"{minutes} minutes"
    else:
        hours = math.ceil(minutes / 60)
        wait = "1 hour" if hours == 1 else f"{hours} hours"
    phone = f" at {rules.member_services_phone}" if rules.member_services_phone else ""
    return (
        f"For your security I've paused verification for {wait}. "
        f"Please try again then, or call member services{phone} for help."
    )


# ---------------------------------------------------------------- the service


class VerificationService:
    """Checks answers against the member data and keeps the attempt log that drives lockouts."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        secret_key: str,
        rules: VerificationRules | None = None,
        *,
        mirror: LockMirror | None = None,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key is required to key verification attempts")
        self._factory = session_factory
        self._secret = secret_key
        self._mirror = mirror
        self.rules = rules or VerificationRules()

    def source(self, *, phone_e164: str | None = None, client_ip: str | None = None) -> Source:
        """The keyed source of a try: the texting phone, the web client's address."""
        bucket = address_bucket(client_ip)
        return Source(
            phone_key=phone_key(self._secret, phone_e164) if phone_e164 else None,
            address_key=address_key(self._secret, client_ip),
            phone_shown=mask_phone(phone_e164) if phone_e164 else None,
            address_shown=bucket,
        )

    # ---- account number plus a second factor

    async def verify_account(
        self,
        *,
        conversation_id: str,
        account_number: str,
        zip_code: str | None = None,
        last_payment_amount_cents: int | None = None,
        now: datetime,
        channel: str | None = None,
        phone_e164: str | None = None,
        client_ip: str | None = None,
    ) -> VerificationResult:
        """Check an account number and a second factor. `phone_e164` (the texting phone) and
        `client_ip` (the web client, as the gateway saw it) only count the try per source."""
        number = normalize_account_number(account_number)
        zip5 = normalize_zip(zip_code) if zip_code is not None else None
        source = self.source(phone_e164=phone_e164, client_ip=client_ip)
        async with session_scope(self._factory) as session:
            key = account_key(self._secret, number or "")
            lock = await self._lock_until(session, conversation_id, [], now)
            if lock is None and number is not None:
                lock = await self._lock_until(session, None, [key], now)
            if lock is None:
                lock = await self._cumulative_lock(session, [key] if number else [], source, now)
            if lock is not None:
                return await self._locked(session, conversation_id, key, source, lock, now, channel)
            if number is None:
                return VerificationResult(VerificationStatus.FORMAT, ACCOUNT_FORMAT_MESSAGE)
            if zip_code is not None and zip5 is None:
                return VerificationResult(VerificationStatus.FORMAT, ZIP_FORMAT_MESSAGE)
            if zip5 is None and last_payment_amount_cents is None:
                return VerificationResult(VerificationStatus.FORMAT, SECOND_FACTOR_MESSAGE)

            method = "zip" if zip5 is not None else "last_payment"
            lock = await self._too_many_accounts(
                session, key, source, conversation_id, now, channel
            )
            if lock is not None:
                return await self._locked(session, conversation_id, key, source, lock, now, channel)
            account = await session.scalar(select(Account).where(Account.account_number == number))
            matched = False
            if account is not None:
                if zip5 is not None:
                    matched = normalize_zip(account.service_zip) == zip5
                else:
                    matched = (
                        await self._last_payment_cents(session, account.id)
                        == last_payment_amount_cents
                    )
            if not matched:
                return await self._failure(
                    session,
                    conversation_id,
                    key,
                    method,
                    now,
                    channel,
                    source=source,
                    account_id=account.id if account is not None else None,
                )

            assert account is not None
            member = await self._member(session, account.member_id, account.id)
            session.add(self._attempt(conversation_id, key, source, method, True, now))
            result = VerificationResult(
                VerificationStatus.VERIFIED,
                f"You're verified, {member.first_name}.",
                method=method,
                member=member,
                counted=True,
            )
            await _audit(
                session,
                actor=f"member:{member.member_id}",
                action="verification.success",
                account_id=account.id,
                conversation_id=conversation_id,
                channel=channel,
                verified_how=result.verified_how,
                details={"method": method},
                now=now,
            )
            return result

    # ---- SMS: the phone on file is the first factor

    async def accounts_for_phone(self, phone_e164: str) -> list[AccountChoice]:
        """Accounts of every member with this phone on file (for the dialogue to know the phone
        path applies; never shown to the texter before the second factor)."""
        async with self._factory() as session:
            return [choice for _, choice in await self._phone_accounts(session, phone_e164)]

    async def verify_by_phone(
        self,
        *,
        conversation_id: str,
        phone_e164: str,
        zip_code: str,
        now: datetime,
        channel: str | None = "sms",
    ) -> VerificationResult:
        zip5 = normalize_zip(zip_code)
        pkey = phone_key(self._secret, phone_e164)
        source = self.source(phone_e164=phone_e164)
        async with session_scope(self._factory) as session:
            pairs = await self._phone_accounts(session, phone_e164)
            account_numbers = await session.execute(
                select(Account.account_number).where(
                    Account.id.in_([c.account_id for _, c in pairs])
                )
            )
            keys = [pkey] + [account_key(self._secret, n) for (n,) in account_numbers]
            lock = await self._lock_until(session, conversation_id, keys, now)
            if lock is None:
                lock = await self._cumulative_lock(session, keys, source, now)
            if lock is not None:
                return await self._locked(
                    session, conversation_id, pkey, source, lock, now, channel
                )
            if not pairs:
                return VerificationResult(
                    VerificationStatus.NOT_ON_FILE,
                    "I don't see this number on an account. What's your 10-digit account number?",
                )
            if zip5 is None:
                return VerificationResult(VerificationStatus.FORMAT, ZIP_FORMAT_MESSAGE)
            matches = [(mid, c) for mid, c in pairs if normalize_zip(c.zip) == zip5]
            if not matches:
                return await self._failure(
                    session, conversation_id, pkey, "phone_on_file", now, channel, source=source
                )
            member_ids = {mid for mid, _ in matches}
            if len(member_ids) > 1:
                return VerificationResult(
                    VerificationStatus.AMBIGUOUS,
                    "This number is on more than one member's account. "
                    "What's your 10-digit account number?",
                )
            (member_id,) = member_ids
            chosen = matches[0][1].account_id if len(matches) == 1 else None
            member = await self._member(session, member_id, chosen)
            session.add(self._attempt(conversation_id, pkey, source, "phone_on_file", True, now))
            result = VerificationResult(
                VerificationStatus.VERIFIED,
                f"Thanks, {member.first_name}.",
                method="phone_on_file",
                member=member,
                counted=True,
            )
            await _audit(
                session,
                actor=f"member:{member_id}",
                action="verification.success",
                account_id=chosen,
                conversation_id=conversation_id,
                channel=channel,
                verified_how=result.verified_how,
                details={"method": "phone_on_file"},
                now=now,
            )
            return result

    async def locked_until(
        self,
        *,
        conversation_id: str,
        now: datetime,
        phone_e164: str | None = None,
        client_ip: str | None = None,
    ) -> datetime | None:
        """When this conversation (or the phone or address it comes from) may try again, or
        None if it is not locked (for the dialogue, before it asks anything)."""
        source = self.source(phone_e164=phone_e164, client_ip=client_ip)
        async with self._factory() as session:
            lock = await self._lock_until(session, conversation_id, [], now)
            return lock or await self._cumulative_lock(session, [], source, now)

    # ---- internals

    def _attempt(
        self,
        conversation_id: str,
        key: str,
        source: Source,
        method: str,
        success: bool,
        now: datetime,
    ) -> VerificationAttempt:
        return VerificationAttempt(
            conversation_id=conversation_id,
            account_key=key,
            phone_key=source.phone_key,
            address_key=source.address_key,
            method=method,
            success=success,
            created_at=now,
        )

    async def _phone_accounts(
        self, session: AsyncSession, phone_e164: str
    ) -> list[tuple[int, AccountChoice]]:
        rows = await session.execute(
            select(Account)
            .join(Contact, and_(Contact.member_id == Account.member_id, Contact.kind == "phone"))
            .where(Contact.value == phone_e164)
            .order_by(Account.id)
        )
        seen: dict[int, tuple[int, AccountChoice]] = {}
        for account in rows.scalars():
            seen.setdefault(account.id, (account.member_id, _choice(account)))
        return list(seen.values())

    async def _member(
        self, session: AsyncSession, member_id: int, account_id: int | None
    ) -> VerifiedMember:
        member = await session.get(Member, member_id)
        assert member is not None
        accounts = await session.scalars(
            select(Account).where(Account.member_id == member_id).order_by(Account.id)
        )
        return VerifiedMember(
            member_id=member.id,
            first_name=member.first_name,
            account_id=account_id,
            accounts=tuple(_choice(a) for a in accounts),
        )

    async def _last_payment_cents(self, session: AsyncSession, account_id: int) -> int | None:
        when = func.coalesce(Payment.received_at, Payment.created_at)
        return await session.scalar(
            select(Payment.amount_cents)
            .where(Payment.account_id == account_id, Payment.status == "succeeded")
            .order_by(when.desc(), Payment.id.desc())
            .limit(1)
        )

    async def _lock_until(
        self, session: AsyncSession, conversation_id: str | None, keys: Sequence[str], now: datetime
    ) -> datetime | None:
        """End of the latest lock covering this conversation or any of these keys, if still on."""
        scope = []
        if conversation_id is not None:
            scope.append(VerificationAttempt.conversation_id == conversation_id)
        if keys:
            scope.append(VerificationAttempt.account_key.in_(list(keys)))
        if not scope:
            return None
        started = await session.scalar(
            select(func.max(VerificationAttempt.created_at)).where(
                VerificationAttempt.method == LOCKOUT_MARKER,
                VerificationAttempt.created_at > now - self.rules.lockout,
                VerificationAttempt.created_at <= now,
                or_(*scope),
            )
        )
        if started is None:
            return None
        return started + self.rules.lockout

    async def _cumulative_lock(
        self, session: AsyncSession, account_keys: Sequence[str], source: Source, now: datetime
    ) -> datetime | None:
        """End of the latest cross-conversation lock on these accounts or this source."""
        ends = [await lock_until(session, LockScope.ACCOUNT, account_keys, now, self._mirror)]
        for scope, key in source.scopes():
            ends.append(await lock_until(session, scope, [key], now, self._mirror))
        running = [end for end in ends if end is not None]
        return max(running) if running else None

    async def _failures_since_last_lock(
        self, session: AsyncSession, where: Any, now: datetime
    ) -> int:
        last_lock = await session.scalar(
            select(func.max(VerificationAttempt.created_at)).where(
                where,
                VerificationAttempt.method == LOCKOUT_MARKER,
                VerificationAttempt.created_at <= now,
            )
        )
        since = now - self.rules.failure_window
        if last_lock is not None:
            since = max(since, last_lock)
        return await self._failures(session, where, since, now)

    async def _failures(
        self, session: AsyncSession, where: Any, since: datetime, now: datetime
    ) -> int:
        """Evaluated failed tries matching `where` in (since, now]."""
        count = await session.scalar(
            select(func.count())
            .select_from(VerificationAttempt)
            .where(
                where,
                VerificationAttempt.success.is_(False),
                VerificationAttempt.method.not_in(_BOOKKEEPING),
                VerificationAttempt.created_at > since,
                VerificationAttempt.created_at <= now,
            )
        )
        return int(count or 0)

    async def _too_many_accounts(
        self,
        session: AsyncSession,
        key: str,
        source: Source,
        conversation_id: str,
        now: datetime,
        channel: str | None,
    ) -> datetime | None:
        """Lock a source about to try one account number more than `source_max_accounts` in a
        day (the try is not evaluated): trying many accounts is enumeration even when every
        guess succeeds."""
        for scope, source_key in source.scopes():
            column = (
                VerificationAttempt.phone_key
                if scope is LockScope.PHONE
                else VerificationAttempt.address_key
            )
            tried = set(
                (
                    await session.scalars(
                        select(VerificationAttempt.account_key)
                        .where(
                            column == source_key,
                            VerificationAttempt.method.not_in(_BOOKKEEPING),
                            VerificationAttempt.created_at > now - self.rules.daily_window,
                            VerificationAttempt.created_at <= now,
                        )
                        .distinct()
                    )
                ).all()
            )
            if key in tried or len(tried) < self.rules.source_max_accounts:
                continue
            return await self._lock_source(
                session,
                scope,
                source_key,
                source,
                "accounts",
                len(tried),
                conversation_id,
                now,
                channel,
            )
        return None

    async def _lock_source(
        self,
        session: AsyncSession,
        scope: LockScope,
        source_key: str,
        source: Source,
        reason: str,
        count: int,
        conversation_id: str,
        now: datetime,
        channel: str | None,
    ) -> datetime:
        """Lock a phone or address, longer for each earlier lock that day; audited and logged."""
        repeats = await locks_since(session, scope, source_key, now - self.rules.daily_window)
        until = now + doubled(self.rules.source_lockout, repeats, self.rules.daily_lockout)
        await add_lock(
            session, scope, source_key, until=until, reason=reason, now=now, mirror=self._mirror
        )
        shown = source.phone_shown if scope is LockScope.PHONE else source.address_shown
        what = "different accounts tried" if reason == "accounts" else "failures"
        log.warning(
            "verification: %s %s locked until %s (%d %s; lock %d today)",
            scope.value,
            shown,
            until.isoformat(),
            count,
            what,
            repeats + 1,
        )
        await _audit(
            session,
            actor="system",
            action=f"verification.{scope.value}_locked",
            conversation_id=conversation_id,
            channel=channel,
            details={
                scope.value: shown,
                "reason": reason,
                "count": count,
                "retry_after": until.isoformat(),
            },
            now=now,
        )
        return until

    async def _failure(
        self,
        session: AsyncSession,
        conversation_id: str,
        key: str,
        method: str,
        now: datetime,
        channel: str | None,
        *,
        source: Source,
        account_id: int | None = None,
    ) -> VerificationResult:
        session.add(self._attempt(conversation_id, key, source, method, False, now))
        await session.flush()
        locks = [
            await self._conversation_or_account_lock(
                session, conversation_id, key, method, now, channel
            ),
            await self._daily_account_lock(
                session, key, method, now, channel, conversation_id, account_id
            ),
        ]
        for scope, source_key in source.scopes():
            column = (
                VerificationAttempt.phone_key
                if scope is LockScope.PHONE
                else VerificationAttempt.address_key
            )
            failures = await self._failures(
                session, column == source_key, now - self.rules.source_window, now
            )
            if failures >= self.rules.source_max_failures and not await lock_until(
                session, scope, [source_key], now
            ):
                locks.append(
                    await self._lock_source(
                        session,
                        scope,
                        source_key,
                        source,
                        "failures",
                        failures,
                        conversation_id,
                        now,
                        channel,
                    )
                )
        await self._alert_if_climbing(session, now)
        running = [until for until in locks if until is not None]
        if not running:
            return VerificationResult(
                VerificationStatus.MISMATCH, MISMATCH_MESSAGE, method=method, counted=True
            )
        retry_after = max(running)
        return VerificationResult(
            VerificationStatus.LOCKED,
            locked_message(retry_after, now, self.rules),
            method=method,
            retry_after=retry_after,
            counted=True,
        )

    async def _conversation_or_account_lock(
        self,
        session: AsyncSession,
        conversation_id: str,
        key: str,
        method: str,
        now: datetime,
        channel: str | None,
    ) -> datetime | None:
        """Five failures in 15 minutes for this conversation or this account: a 15-minute lock."""
        by_conversation = await self._failures_since_last_lock(
            session, VerificationAttempt.conversation_id == conversation_id, now
        )
        by_account = await self._failures_since_last_lock(
            session, VerificationAttempt.account_key == key, now
        )
        if max(by_conversation, by_account) < self.rules.max_failures:
            return None
        session.add(
            VerificationAttempt(
                conversation_id=conversation_id,
                account_key=key,
                method=LOCKOUT_MARKER,
                success=False,
                created_at=now,
            )
        )
        retry_after = now + self.rules.lockout
        await _audit(
            session,
            actor="system",
            action="verification.lockout",
            conversation_id=conversation_id,
            channel=channel,
            details={
                "method": method,
                "failures_conversation": by_conversation,
                "failures_account": by_account,
                "retry_after": retry_after.isoformat(),
            },
            now=now,
        )
        return retry_after

    async def _daily_account_lock(
        self,
        session: AsyncSession,
        key: str,
        method: str,
        now: datetime,
        channel: str | None,
        conversation_id: str,
        account_id: int | None,
    ) -> datetime | None:
        """`daily_max_failures` in a day for one account, from anywhere: locked for a day."""
        failures = await self._failures(
            session, VerificationAttempt.account_key == key, now - self.rules.daily_window, now
        )
        if failures < self.rules.daily_max_failures or await lock_until(
            session, LockScope.ACCOUNT, [key], now
        ):
            return None
        until = now + self.rules.daily_lockout
        await add_lock(
            session,
            LockScope.ACCOUNT,
            key,
            until=until,
            reason="daily",
            now=now,
            mirror=self._mirror,
        )
        log.warning(
            "verification: an account was locked until %s after %d failures in a day",
            until.isoformat(),
            failures,
        )
        await _audit(
            session,
            actor="system",
            action="verification.account_locked",
            account_id=account_id,
            conversation_id=conversation_id,
            channel=channel,
            details={"method": method, "failures": failures, "retry_after": until.isoformat()},
            now=now,
        )
        return until

    async def _alert_if_climbing(self, session: AsyncSession, now: datetime) -> None:
        """Many failures across the service: one audit entry and a warning per window."""
        since = now - self.rules.alert_window
        failures = await self._failures(session, VerificationAttempt.id.is_not(None), since, now)
        if failures < self.rules.alert_failures:
            return
        already = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "verification.failure_rate_high",
                AuditEntry.at > since,
                AuditEntry.at <= now,
            )
        )
        if already:
            return
        minutes = int(self.rules.alert_window.total_seconds() // 60)
        log.warning(
            "verification failures are climbing: %d in the last %d minutes", failures, minutes
        )
        await _audit(
            session,
            actor="system",
            action="verification.failure_rate_high",
            details={"failures": failures, "window_minutes": minutes},
            now=now,
        )

    async def _locked(
        self,
        session: AsyncSession,
        conversation_id: str,
        key: str,
        source: Source,
        until: datetime,
        now: datetime,
        channel: str | None,
    ) -> VerificationResult:
        session.add(self._attempt(conversation_id, key, source, LOCKED_TRY, False, now))
        return VerificationResult(
            VerificationStatus.LOCKED, locked_message(until, now, self.rules), retry_after=until
        )


def _choice(account: Account) -> AccountChoice:
    return AccountChoice(
        account_id=account.id,
        last4=account.account_number[-4:],
        street=account.service_street,
        town=account.service_town,
        zip=account.service_zip,
        status=account.status,
    )


__all__ = [
    "MISMATCH_MESSAGE",
    "AccountChoice",
    "Tier",
    "VerificationResult",
    "VerificationRules",
    "VerificationService",
    "VerificationStatus",
    "VerifiedMember",
    "account_key",
    "normalize_account_number",
    "normalize_zip",
    "tier_still_valid",
]
