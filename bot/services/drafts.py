"""Recurring bank drafts (NACHA "WEB" debits): the rules, the authorization wording, and the records.

The notice rules, as this module applies them (all day counts are local calendar days in the
profile's time zone, numbers from `profile.drafts`):

- First draft date. A full-balance draft varies every month, so the member must be told its amount
  and date at least `amount_notice_days` (10) before it: the first draft is the first allowed draft
  day at least that many days after enrollment. A fixed amount needs no amount notice, but the
  member must still be able to cancel it in time, so its first draft is at least
  `member_cancel_notice_days` (3) away. A change of terms follows the same rule with the new terms.
- Submission and cancellation. Drafts are submitted to the bank `member_cancel_notice_days` days
  before the draft date (a draft on the 18th goes to the bank on the 15th). A member's cancellation
  takes effect for every draft not yet submitted, so a cancel on the 15th or later still lets the
  18th's draft go through, and a cancel on the 14th stops it ("cancel at least 3 days before a draft
  date" in the authorization wording).
- Draft days are 1..28 (the profile refuses others), so a draft date exists in every month. A draft
  date on a weekend or holiday is settled by the bank on its next business day; the scheduler, not
  these rules, deals with that.

The async operations take the caller's `AsyncSession` and only `flush()`: the caller's
`session_scope` commits, so an enrollment and its authorization record are saved together or not
at all. Errors are `DraftError` subclasses whose message can be shown to the member as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.dates import ordinal, spell_date
from bot.core.money import format_cents
from bot.profile import CoopProfile
from bot.services import audit
from bot.store.models import Account, DraftAuthorization, DraftEnrollment, PaymentMethod

BANK_KINDS = frozenset({"checking", "savings"})


# ---------------------------------------------------------------------------------------------
# Errors (messages are member-facing)
# ---------------------------------------------------------------------------------------------


class DraftError(ValueError):
    """A draft request that cannot be done; `str(error)` is a sentence for the member."""


class DraftDayNotAllowed(DraftError):
    pass


class AmountRuleNotAllowed(DraftError):
    pass


class DraftAmountInvalid(DraftError):
    pass


class CardNotAllowed(DraftError):
    pass


class PaymentMethodNotFound(DraftError):
    pass


class AccountNotFound(DraftError):
    pass


class AlreadyEnrolled(DraftError):
    pass


class NotEnrolled(DraftError):
    pass


# ---------------------------------------------------------------------------------------------
# Wording helpers
# ---------------------------------------------------------------------------------------------


def _or_list(items: list[str]) -> str:
    if len(items) <= 2:
        return " or ".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def describe_allowed_days(profile: CoopProfile) -> str:
    """ "the 3rd or the 18th" (or "any day from the 1st to the 28th" when all are allowed)."""
    days = allowed_days(profile)
    if days == tuple(range(1, 29)):
        return "any day from the 1st to the 28th"
    return _or_list([f"the {ordinal(d)}" for d in days])


def method_label(kind: str, last4: str) -> str:
    """ "checking ending 6120" / "savings ending 0042"."""
    return f"{kind} ending {last4}"


# ---------------------------------------------------------------------------------------------
# Pure rules
# ---------------------------------------------------------------------------------------------


def allowed_days(profile: CoopProfile) -> tuple[int, ...]:
    return profile.drafts.allowed_days


def validate_draft_day(day: int | str, profile: CoopProfile) -> int:
    """An allowed draft day from 18, "18", "18th" or "the 18th"; `DraftDayNotAllowed` otherwise."""
    value: int | None
    if isinstance(day, bool):
        value = None
    elif isinstance(day, int):
        value = day
    else:
        text = str(day).strip().lower().removeprefix("the ").strip()
        for suffix in ("st", "nd", "rd", "th"):
            if text.endswith(suffix) and text[: -len(suffix)].isdigit():
                text = text[: -len(suffix)]
                break
        value = int(text) if text.isdigit() else None
    if value is None or value not in allowed_days(profile):
        raise DraftDayNotAllowed(
            f"We can draft on {describe_allowed_days(profile)} of the month. Which works for you?"
        )
    return value


def notice_days(amount_rule: str, profile: CoopProfile) -> int:
    """Days needed between enrollment (or a change) and the first draft under the new terms."""
    rules = profile.drafts
    if amount_rule == "full_balance":
        return max(rules.amount_notice_days, rules.member_cancel_notice_days)
    return rules.member_cancel_notice_days


def _draft_date_on_or_after(day: int, earliest: date) -> date:
    candidate = earliest.replace(day=day) if earliest.day <= day else None
    if candidate is None:
        year, month = (
            (earliest.year + 1, 1) if earliest.month == 12 else (earliest.year, earliest.month + 1)
        )
        candidate = date(year, month, day)
    return candidate


def next_draft_date(
    day: int, today: date, profile: CoopProfile, amount_rule: str = "full_balance"
) -> date:
    """The first draft date on `day` that leaves the notice the rule needs (see module docstring)."""
    day = validate_draft_day(day, profile)
    return _draft_date_on_or_after(day, today + timedelta(days=notice_days(amount_rule, profile)))


def _local_today(now: datetime, profile: CoopProfile) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("drafts need a timezone-aware datetime, got a naive one")
    return now.astimezone(profile.timezone).date()


def submission_date(draft_date: date, profile: CoopProfile) -> date:
    """The day a draft goes to the bank; from then on the member can no longer stop it."""
    return draft_date - timedelta(days=profile.drafts.member_cancel_notice_days)


def draft_still_happening(
    enrollment: DraftEnrollment, now: datetime, profile: CoopProfile
) -> date | None:
    """A draft already submitted to the bank (so a cancel now does not stop it), if any."""
    today = _local_today(now, profile)
    upcoming = _draft_date_on_or_after(enrollment.draft_day, max(today, enrollment.starts_on))
    return upcoming if submission_date(upcoming, profile) <= today else None


def cancellation_effective(
    enrollment: DraftEnrollment, now: datetime, profile: CoopProfile
) -> date:
    """The first draft date that will NOT happen if the member cancels at `now`."""
    today = _local_today(now, profile)
    upcoming = _draft_date_on_or_after(enrollment.draft_day, max(today, enrollment.starts_on))
    if submission_date(upcoming, profile) <= today:  # already with the bank: it still happens
        upcoming = _draft_date_on_or_after(enrollment.draft_day, upcoming + timedelta(days=1))
    return upcoming


def amount_phrase(amount_rule: str, fixed_amount_cents: int | None) -> str:
    if amount_rule == "full_balance":
        return "the full amount due"
    if amount_rule == "fixed" and fixed_amount_cents is not None:
        return format_cents(fixed_amount_cents)
    raise ValueError(
        f"no amount phrase for rule {amount_rule!r} with amount {fixed_amount_cents!r}"
    )


def authorization_text(
    profile: CoopProfile,
    *,
    start_date: date,
    draft_day: int,
    amount_rule: str,
    fixed_amount_cents: int | None,
    account_last4: str,
    method_kind: str,
    method_last4: str,
) -> str:
    """The authorization wording the member agrees to, from `profile.drafts.authorization_template`."""
    return profile.drafts.authorization_template.format(
        start_date=spell_date(start_date),
        coop_name=profile.coop.name,
        amount_phrase=amount_phrase(amount_rule, fixed_amount_cents),
        account_last4=account_last4,
        method_label=method_label(method_kind, method_last4),
        draft_day_ordinal=ordinal(draft_day),
        cancel_notice_days=profile.drafts.member_cancel_notice_days,
    )


def validate_terms(
    amount_rule: str, fixed_amount_cents: int | None, profile: CoopProfile
) -> int | None:
    """Check the amount rule and amount; returns the amount to store (None for full balance)."""
    if amount_rule not in profile.drafts.amount_rules:
        if amount_rule == "fixed":
            raise AmountRuleNotAllowed(
                "Bank draft pays the full amount due each month; a fixed amount isn't offered."
            )
        raise AmountRuleNotAllowed(
            "Bank draft can pay the full amount due or a fixed amount each month."
        )
    if amount_rule == "full_balance":
        return None
    low, high = profile.payments.minimum_cents, profile.payments.maximum_cents
    if fixed_amount_cents is None or not low <= fixed_amount_cents <= high:
        raise DraftAmountInvalid(
            f"A fixed draft amount must be from {format_cents(low)} to {format_cents(high)}."
        )
    return fixed_amount_cents


# ---------------------------------------------------------------------------------------------
# Records
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
        raise AccountNotFound("I couldn't find that account. Please call member services.")
    return account


async def _bank_method(
    session: AsyncSession, account: Account, payment_method_id: int
) -> PaymentMethod:
    method = await session.get(PaymentMethod, payment_method_id)
    # A method of another member is reported exactly like a missing one.
    if method is None or method.member_id != account.member_id or not method.is_active:
        raise PaymentMethodNotFound(
            "I couldn't find that bank account. You can add one on our secure page."
        )
    if method.kind not in BANK_KINDS:
        raise CardNotAllowed("Bank draft works with a checking or savings account, not a card.")
    return method


async def _audit(
    session: AsyncSession,
    *,
    action: str,
    account: Account,
    enrollment: DraftEnrollment,
    now: datetime,
    channel: str,
    verified_how: str,
    conversation_id: str | None,
    details: dict[str, object],
) -> None:
    """One audit entry in the same transaction (bot.services.audit refuses anything secret-looking)."""
    await audit.record(
        session,
        actor=f"member:{account.member_id}",
        action=action,
        account_id=account.id,
        conversation_id=conversation_id,
        channel=channel,
        verified_how=verified_how,
        details={"enrollment_id": enrollment.id, **details},
        now=now,
    )


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

    Call it only after the member saw `authorization_text(...)` for these same terms and said yes;
    the stored text is rebuilt from the same inputs, so it is exactly what was shown.
    """
    draft_day = validate_draft_day(draft_day, profile)
    amount = validate_terms(amount_rule, fixed_amount_cents, profile)
    account = await _account(session, account_id)
    method = await _bank_method(session, account, payment_method_id)
    if await get_active(session, account_id) is not None:
        raise AlreadyEnrolled(
            "This account is already on bank draft. I can change or cancel that enrollment instead."
        )
    starts_on = next_draft_date(draft_day, today, profile, amount_rule)
    text = authorization_text(
        profile,
        start_date=starts_on,
        draft_day=draft_day,
        amount_rule=amount_rule,
        fixed_amount_cents=amount,
        account_last4=account.account_number[-4:],
        method_kind=method.kind,
        method_last4=method.last4,
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
    session.add(
        DraftAuthorization(
            enrollment_id=enrollment.id,
            action="enroll",
            text=text,
            accepted_at=now,
            channel=channel,
            verified_how=verified_how,
            conversation_id=conversation_id,
            copy_sent_to=copy_sent_to,
        )
    )
    await _audit(
        session,
        action="draft.enroll",
        account=account,
        enrollment=enrollment,
        now=now,
        channel=channel,
        verified_how=verified_how,
        conversation_id=conversation_id,
        details={
            "draft_day": draft_day,
            "amount_rule": amount_rule,
            "starts_on": starts_on.isoformat(),
            "method": method_label(method.kind, method.last4),
        },
    )
    await session.flush()
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
        raise NotEnrolled("This account isn't on bank draft yet. Would you like to set it up?")
    account = await _account(session, account_id)
    new_day = (
        validate_draft_day(draft_day, profile) if draft_day is not None else enrollment.draft_day
    )
    new_rule = amount_rule or enrollment.amount_rule
    if new_rule == "fixed" and fixed_amount_cents is None and amount_rule is None:
        fixed_amount_cents = enrollment.fixed_amount_cents
    new_amount = validate_terms(new_rule, fixed_amount_cents, profile)
    method = await _bank_method(session, account, payment_method_id or enrollment.payment_method_id)
    starts_on = next_draft_date(new_day, today, profile, new_rule)
    text = authorization_text(
        profile,
        start_date=starts_on,
        draft_day=new_day,
        amount_rule=new_rule,
        fixed_amount_cents=new_amount,
        account_last4=account.account_number[-4:],
        method_kind=method.kind,
        method_last4=method.last4,
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
    session.add(
        DraftAuthorization(
            enrollment_id=enrollment.id,
            action="change",
            text=text,
            accepted_at=now,
            channel=channel,
            verified_how=verified_how,
            conversation_id=conversation_id,
            copy_sent_to=copy_sent_to,
        )
    )
    await _audit(
        session,
        action="draft.change",
        account=account,
        enrollment=enrollment,
        now=now,
        channel=channel,
        verified_how=verified_how,
        conversation_id=conversation_id,
        details={
            "before": before,
            "draft_day": new_day,
            "amount_rule": new_rule,
            "starts_on": starts_on.isoformat(),
        },
    )
    await session.flush()
    return enrollment


def cancellation_text(
    profile: CoopProfile, *, cancelled_on: date, first_skipped: date, still_happening: date | None
) -> str:
    """The record (and the member's copy) of a cancellation."""
    text = (
        f"Bank draft cancelled on {spell_date(cancelled_on)}. {profile.coop.name} will make no drafts "
        f"from {spell_date(first_skipped)} on."
    )
    if still_happening is not None:
        text += f" The draft on {spell_date(still_happening)} was already sent to the bank and will still happen."
    return text


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
        raise NotEnrolled("This account isn't on bank draft, so there's nothing to cancel.")
    account = await _account(session, account_id)
    today = _local_today(now, profile)
    first_skipped = cancellation_effective(enrollment, now, profile)
    still = draft_still_happening(enrollment, now, profile)
    enrollment.status = "cancelled"
    enrollment.cancelled_at = now
    enrollment.ends_on = still or today
    session.add(
        DraftAuthorization(
            enrollment_id=enrollment.id,
            action="cancel",
            text=cancellation_text(
                profile, cancelled_on=today, first_skipped=first_skipped, still_happening=still
            ),
            accepted_at=now,
            channel=channel,
            verified_how=verified_how,
            conversation_id=conversation_id,
            copy_sent_to=copy_sent_to,
        )
    )
    await _audit(
        session,
        action="draft.cancel",
        account=account,
        enrollment=enrollment,
        now=now,
        channel=channel,
        verified_how=verified_how,
        conversation_id=conversation_id,
        details={
            "first_skipped": first_skipped.isoformat(),
            "still_happening": still.isoformat() if still else None,
        },
    )
    await session.flush()
    return CancelResult(enrollment, first_skipped, still)
