"""Settings a confirmed member changes themselves: paperless billing,
notification preferences, and the phone or email on file.

Why these rules:
- Every change writes one audit entry in the same transaction as the change, with masked values
  only (`***-***-0147`, `k***@example.com`): the audit log refuses raw phone numbers anyway.
- A new phone or email is only written after the member proves they can receive it: a one-time
  code goes to the NEW destination (purpose `contact_change`), and only the right code updates the
  Contact. The code is bound to the conversation; the new value travels with the check, and the
  check also verifies the masked destination the code was sent to matches it.
- The new phone must be a valid US number (`phonenumbers`), the email a simple `name@domain.tld`
  (no spaces, one @, a dot in the domain, at most 254 characters): enough to catch typos without
  pretending to validate deliverability, which the code does.
No Rasa types here; actions call this with a session factory and the clock's `now`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.masking import mask_email, mask_phone
from bot.services.members import Actor, MemberServices
from bot.services.otp import OtpService, OtpStatus, mask_destination
from bot.store.db import session_scope
from bot.store.models import Account, Contact, NotificationPreference, OneTimeCode

TOPICS = ("outage", "bill_ready", "payment_received", "past_due")
CHANNELS = ("sms", "email")
CONTACT_PURPOSE = "contact_change"

TOPIC_LABELS = {
    "outage": "outage alerts",
    "bill_ready": "bill-ready notices",
    "payment_received": "payment-received notices",
    "past_due": "past-due reminders",
}
CHANNEL_LABELS = {"sms": "text", "email": "email"}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class ContactValue:
    """A validated new contact: `value` normalised (E.164 or lower-case email), or `error`."""

    kind: str  # phone|email
    value: str | None = None
    error: str | None = None

    @property
    def masked(self) -> str:
        return mask(self.kind, self.value or "")


def mask(kind: str, value: str) -> str:
    return mask_email(value) if kind == "email" else mask_phone(value)


def normalize_phone(text: str | None) -> ContactValue:
    """A US phone number as E.164, or an error sentence a member can act on."""
    raw = (text or "").strip()
    if not raw or len(raw) > 40:
        return ContactValue(
            "phone", error="Please send the new phone number with area code, like 706-555-0147."
        )
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return ContactValue(
            "phone",
            error="That doesn't look like a phone number. Please send it with area code, like "
            "706-555-0147.",
        )
    if number.country_code != 1 or not phonenumbers.is_valid_number(number):
        return ContactValue(
            "phone",
            error="That isn't a valid US phone number. Please send it with area code, like "
            "706-555-0147.",
        )
    return ContactValue(
        "phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    )


def normalize_email(text: str | None) -> ContactValue:
    """A plausible email address in lower case, or an error sentence."""
    raw = (text or "").strip().strip(".,;")
    if len(raw) > 254 or not _EMAIL.fullmatch(raw):
        return ContactValue(
            "email",
            error="That doesn't look like an email address. Please send it like name@example.com.",
        )
    return ContactValue("email", raw.lower())


def normalize_contact(kind: str, text: str | None) -> ContactValue:
    if kind not in ("phone", "email"):
        raise ValueError(f"contact kind must be phone or email, not {kind!r}")
    return normalize_phone(text) if kind == "phone" else normalize_email(text)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class PaperlessResult:
    changed: bool  # False: it already was as asked
    paperless: bool


@dataclass(frozen=True)
class PreferenceResult:
    topic: str
    channel: str
    enabled: bool
    changed: bool


class ContactStatus(str, Enum):  # noqa: UP042 (a StrEnum would change what str() gives)
    CODE_SENT = "code_sent"
    INVALID = "invalid"
    SAME_AS_CURRENT = "same_as_current"
    SEND_FAILED = "send_failed"
    RATE_LIMITED = "rate_limited"
    UPDATED = "updated"
    WRONG_CODE = "wrong_code"
    MALFORMED_CODE = "malformed_code"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_CODE = "no_code"


@dataclass(frozen=True)
class ContactChange:
    status: ContactStatus
    kind: str
    new_value: str | None = None  # normalised; kept by the caller until the code is checked
    masked_new: str | None = None
    masked_old: str | None = None
    error: str | None = None
    attempts_left: int = 0


# ---------------------------------------------------------------- the service


class AccountSettings:
    """Paperless, notification preferences and contact changes, checked here (codes to the new
    contact, known topics) and written through the member services' write side (`members`:
    the billing system of record), or straight to our database when none is given."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        otp: OtpService | None = None,
        members: MemberServices | None = None,
    ) -> None:
        self._factory = session_factory
        self._otp = otp
        self._members = members

    # ---- paperless
    async def paperless(self, account_id: int) -> bool:
        async with self._factory() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise LookupError("no such account")
            return bool(account.paperless)

    async def set_paperless(self, actor: Actor, on: bool, *, now: datetime) -> PaperlessResult:
        """Turn paperless billing on or off for the actor's account (audited when it changes)."""
        if self._members is not None:
            changed = await self._members.set_paperless(actor, on, now=now)
        else:
            async with session_scope(self._factory) as session:
                changed = await write_paperless(session, actor, on, now=now)
        return PaperlessResult(changed=changed, paperless=on)

    # ---- notifications
    async def preferences(self, account_id: int) -> dict[tuple[str, str], bool]:
        """(topic, channel) -> enabled, for every stored preference of the account."""
        async with self._factory() as session:
            rows = await session.scalars(
                select(NotificationPreference).where(
                    NotificationPreference.account_id == account_id
                )
            )
            return {(row.topic, row.channel): bool(row.enabled) for row in rows}

    async def set_preference(
        self, actor: Actor, topic: str, channel: str, enabled: bool, *, now: datetime
    ) -> PreferenceResult:
        """Turn one (topic, channel) notification on or off; a missing row counts as off."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}")
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        if self._members is not None:
            changed = await self._members.set_notification_preference(
                actor, topic, channel, enabled, now=now
            )
        else:
            async with session_scope(self._factory) as session:
                changed = await write_preference(session, actor, topic, channel, enabled, now=now)
        return PreferenceResult(topic, channel, enabled, changed=changed)

    # ---- contacts
    async def current_contact(self, member_id: int, kind: str) -> str | None:
        """The primary phone/email on file (or the first one), unmasked: for the caller to mask."""
        async with self._factory() as session:
            rows = (
                await session.scalars(
                    select(Contact)
                    .where(Contact.member_id == member_id, Contact.kind == kind)
                    .order_by(Contact.is_primary.desc(), Contact.id)
                )
            ).all()
            return rows[0].value if rows else None

    async def start_contact_change(
        self, actor: Actor, kind: str, raw_value: str | None, *, now: datetime
    ) -> ContactChange:
        """Validate the new phone/email and send a code to it. Nothing is changed yet."""
        if self._otp is None:
            raise RuntimeError("contact changes need an OtpService")
        candidate = normalize_contact(kind, raw_value)
        if candidate.value is None:
            return ContactChange(ContactStatus.INVALID, kind, error=candidate.error)
        old = await self.current_contact(actor.member_id, kind)
        masked_old = mask(kind, old) if old else None
        if old is not None and old.lower() == candidate.value.lower():
            return ContactChange(
                ContactStatus.SAME_AS_CURRENT, kind, candidate.value, candidate.masked, masked_old
            )
        sent = await self._otp.send(
            conversation_id=actor.conversation_id,
            account_id=actor.account_id,
            purpose=CONTACT_PURPOSE,
            destination=candidate.value,
            channel="email" if kind == "email" else "sms",
            now=now,
        )
        if sent.status.value == "rate_limited":
            return ContactChange(
                ContactStatus.RATE_LIMITED, kind, candidate.value, candidate.masked, masked_old
            )
        if not sent.ok:
            return ContactChange(
                ContactStatus.SEND_FAILED,
                kind,
                candidate.value,
                candidate.masked,
                masked_old,
                error=sent.error,
            )
        return ContactChange(
            ContactStatus.CODE_SENT, kind, candidate.value, candidate.masked, masked_old
        )

    async def confirm_contact_change(
        self, actor: Actor, kind: str, new_value: str, code: str, *, now: datetime
    ) -> ContactChange:
        """Check the code sent to `new_value`; on success make it the primary contact of its
        kind."""
        if self._otp is None:
            raise RuntimeError("contact changes need an OtpService")
        candidate = normalize_contact(kind, new_value)
        if candidate.value is None:
            return ContactChange(ContactStatus.INVALID, kind, error=candidate.error)
        masked_new = candidate.masked
        if not await self._code_went_to(
            actor.conversation_id,
            mask_destination(candidate.value, "email" if kind == "email" else "sms"),
        ):
            return ContactChange(ContactStatus.NO_CODE, kind, candidate.value, masked_new)
        result = await self._otp.check(
            conversation_id=actor.conversation_id, purpose=CONTACT_PURPOSE, code=code, now=now
        )
        status_map = {
            OtpStatus.WRONG: ContactStatus.WRONG_CODE,
            OtpStatus.MALFORMED: ContactStatus.MALFORMED_CODE,
            OtpStatus.EXPIRED: ContactStatus.EXPIRED,
            OtpStatus.TOO_MANY_ATTEMPTS: ContactStatus.TOO_MANY_ATTEMPTS,
            OtpStatus.NONE_PENDING: ContactStatus.NO_CODE,
        }
        if not result.ok:
            return ContactChange(
                status_map[result.status],
                kind,
                candidate.value,
                masked_new,
                attempts_left=result.attempts_left,
            )
        if self._members is not None:
            old_value = await self._members.set_primary_contact(
                actor, kind, candidate.value, now=now
            )
        else:
            async with session_scope(self._factory) as session:
                old_value = await write_primary_contact(
                    session, actor, kind, candidate.value, now=now
                )
        masked_old = mask(kind, old_value) if old_value else None
        return ContactChange(ContactStatus.UPDATED, kind, candidate.value, masked_new, masked_old)

    async def _code_went_to(self, conversation_id: str, masked_destination: str) -> bool:
        """The newest unused contact-change code of this conversation went to this destination."""
        async with self._factory() as session:
            destination = await session.scalar(
                select(OneTimeCode.destination)
                .where(
                    OneTimeCode.conversation_id == conversation_id,
                    OneTimeCode.purpose == CONTACT_PURPOSE,
                    OneTimeCode.consumed_at.is_(None),
                )
                .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
                .limit(1)
            )
            return destination is None or destination == masked_destination


# ---------------------------------------------------------------- the writes, in one transaction
# The change, its audit entry and its integration event, in the caller's session: what the SQL
# member services do (bot/adapters/sql_member_services.py), and what a live adapter records in our
# database after the billing system accepted the change.


async def write_paperless(session: AsyncSession, actor: Actor, on: bool, *, now: datetime) -> bool:
    """Set paperless on the actor's account; False when it already was so (nothing written)."""
    account = await session.get(Account, actor.account_id)
    if account is None or account.member_id != actor.member_id:
        raise LookupError("no such account for this member")
    if bool(account.paperless) == on:
        return False
    account.paperless = on
    await actor.audit(session, "settings.paperless", {"paperless": on}, now=now)
    await actor.publish(session, "paperless.changed", {"paperless": on}, now=now)
    return True


async def write_preference(
    session: AsyncSession, actor: Actor, topic: str, channel: str, enabled: bool, *, now: datetime
) -> bool:
    """Turn one (topic, channel) notification on or off; False when it already was so."""
    row = await session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.account_id == actor.account_id,
            NotificationPreference.topic == topic,
            NotificationPreference.channel == channel,
        )
    )
    before = bool(row.enabled) if row is not None else False
    if before == enabled:
        return False
    if row is None:
        session.add(
            NotificationPreference(
                account_id=actor.account_id, topic=topic, channel=channel, enabled=enabled
            )
        )
    else:
        row.enabled = enabled
    details = {"topic": topic, "channel": channel, "enabled": enabled}
    await actor.audit(session, "settings.notification", details, now=now)
    await actor.publish(session, "notification_preference.changed", details, now=now)
    return True


async def write_primary_contact(
    session: AsyncSession, actor: Actor, kind: str, value: str, *, now: datetime
) -> str | None:
    """Make `value` (checked, normalized, confirmed by a code) the member's primary `kind`
    contact; returns the previous primary value (for the caller to mask), or None."""
    masked_new = mask(kind, value)
    rows = (
        await session.scalars(
            select(Contact)
            .where(Contact.member_id == actor.member_id, Contact.kind == kind)
            .order_by(Contact.is_primary.desc(), Contact.id)
        )
    ).all()
    old = rows[0] if rows else None
    old_value = old.value if old else None
    masked_old = mask(kind, old_value) if old_value else None
    existing = next((r for r in rows if r.value.lower() == value.lower()), None)
    for row in rows:
        row.is_primary = False
    if existing is not None:
        existing.is_primary, existing.is_verified = True, True
    elif old is not None:
        old.value, old.is_primary, old.is_verified = value, True, True
    else:
        session.add(
            Contact(
                member_id=actor.member_id,
                kind=kind,
                value=value,
                is_primary=True,
                is_verified=True,
                created_at=now,
            )
        )
    await actor.audit(
        session,
        f"settings.contact.{kind}",
        {"old": masked_old, "new": masked_new, "confirmed_by": "code to new"},
        now=now,
    )
    await actor.publish(
        session,
        "contact.changed",
        {
            "kind": kind,
            "new_value": value,
            "old_value_masked": masked_old,
            "verified": True,
            "confirmed_by": "one-time code sent to the new contact",
        },
        now=now,
    )
    return old_value
