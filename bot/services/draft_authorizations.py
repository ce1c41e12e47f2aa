"""Bank draft records: enrollments, the authorizations members agree to, and the member's copy.

NACHA asks that a WEB debit's authorization be shown, agreed, stored and copied to the member;
this module does the last three in one place. The wording and the date rules are
`bot.services.drafts`.

Two levels:
- `enroll`, `change`, `cancel` and `get_active` take the caller's `AsyncSession` and only
  `flush()`: the caller's `session_scope` commits, so an enrollment and its authorization record
  are saved together or not at all.
- `draft_situation`, `active_enrollment` and `record_enrollment`, `record_change`,
  `record_cancellation` take the session factory, the `MemberServices` and the `Notifier`: they
  open their own transactions, send the member's copy once the record is committed, and clear
  the record's `copy_sent_to` when the copy could not be sent, so it never claims a copy that did
  not go. Nothing they return is an ORM object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.dates import local_date
from bot.core.masking import mask_email, mask_phone
from bot.profile import CoopProfile
from bot.services import audit, drafts, events
from bot.services.drafts import DraftSituation, Enrollment
from bot.services.members import MemberServices, method_phrase
from bot.services.notify import SMS_MAX_CHARS, Notifier
from bot.store.db import session_scope
from bot.store.models import Account, DraftAuthorization, DraftEnrollment, PaymentMethod

# ---------------------------------------------------------------------------------------------
# Records (the caller's session)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    enrollment: DraftEnrollment
    first_skipped: date  # the first draft that will not happen
    still_happening: date | None  # a draft already with the bank, which still goes through


async def get_active(session: AsyncSession, account_id: int) -> DraftEnrollment | None:
    """The account's active enrollment, if any."""
    result = await session.execute(
        select(DraftEnrollment)
        .where(DraftEnrollment.account_id == account_id, DraftEnrollment.status == "active")
        .order_by(DraftEnrollment.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def _account(session: AsyncSession, account_id: int) -> Account:
    # FOR UPDATE (PostgreSQL) serialises two enrollments for the same account; SQLite ignores it
    # and serialises writers itself.
    result = await session.execute(
        select(Account).where(Account.id == account_id).with_for_update()
    )
    account = result.scalar_one_or_none()
    if account is None:
        raise drafts.AccountNotFound("I couldn't find that account. Please call member services.")
    return account


async def _bank_method(
    session: AsyncSession, account: Account, payment_method_id: int
) -> PaymentMethod:
    method = await session.get(PaymentMethod, payment_method_id)
    # A method of another member is reported exactly like a missing one.
    if method is None or method.member_id != account.member_id or not method.is_active:
        raise drafts.PaymentMethodNotFound(
            "I couldn't find that bank account. You can add one on our secure page."
        )
    if method.kind not in drafts.BANK_KINDS:
        raise drafts.CardNotAllowed(
            "Bank draft works with a checking or savings account, not a card."
        )
    return method


def _first_draft_and_text(
    profile: CoopProfile,
    account: Account,
    method: PaymentMethod,
    *,
    draft_day: int,
    amount_rule: str,
    amount: int | None,
    today: date,
) -> tuple[date, str]:
    """The first draft date under these terms (by the notice rule) and the authorization wording
    the member agrees to, rebuilt from the same inputs as the text they were shown."""
    starts_on = drafts.next_draft_date(draft_day, today, profile, amount_rule)
    text = drafts.authorization_text(
        profile,
        start_date=starts_on,
        draft_day=draft_day,
        amount_rule=amount_rule,
        fixed_amount_cents=amount,
        account_last4=account.account_number[-4:],
        method_kind=method.kind,
        method_last4=method.last4,
    )
    return starts_on, text


@dataclass(frozen=True)
class _Signed:
    """When, where and how the member agreed, and where their copy goes (masked)."""

    now: datetime
    channel: str
    verified_how: str
    conversation_id: str | None
    copy_sent_to: str | None


async def _authorize(
    session: AsyncSession,
    signed: _Signed,
    *,
    action: str,
    text: str,
    account: Account,
    enrollment: DraftEnrollment,
    details: dict[str, object],
) -> None:
    """Store the member's authorization (`action`: enroll, change or cancel) with its audit entry
    in the same transaction (`audit.record` refuses anything secret-looking)."""
    session.add(
        DraftAuthorization(
            enrollment_id=enrollment.id,
            action=action,
            text=text,
            accepted_at=signed.now,
            channel=signed.channel,
            verified_how=signed.verified_how,
            conversation_id=signed.conversation_id,
            copy_sent_to=signed.copy_sent_to,
        )
    )
    await audit.record(
        session,
        actor=f"member:{account.member_id}",
        action=f"draft.{action}",
        account_id=account.id,
        conversation_id=signed.conversation_id,
        channel=signed.channel,
        verified_how=signed.verified_how,
        details={"enrollment_id": enrollment.id, **details},
        now=signed.now,
    )
    await events.publish(
        session,
        _EVENT_KINDS[action],
        occurred_at=signed.now,
        data={
            "enrollment_id": enrollment.id,
            "authorization_text": text,
            "authorized_at": signed.now,
            "verified_how": signed.verified_how,
            "draft_day": enrollment.draft_day,
            "amount_rule": enrollment.amount_rule,
            "fixed_amount_cents": enrollment.fixed_amount_cents,
            "starts_on": enrollment.starts_on,
            "ends_on": enrollment.ends_on,
            "status": enrollment.status,
            "payment_method_id": enrollment.payment_method_id,
            **{k: v for k, v in details.items() if k not in ("draft_day", "amount_rule")},
        },
        account_id=account.id,
        member_id=account.member_id,
        channel=signed.channel,
        conversation_id=signed.conversation_id,
    )
    await session.flush()


_EVENT_KINDS = {"enroll": "draft.enrolled", "change": "draft.changed", "cancel": "draft.cancelled"}


async def enroll(
    session: AsyncSession,
    *,
    account_id: int,
    payment_method_id: int,
    draft_day: int,
    amount_rule: str,
    fixed_amount_cents: int | None,
    today: date,
    now: datetime,
    channel: str,
    verified_how: str,
    conversation_id: str | None,
    profile: CoopProfile,
    copy_sent_to: str | None = None,
) -> DraftEnrollment:
    """Enroll an account in bank draft and record the authorization the member agreed to.

    Call it only after the member saw `drafts.authorization_text(...)` for these same terms and
    said yes; the stored text is rebuilt from the same inputs, so it is exactly what was shown.
    """
    draft_day = drafts.validate_draft_day(draft_day, profile)
    amount = drafts.validate_terms(amount_rule, fixed_amount_cents, profile)
    account = await _account(session, account_id)
    method = await _bank_method(session, account, payment_method_id)
    if await get_active(session, account_id) is not None:
        raise drafts.AlreadyEnrolled(
            "This account is already on bank draft. I can change or cancel that enrollment instead."
        )
    starts_on, text = _first_draft_and_text(
        profile,
        account,
        method,
        draft_day=draft_day,
        amount_rule=amount_rule,
        amount=amount,
        today=today,
    )
    enrollment = DraftEnrollment(
        account_id=account.id,
        payment_method_id=method.id,
        draft_day=draft_day,
        amount_rule=amount_rule,
        fixed_amount_cents=amount,
        status="active",
        starts_on=starts_on,
        created_at=now,
    )
    session.add(enrollment)
    await session.flush()
    await _authorize(
        session,
        _Signed(now, channel, verified_how, conversation_id, copy_sent_to),
        action="enroll",
        text=text,
        account=account,
        enrollment=enrollment,
        details={
            "draft_day": draft_day,
            "amount_rule": amount_rule,
            "starts_on": starts_on.isoformat(),
            "method": method_phrase(method.kind, method.brand, method.last4),
        },
    )
    return enrollment


async def change(
    session: AsyncSession,
    *,
    account_id: int,
    today: date,
    now: datetime,
    channel: str,
    verified_how: str,
    conversation_id: str | None,
    profile: CoopProfile,
    draft_day: int | None = None,
    payment_method_id: int | None = None,
    amount_rule: str | None = None,
    fixed_amount_cents: int | None = None,
    copy_sent_to: str | None = None,
) -> DraftEnrollment:
    """Change the active enrollment's day, bank account or amount; records a new authorization.

    The enrollment is updated in place and `starts_on` becomes the first draft date under the new
    terms (by the same notice rule as enrolling); a draft already submitted to the bank before then
    still happens on the old terms. The authorization rows keep the history.
    """
    enrollment = await get_active(session, account_id)
    if enrollment is None:
        raise drafts.NotEnrolled(
            "This account isn't on bank draft yet. Would you like to set it up?"
        )
    account = await _account(session, account_id)
    new_day = (
        drafts.validate_draft_day(draft_day, profile)
        if draft_day is not None
        else enrollment.draft_day
    )
    new_rule = amount_rule or enrollment.amount_rule
    if new_rule == "fixed" and fixed_amount_cents is None and amount_rule is None:
        fixed_amount_cents = enrollment.fixed_amount_cents
    new_amount = drafts.validate_terms(new_rule, fixed_amount_cents, profile)
    method = await _bank_method(session, account, payment_method_id or enrollment.payment_method_id)
    starts_on, text = _first_draft_and_text(
        profile,
        account,
        method,
        draft_day=new_day,
        amount_rule=new_rule,
        amount=new_amount,
        today=today,
    )
    before = {
        "draft_day": enrollment.draft_day,
        "amount_rule": enrollment.amount_rule,
        "payment_method_id": enrollment.payment_method_id,
    }
    enrollment.draft_day = new_day
    enrollment.amount_rule = new_rule
    enrollment.fixed_amount_cents = new_amount
    enrollment.payment_method_id = method.id
    enrollment.starts_on = starts_on
    await _authorize(
        session,
        _Signed(now, channel, verified_how, conversation_id, copy_sent_to),
        action="change",
        text=text,
        account=account,
        enrollment=enrollment,
        details={
            "before": before,
            "draft_day": new_day,
            "amount_rule": new_rule,
            "starts_on": starts_on.isoformat(),
        },
    )
    return enrollment


async def cancel(
    session: AsyncSession,
    *,
    account_id: int,
    now: datetime,
    channel: str,
    verified_how: str,
    conversation_id: str | None,
    profile: CoopProfile,
    copy_sent_to: str | None = None,
) -> CancelResult:
    """Cancel the active enrollment at the member's request.

    `ends_on` is the last day a draft can still happen: the date of a draft already submitted to
    the bank, or the day of cancellation when none is. Authorization records are kept (retention
    counts from `ends_on`).
    """
    enrollment = await get_active(session, account_id)
    if enrollment is None:
        raise drafts.NotEnrolled("This account isn't on bank draft, so there's nothing to cancel.")
    account = await _account(session, account_id)
    today = local_date(now, profile.timezone)
    first_skipped = drafts.cancellation_effective(enrollment, now, profile)
    still = drafts.draft_still_happening(enrollment, now, profile)
    enrollment.status = "cancelled"
    enrollment.cancelled_at = now
    enrollment.ends_on = still or today
    await _authorize(
        session,
        _Signed(now, channel, verified_how, conversation_id, copy_sent_to),
        action="cancel",
        text=drafts.cancellation_text(
            profile, cancelled_on=today, first_skipped=first_skipped, still_happening=still
        ),
        account=account,
        enrollment=enrollment,
        details={
            "first_skipped": first_skipped.isoformat(),
            "still_happening": still.isoformat() if still else None,
        },
    )
    return CancelResult(enrollment, first_skipped, still)


async def _written_authorization(session: AsyncSession, enrollment_id: int) -> DraftAuthorization:
    """The authorization row this transaction just wrote for the enrollment: the newest one (the
    account's row lock serialises writers)."""
    rows = await session.scalars(
        select(DraftAuthorization)
        .where(DraftAuthorization.enrollment_id == enrollment_id)
        .order_by(DraftAuthorization.id.desc())
        .limit(1)
    )
    return rows.one()


def _view(enrollment: DraftEnrollment) -> Enrollment:
    return Enrollment(
        id=enrollment.id,
        account_id=enrollment.account_id,
        payment_method_id=enrollment.payment_method_id,
        draft_day=enrollment.draft_day,
        amount_rule=enrollment.amount_rule,
        fixed_amount_cents=enrollment.fixed_amount_cents,
        starts_on=enrollment.starts_on,
    )


# ---------------------------------------------------------------------------------------------
# Reading the member's draft situation
# ---------------------------------------------------------------------------------------------


async def active_enrollment(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> Enrollment | None:
    """The account's active enrollment, if any."""
    async with sessions() as session:
        enrollment = await get_active(session, account_id)
        return _view(enrollment) if enrollment is not None else None


async def draft_situation(
    sessions: async_sessionmaker[AsyncSession],
    members: MemberServices,
    *,
    account_id: int,
    member_id: int,
) -> DraftSituation:
    """The account (its last four), its active enrollment and the member's saved methods."""
    account = await members.account(account_id)
    methods = await members.saved_methods(member_id)
    enrollment = await active_enrollment(sessions, account_id)
    return DraftSituation(
        account_last4=account.last4 if account else "",
        enrollment=enrollment,
        methods=methods,
    )


# ---------------------------------------------------------------------------------------------
# The member's copy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyDestination:
    kind: str  # email|sms
    to: str
    masked: str


@dataclass(frozen=True)
class CopyOutcome:
    """Where the member's copy went (masked), or None when it could not be sent."""

    sent_to: str | None

    @property
    def sent(self) -> bool:
        return self.sent_to is not None


async def copy_destination(members: MemberServices, member_id: int) -> CopyDestination | None:
    """The email on file (primary and verified first), else the phone on file; None if neither."""
    contacts = await members.member_contacts(member_id)
    ranked = sorted(contacts, key=lambda c: (not c.is_primary, not c.is_verified))
    email = next((c for c in ranked if c.kind == "email"), None)
    if email is not None:
        return CopyDestination("email", email.value, mask_email(email.value))
    phone = next((c for c in ranked if c.kind == "phone"), None)
    if phone is not None:
        return CopyDestination("sms", phone.value, mask_phone(phone.value))
    return None


async def send_copy(
    notifier: Notifier,
    profile: CoopProfile,
    destination: CopyDestination,
    subject: str,
    text: str,
) -> bool:
    """Email the copy with `subject`, or text it (with the co-op's short name when it fits)."""
    if destination.kind == "email":
        result = await notifier.send_email(destination.to, subject, text)
    else:
        short = f"{profile.coop.short_name}: {text}"
        result = await notifier.send_sms(
            destination.to, short if len(short) <= SMS_MAX_CHARS else text
        )
    return result.ok


async def deliver_copy(
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    profile: CoopProfile,
    destination: CopyDestination | None,
    *,
    authorization_id: int,
    subject: str,
    text: str,
) -> CopyOutcome:
    """Send the copy of a committed authorization; if it could not go, clear the record's
    `copy_sent_to` so it does not claim a copy was sent."""
    if destination is None:  # no contact on file: the record says so already
        return CopyOutcome(None)
    if await send_copy(notifier, profile, destination, subject, text):
        return CopyOutcome(destination.masked)
    async with session_scope(sessions) as session:
        await session.execute(
            update(DraftAuthorization)
            .where(DraftAuthorization.id == authorization_id)
            .values(copy_sent_to=None)
        )
    return CopyOutcome(None)


# ---------------------------------------------------------------------------------------------
# Enroll, change, cancel: the record and the copy together
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """Who agreed, where and how: stored on the authorization and in the audit entry."""

    member_id: int
    account_id: int
    now: datetime
    channel: str
    verified_how: str
    conversation_id: str | None

    def signature(self) -> _Signature:
        """The keyword arguments `enroll`, `change` and `cancel` take for who agreed and how."""
        return _Signature(
            now=self.now,
            channel=self.channel,
            verified_how=self.verified_how,
            conversation_id=self.conversation_id,
        )


class _Signature(TypedDict):
    now: datetime
    channel: str
    verified_how: str
    conversation_id: str | None


@dataclass(frozen=True)
class Recorded:
    """An enrollment or change, committed with its authorization; `copy` says where it went."""

    enrollment: Enrollment
    copy: CopyOutcome
    still_happening: date | None = None  # a change: a draft already with the bank, old terms


@dataclass(frozen=True)
class Cancelled:
    """A committed cancellation: its text (the record and the member's copy) and the copy."""

    text: str
    first_skipped: date
    still_happening: date | None
    copy: CopyOutcome


_T = TypeVar("_T")


async def _store_then_copy(
    sessions: async_sessionmaker[AsyncSession],
    members: MemberServices,
    notifier: Notifier,
    profile: CoopProfile,
    agreement: Agreement,
    subject: str,
    store: Callable[[AsyncSession, str | None], Awaitable[tuple[DraftEnrollment, _T]]],
) -> tuple[Enrollment, str, CopyOutcome, _T]:
    """Run `store` (given the session and where the copy will go, masked) in one transaction,
    then send the member a copy of the authorization it wrote, once that is committed.

    Returns the enrollment, the stored text, where the copy went and what `store` returned.
    """
    destination = await copy_destination(members, agreement.member_id)
    async with session_scope(sessions) as session:
        enrollment, extra = await store(session, destination.masked if destination else None)
        written = await _written_authorization(session, enrollment.id)
        view, authorization_id, text = _view(enrollment), written.id, written.text
    copy = await deliver_copy(
        sessions,
        notifier,
        profile,
        destination,
        authorization_id=authorization_id,
        subject=subject,
        text=text,
    )
    return view, text, copy, extra


async def record_enrollment(
    sessions: async_sessionmaker[AsyncSession],
    members: MemberServices,
    notifier: Notifier,
    profile: CoopProfile,
    agreement: Agreement,
    *,
    payment_method_id: int,
    draft_day: int,
    amount_rule: str,
    fixed_amount_cents: int | None,
    today: date,
) -> Recorded:
    """Enroll the account, store the authorization, and send the member a copy of it.

    Raises `DraftError` (nothing stored, no copy) when the terms or the account do not allow it.
    """

    async def store(
        session: AsyncSession, copy_sent_to: str | None
    ) -> tuple[DraftEnrollment, None]:
        enrollment = await enroll(
            session,
            account_id=agreement.account_id,
            payment_method_id=payment_method_id,
            draft_day=draft_day,
            amount_rule=amount_rule,
            fixed_amount_cents=fixed_amount_cents,
            today=today,
            **agreement.signature(),
            profile=profile,
            copy_sent_to=copy_sent_to,
        )
        return enrollment, None

    subject = f"{profile.coop.name}: your bank draft authorization"
    view, _, copy, _ = await _store_then_copy(
        sessions, members, notifier, profile, agreement, subject, store
    )
    return Recorded(view, copy)


async def record_change(
    sessions: async_sessionmaker[AsyncSession],
    members: MemberServices,
    notifier: Notifier,
    profile: CoopProfile,
    agreement: Agreement,
    *,
    today: date,
    draft_day: int | None = None,
    payment_method_id: int | None = None,
    amount_rule: str | None = None,
    fixed_amount_cents: int | None = None,
) -> Recorded:
    """Change the active enrollment's terms, store the new authorization, send the member a copy.

    `still_happening` is a draft already submitted under the old terms, which goes through as is.
    """

    async def store(
        session: AsyncSession, copy_sent_to: str | None
    ) -> tuple[DraftEnrollment, date | None]:
        current = await get_active(session, agreement.account_id)
        still = (
            drafts.draft_still_happening(current, agreement.now, profile)
            if current is not None
            else None
        )
        enrollment = await change(
            session,
            account_id=agreement.account_id,
            today=today,
            **agreement.signature(),
            profile=profile,
            draft_day=draft_day,
            payment_method_id=payment_method_id,
            amount_rule=amount_rule,
            fixed_amount_cents=fixed_amount_cents,
            copy_sent_to=copy_sent_to,
        )
        return enrollment, still

    subject = f"{profile.coop.name}: your new bank draft authorization"
    view, _, copy, still = await _store_then_copy(
        sessions, members, notifier, profile, agreement, subject, store
    )
    return Recorded(view, copy, still)


async def record_cancellation(
    sessions: async_sessionmaker[AsyncSession],
    members: MemberServices,
    notifier: Notifier,
    profile: CoopProfile,
    agreement: Agreement,
) -> Cancelled:
    """Cancel the active enrollment, store the cancellation record, send the member a copy."""

    async def store(
        session: AsyncSession, copy_sent_to: str | None
    ) -> tuple[DraftEnrollment, CancelResult]:
        result = await cancel(
            session,
            account_id=agreement.account_id,
            **agreement.signature(),
            profile=profile,
            copy_sent_to=copy_sent_to,
        )
        return result.enrollment, result

    subject = f"{profile.coop.name}: your bank draft is cancelled"
    _, text, copy, result = await _store_then_copy(
        sessions, members, notifier, profile, agreement, subject, store
    )
    return Cancelled(text, result.first_skipped, result.still_happening, copy)
