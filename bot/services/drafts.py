"""Recurring bank drafts (NACHA "WEB" debits): the rules and the wording. No I/O here: the records
(enrollments, authorizations, the member's copy) are `bot.services.draft_authorizations`.

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
  date on a weekend or Federal Reserve holiday settles on the next bank business day (or the
  previous one: `drafts.bank_holiday_rule`), `settlement_date` below, using the bank calendar of
  `bot.services.calendars`. The amount notice of a full-balance draft goes out
  `amount_notice_days` before the day it settles (`amount_notice_date`), and the draft-run record
  is written on that day (bot/worker/notices.py).

Errors are `DraftError` subclasses whose message can be shown to the member as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.core.dates import local_date, ordinal, spell_date
from bot.core.money import format_cents
from bot.profile import CoopProfile
from bot.services import calendars
from bot.services.members import MethodRecord, method_phrase

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
# What the rules read: an enrollment's schedule, the terms a member chooses, their situation
# ---------------------------------------------------------------------------------------------


class DraftSchedule(Protocol):
    """What the date rules need of an enrollment (a stored row or an `Enrollment`)."""

    @property
    def draft_day(self) -> int: ...

    @property
    def starts_on(self) -> date: ...


@dataclass(frozen=True)
class Enrollment:
    """An account's active enrollment as the conversation sees it: a copy, never the ORM row."""

    id: int
    account_id: int
    payment_method_id: int
    draft_day: int
    amount_rule: str  # full_balance|fixed
    fixed_amount_cents: int | None
    starts_on: date


@dataclass(frozen=True)
class DraftSituation:
    """The member's draft situation: the account, its enrollment (if any), the saved methods."""

    account_last4: str
    enrollment: Enrollment | None
    methods: list[MethodRecord]

    @property
    def bank_methods(self) -> list[MethodRecord]:
        """The saved checking and savings accounts a draft can use."""
        return bank_methods(self.methods)

    @property
    def method(self) -> MethodRecord | None:
        """The bank account the enrollment drafts, if it is still saved."""
        if self.enrollment is None:
            return None
        return next((m for m in self.methods if m.id == self.enrollment.payment_method_id), None)


@dataclass(frozen=True)
class DraftTerms:
    """The terms the member is choosing, enough to build the authorization wording."""

    draft_day: int
    amount_rule: str
    fixed_amount_cents: int | None
    method_kind: str
    method_last4: str


def bank_methods(methods: list[MethodRecord]) -> list[MethodRecord]:
    return [m for m in methods if m.kind in BANK_KINDS and m.is_active]


def proposed_terms(
    situation: DraftSituation,
    *,
    draft_day: int | None,
    amount_rule: str | None,
    fixed_amount_cents: int | None,
    payment_method_id: int | None,
) -> DraftTerms | None:
    """The terms chosen; in a change, the current enrollment fills whatever is not changing.

    None when no day is known or the bank account is gone (or is not a bank account).
    """
    current = situation.enrollment
    day = draft_day or (current.draft_day if current else None)
    rule = amount_rule or (current.amount_rule if current else None) or "full_balance"
    fixed = fixed_amount_cents
    if rule == "fixed" and fixed is None and current is not None and current.amount_rule == "fixed":
        fixed = current.fixed_amount_cents
    method_id = payment_method_id or (current.payment_method_id if current else None)
    method = next((m for m in situation.methods if m.id == method_id), None)
    if day is None or method is None or method.kind not in BANK_KINDS:
        return None
    return DraftTerms(
        int(day), rule, int(fixed) if fixed is not None else None, method.kind, method.last4
    )


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


# ---------------------------------------------------------------------------------------------
# Pure rules
# ---------------------------------------------------------------------------------------------


def allowed_days(profile: CoopProfile) -> tuple[int, ...]:
    return profile.drafts.allowed_days


def fixed_amount_offered(profile: CoopProfile) -> bool:
    """Whether the co-op offers a fixed monthly amount besides the full amount due."""
    return "fixed" in profile.drafts.amount_rules


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
    """The first date on `day` of a month, on or after `earliest`."""
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
    """The first draft date on `day` that leaves the notice the rule needs (module docstring)."""
    day = validate_draft_day(day, profile)
    return _draft_date_on_or_after(day, today + timedelta(days=notice_days(amount_rule, profile)))


def upcoming_draft_date(schedule: DraftSchedule, today: date) -> date:
    """An enrollment's next draft date: its draft day, today or later, never before it starts."""
    return _draft_date_on_or_after(schedule.draft_day, max(today, schedule.starts_on))


def scheduled_dates(schedule: DraftSchedule, start: date, end: date) -> list[date]:
    """The draft dates (the draft day of each month) from `start` to `end`, both included, never
    before the enrollment starts."""
    out: list[date] = []
    day = _draft_date_on_or_after(schedule.draft_day, max(start, schedule.starts_on))
    while day <= end:
        out.append(day)
        day = _draft_date_on_or_after(schedule.draft_day, day + timedelta(days=1))
    return out


def settlement_date(draft_date: date, profile: CoopProfile) -> date:
    """The bank business day a draft dated `draft_date` settles (module docstring)."""
    return calendars.bank_draft_date(draft_date, profile)


def amount_notice_date(draft_date: date, profile: CoopProfile) -> date:
    """The day the amount-and-date notice of a full-balance draft goes out: `amount_notice_days`
    calendar days before the draft settles."""
    return settlement_date(draft_date, profile) - timedelta(days=profile.drafts.amount_notice_days)


def submission_date(draft_date: date, profile: CoopProfile) -> date:
    """The day a draft goes to the bank; from then on the member can no longer stop it."""
    return draft_date - timedelta(days=profile.drafts.member_cancel_notice_days)


def draft_still_happening(
    enrollment: DraftSchedule, now: datetime, profile: CoopProfile
) -> date | None:
    """A draft already submitted to the bank (so a cancel now does not stop it), if any."""
    today = local_date(now, profile.timezone)
    upcoming = upcoming_draft_date(enrollment, today)
    return upcoming if submission_date(upcoming, profile) <= today else None


def cancellation_effective(enrollment: DraftSchedule, now: datetime, profile: CoopProfile) -> date:
    """The first draft date that will NOT happen if the member cancels at `now`."""
    today = local_date(now, profile.timezone)
    upcoming = upcoming_draft_date(enrollment, today)
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
    """The authorization wording the member agrees to (`profile.drafts.authorization_template`)."""
    return profile.drafts.authorization_template.format(
        start_date=spell_date(start_date),
        coop_name=profile.coop.name,
        amount_phrase=amount_phrase(amount_rule, fixed_amount_cents),
        account_last4=account_last4,
        method_label=method_phrase(method_kind, None, method_last4),
        draft_day_ordinal=ordinal(draft_day),
        cancel_notice_days=profile.drafts.member_cancel_notice_days,
    )


def terms_authorization(
    profile: CoopProfile, terms: DraftTerms, *, account_last4: str, today: date
) -> str:
    """The authorization wording for `terms` agreed `today`: what is shown, and later stored."""
    return authorization_text(
        profile,
        start_date=next_draft_date(terms.draft_day, today, profile, terms.amount_rule),
        draft_day=terms.draft_day,
        amount_rule=terms.amount_rule,
        fixed_amount_cents=terms.fixed_amount_cents,
        account_last4=account_last4,
        method_kind=terms.method_kind,
        method_last4=terms.method_last4,
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


def cancellation_text(
    profile: CoopProfile, *, cancelled_on: date, first_skipped: date, still_happening: date | None
) -> str:
    """The record (and the member's copy) of a cancellation."""
    text = (
        f"Bank draft cancelled on {spell_date(cancelled_on)}. {profile.coop.name} will make no "
        f"drafts from {spell_date(first_skipped)} on."
    )
    if still_happening is not None:
        text += (
            f" The draft on {spell_date(still_happening)} was already sent to the bank and will "
            "still happen."
        )
    return text
