"""Bill, payment and draft notices, and the draft-run record: periodic jobs of the worker.

What goes out, and when (docs/operations.md "Notices"; all dates local to the profile's time zone,
taken from the injected clock):

- `bill_ready` when a bill (not yet paid) has been issued in the last `notices.lookback_days`;
  `payment_received` for a succeeded payment received in that time (drafts get the draft result
  instead); `past_due` once a bill's due date has passed and the balance rules
  (`bot.services.balance`) still find a past-due amount, with the late fee and the profile's
  disconnection rule. These go by the member's stored preferences (topic and channel).
- `draft_notice`, the amount and date of each full-balance draft (NACHA: notice of a varying
  amount), `drafts.amount_notice_days` before the day it settles on the bank calendar
  (`bot.services.drafts.amount_notice_date`); the draft-run row (`scheduled_drafts`) on that day;
  `draft_succeeded` / `draft_failed` once the billing system reports the run's result (its
  status). Draft notices are required, not optional: they go by the channels the member chose for
  any billing notice, or else to the primary email, or else by text.

Texts are held during quiet hours (`notices.quiet_hours`) and go at the first run after them;
emails go at once. A number that opted out (STOP) is never texted.

Exactly once: each notice is a `MemberNotice` row keyed by (kind, account, occurrence, channel),
inserted before sending; a second copy of the job fails that insert and sends nothing. The same
holds for draft runs (unique enrollment and draft date).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.sql_member_services import bill_record, payment_record
from bot.core.dates import local_date, spell_date
from bot.core.masking import mask_email, mask_phone
from bot.core.money import format_cents
from bot.services import calendars, drafts
from bot.services.balance import BalanceSummary, BillingRules, summarize_balance
from bot.services.members import AccountRecord, method_phrase
from bot.services.notice_texts import NoticeText, NoticeTooLong, render
from bot.store.db import session_scope
from bot.store.models import (
    Account,
    Bill,
    Contact,
    DraftEnrollment,
    MemberNotice,
    NotificationPreference,
    Payment,
    PaymentMethod,
    ScheduledDraft,
    SmsOptOut,
)
from bot.worker.base import JobContext

log = logging.getLogger(__name__)

BILLING_TOPICS = ("bill_ready", "payment_received", "past_due")
RESULT_STATUSES = {
    "succeeded": "draft_succeeded",
    "failed": "draft_failed",
    "returned": "draft_failed",
}
DRAFT_RUN_CATCH_UP_DAYS = 5  # a worker down on the draft day still writes the run this long after
RESULT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Recipient:
    channel: str  # sms|email
    to: str

    @property
    def masked(self) -> str:
        return mask_email(self.to) if self.channel == "email" else mask_phone(self.to)


# ---------------------------------------------------------------------------------------------
# Who gets a notice
# ---------------------------------------------------------------------------------------------


async def _contact(session: AsyncSession, member_id: int, kind: str) -> str | None:
    """The member's primary phone or email (a verified one first, then the oldest)."""
    return await session.scalar(
        select(Contact.value)
        .where(Contact.member_id == member_id, Contact.kind == kind)
        .order_by(Contact.is_primary.desc(), Contact.is_verified.desc(), Contact.id)
        .limit(1)
    )


async def _opted_out(session: AsyncSession, phone: str) -> bool:
    return bool(
        await session.scalar(
            select(SmsOptOut.opted_out).where(SmsOptOut.phone == phone, SmsOptOut.opted_out)
        )
    )


async def _enabled_channels(
    session: AsyncSession, account_id: int, topics: tuple[str, ...]
) -> set[str]:
    rows = await session.scalars(
        select(NotificationPreference.channel).where(
            NotificationPreference.account_id == account_id,
            NotificationPreference.topic.in_(topics),
            NotificationPreference.enabled.is_(True),
        )
    )
    return set(rows)


async def recipients(session: AsyncSession, account: Account, topic: str) -> list[Recipient]:
    """Where a notice on `topic` goes: by the account's preferences; draft notices (topic
    `draft`) by any billing preference, else the primary email, else the primary phone."""
    if topic == "draft":
        channels = await _enabled_channels(session, account.id, BILLING_TOPICS)
        if not channels:
            email = await _contact(session, account.member_id, "email")
            channels = {"email"} if email else {"sms"}
    else:
        channels = await _enabled_channels(session, account.id, (topic,))
    out: list[Recipient] = []
    for channel in sorted(channels):
        to = await _contact(session, account.member_id, "email" if channel == "email" else "phone")
        if to is None or (channel == "sms" and await _opted_out(session, to)):
            continue
        out.append(Recipient(channel, to))
    return out


CHANNELS = ("email", "sms")
SNAPSHOT_DAYS = 60  # notice rows this recent are read at the start of a run (drafts: ~45 days)
_CHUNK = 500


@dataclass(frozen=True)
class Snapshot:
    """What a run reads once, so a notice already sent costs no further query: the notice rows
    already claimed and the enabled preferences of the accounts concerned. Only a hint: the
    unique insert in `deliver` is what keeps a notice to one."""

    claimed: frozenset[tuple[str, int, str, str]]  # (kind, account id, occurrence, channel)
    prefs: dict[tuple[int, str], frozenset[str]]  # (account id, topic) -> enabled channels

    def channels(self, account_id: int, topic: str) -> frozenset[str] | None:
        """The channels a notice on `topic` goes by; None for a draft notice with no billing
        preference (it then goes to the email, else the phone on file)."""
        if topic == "draft":
            chosen = frozenset().union(
                *(self.prefs.get((account_id, t), frozenset()) for t in BILLING_TOPICS)
            )
            return chosen or None
        return self.prefs.get((account_id, topic), frozenset())

    def done(self, kind: str, account_id: int, occurrence: str, topic: str) -> bool:
        """Nothing left to send: every channel claimed (or none chosen)."""
        channels = self.channels(account_id, topic)
        if channels is None:
            return any((kind, account_id, occurrence, ch) in self.claimed for ch in CHANNELS)
        return all((kind, account_id, occurrence, ch) in self.claimed for ch in channels)


async def snapshot(ctx: JobContext, now: datetime, account_ids: set[int]) -> Snapshot:
    claimed: set[tuple[str, int, str, str]] = set()
    prefs: dict[tuple[int, str], set[str]] = {}
    ids = sorted(account_ids)
    async with ctx.sessions() as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for kind, account_id, occurrence, channel in await session.execute(
                select(
                    MemberNotice.kind,
                    MemberNotice.account_id,
                    MemberNotice.occurrence,
                    MemberNotice.channel,
                ).where(
                    MemberNotice.account_id.in_(chunk),
                    MemberNotice.created_at >= now - timedelta(days=SNAPSHOT_DAYS),
                )
            ):
                claimed.add((kind, account_id, occurrence, channel))
            for account_id, topic, channel in await session.execute(
                select(
                    NotificationPreference.account_id,
                    NotificationPreference.topic,
                    NotificationPreference.channel,
                ).where(
                    NotificationPreference.account_id.in_(chunk),
                    NotificationPreference.enabled.is_(True),
                )
            ):
                prefs.setdefault((account_id, topic), set()).add(channel)
    return Snapshot(frozenset(claimed), {k: frozenset(v) for k, v in prefs.items()})


# ---------------------------------------------------------------------------------------------
# Claiming and sending one notice
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A notice that is due: what it is about and its text (already rendered)."""

    kind: str
    account: Account
    occurrence: str
    text: NoticeText | None  # None when the wording did not fit a text
    topic: str
    amount_cents: int | None = None
    problem: str | None = None


async def _claim(ctx: JobContext, row: MemberNotice) -> bool:
    """Insert the notice row in its own transaction; False when another copy already has it."""
    try:
        async with session_scope(ctx.sessions) as session:
            session.add(row)
    except IntegrityError:
        return False
    return True


async def _finish(ctx: JobContext, notice_id: int, **values: object) -> None:
    async with session_scope(ctx.sessions) as session:
        row = await session.get(MemberNotice, notice_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


async def deliver(
    ctx: JobContext, candidate: Candidate, now: datetime, seen: Snapshot | None = None
) -> int:
    """Send `candidate` to each of its recipients not yet sent; texts wait out quiet hours.
    Returns how many messages this copy sent."""
    async with ctx.sessions() as session:
        targets = await recipients(session, candidate.account, candidate.topic)
    quiet = calendars.in_quiet_hours(now, ctx.profile)
    sent = 0
    for target in targets:
        if target.channel == "sms" and quiet:
            continue  # held: the first run after quiet hours claims it
        key = (candidate.kind, candidate.account.id, candidate.occurrence, target.channel)
        if seen is not None and key in seen.claimed:
            continue
        row = MemberNotice(
            kind=candidate.kind,
            account_id=candidate.account.id,
            occurrence=candidate.occurrence,
            channel=target.channel,
            destination=target.masked,
            status="sending" if candidate.text else "rejected",
            amount_cents=candidate.amount_cents,
            error=candidate.problem,
            created_at=now,
        )
        if not await _claim(ctx, row):
            continue
        if candidate.text is None:
            log.warning("Notice %s %s not sent: %s", candidate.kind, row.id, candidate.problem)
            continue
        if target.channel == "sms":
            result = await ctx.notifier.send_sms(target.to, candidate.text.sms)
        else:
            result = await ctx.notifier.send_email(
                target.to, candidate.text.subject, candidate.text.email_body
            )
        status = "sent" if result.ok else result.status
        await _finish(
            ctx,
            row.id,
            status=status,
            outbox_id=result.outbox_id,
            error=(result.error or None) and result.error[:200],
            sent_at=now if result.ok else None,
        )
        if result.ok:
            sent += 1
        else:
            log.warning("Notice %s to %s: %s", candidate.kind, target.masked, result.status)
    return sent


def _candidate(
    kind: str,
    account: Account,
    occurrence: str,
    topic: str,
    ctx: JobContext,
    amount_cents: int | None = None,
    **fields: str,
) -> Candidate:
    last4 = account.account_number[-4:]
    try:
        text: NoticeText | None = render(kind, ctx.profile, account_last4=last4, **fields)
        problem = None
    except NoticeTooLong as exc:
        text, problem = None, str(exc)[:200]
    return Candidate(kind, account, occurrence, text, topic, amount_cents, problem)


# ---------------------------------------------------------------------------------------------
# Bills and payments
# ---------------------------------------------------------------------------------------------


def _today(ctx: JobContext, now: datetime) -> date:
    return local_date(now, ctx.profile.timezone)


async def _balance(ctx: JobContext, account_id: int, today: date) -> BalanceSummary:
    """The account's balance by the balance rules (`bot.services.balance`), from every bill and
    succeeded payment of the account (a superset of what the rules need)."""
    async with ctx.sessions() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise LookupError(f"no account with id {account_id}")
        bills = [
            bill_record(b)
            for b in await session.scalars(select(Bill).where(Bill.account_id == account_id))
        ]
        payments = [
            payment_record(p)
            for p in await session.scalars(
                select(Payment).where(
                    Payment.account_id == account_id, Payment.status == "succeeded"
                )
            )
        ]
    record = AccountRecord(
        id=account.id,
        account_number=account.account_number,
        member_id=account.member_id,
        status=account.status,
        service_street=account.service_street,
        service_town=account.service_town,
        service_zip=account.service_zip,
    )
    rules = BillingRules.from_profile(ctx.profile)
    return summarize_balance(bills, payments, today, rules, account=record)


async def _unpaid_bills(session: AsyncSession, *when: Any) -> Sequence[Row[tuple[Bill, Account]]]:
    """Unpaid bills with their accounts, by bill id, that match `when`."""
    return (
        await session.execute(
            select(Bill, Account)
            .join(Account, Account.id == Bill.account_id)
            .where(Bill.paid.is_(False), *when)
            .order_by(Bill.id)
        )
    ).all()


async def bill_candidates(ctx: JobContext, now: datetime) -> tuple[list[Candidate], Snapshot]:
    """Bill-ready, past-due and payment-received notices due now and not yet sent."""
    today = _today(ctx, now)
    since = today - timedelta(days=ctx.profile.notices.lookback_days)
    out: list[Candidate] = []
    async with ctx.sessions() as session:
        issued = await _unpaid_bills(
            session, Bill.billing_date >= since, Bill.billing_date <= today
        )
        overdue = await _unpaid_bills(session, Bill.due_date < today, Bill.due_date >= since)
        received = (
            await session.execute(
                select(Payment, Account)
                .join(Account, Account.id == Payment.account_id)
                .where(
                    Payment.status == "succeeded",
                    Payment.channel != "draft",
                    Payment.received_at.is_not(None),
                    Payment.received_at >= now - timedelta(days=ctx.profile.notices.lookback_days),
                    Payment.received_at <= now,
                )
                .order_by(Payment.id)
            )
        ).all()
    seen = await snapshot(
        ctx,
        now,
        {a.id for _, a in issued} | {a.id for _, a in overdue} | {a.id for _, a in received},
    )
    issued = [
        (b, a) for b, a in issued if not seen.done("bill_ready", a.id, f"bill:{b.id}", "bill_ready")
    ]
    overdue = [
        (b, a) for b, a in overdue if not seen.done("past_due", a.id, f"bill:{b.id}", "past_due")
    ]
    received = [
        (p, a)
        for p, a in received
        if not seen.done("payment_received", a.id, f"payment:{p.id}", "payment_received")
    ]
    for bill, account in issued:
        out.append(
            _candidate(
                "bill_ready",
                account,
                f"bill:{bill.id}",
                "bill_ready",
                ctx,
                amount=format_cents(bill.amount_cents),
                due_date=spell_date(bill.due_date),
            )
        )
    for bill, account in overdue:
        summary = await _balance(ctx, account.id, today)
        if summary.past_due_cents <= 0:
            continue  # paid since, or covered by a payment not yet posted
        fee = summary.late_fee_cents
        out.append(
            _candidate(
                "past_due",
                account,
                f"bill:{bill.id}",
                "past_due",
                ctx,
                past_due_amount=format_cents(summary.past_due_cents),
                late_fee=format_cents(fee),
                fee_note=f" A late fee of {format_cents(fee)} applies." if fee > 0 else "",
                amount_due=format_cents(summary.amount_due_cents),
                disconnect_note=ctx.profile.billing.disconnect_rule,
            )
        )
    for payment, account in received:
        assert payment.received_at is not None
        out.append(
            _candidate(
                "payment_received",
                account,
                f"payment:{payment.id}",
                "payment_received",
                ctx,
                amount=format_cents(payment.amount_cents),
                received_date=spell_date(local_date(payment.received_at, ctx.profile.timezone)),
            )
        )
    return out, seen


async def run_bill_notices(ctx: JobContext) -> int:
    """Periodic job: bill-ready, past-due and payment-received notices."""
    now = ctx.clock()
    sent = 0
    candidates, seen = await bill_candidates(ctx, now)
    for candidate in candidates:
        sent += await deliver(ctx, candidate, now, seen)
    return sent


# ---------------------------------------------------------------------------------------------
# Drafts: the amount notice, the draft-run record, the result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftOccurrence:
    enrollment: DraftEnrollment
    account: Account
    method: PaymentMethod | None
    scheduled: date  # the draft day of the month
    settles: date  # the bank business day it settles

    @property
    def method_text(self) -> str:
        if self.method is None:
            return "your bank account"
        return method_phrase(self.method.kind, None, self.method.last4)


async def draft_occurrences(ctx: JobContext, today: date) -> list[DraftOccurrence]:
    """Every draft of a live enrollment scheduled around `today` (a cancelled enrollment still
    has the drafts up to its `ends_on`, the one already with the bank)."""
    start, end = today - timedelta(days=40), today + timedelta(days=40)
    out: list[DraftOccurrence] = []
    async with ctx.sessions() as session:
        rows = (
            await session.execute(
                select(DraftEnrollment, Account, PaymentMethod)
                .join(Account, Account.id == DraftEnrollment.account_id)
                .outerjoin(PaymentMethod, PaymentMethod.id == DraftEnrollment.payment_method_id)
                .where(
                    or_(
                        DraftEnrollment.status == "active",
                        DraftEnrollment.ends_on.is_not(None) & (DraftEnrollment.ends_on >= start),
                    )
                )
                .order_by(DraftEnrollment.id)
            )
        ).all()
    for enrollment, account, method in rows:
        for scheduled in drafts.scheduled_dates(enrollment, start, end):
            if enrollment.status != "active" and (
                enrollment.ends_on is None or scheduled > enrollment.ends_on
            ):
                continue
            settles = drafts.settlement_date(scheduled, ctx.profile)
            out.append(DraftOccurrence(enrollment, account, method, scheduled, settles))
    return out


async def _noticed_amount(ctx: JobContext, occurrence: DraftOccurrence) -> int | None:
    async with ctx.sessions() as session:
        return await session.scalar(
            select(MemberNotice.amount_cents)
            .where(
                MemberNotice.kind == "draft_notice",
                MemberNotice.account_id == occurrence.account.id,
                MemberNotice.occurrence == f"draft:{occurrence.scheduled.isoformat()}",
                MemberNotice.amount_cents.is_not(None),
            )
            .order_by(MemberNotice.id)
            .limit(1)
        )


async def draft_amount_cents(ctx: JobContext, occurrence: DraftOccurrence, today: date) -> int:
    """What the draft takes: a fixed amount as agreed; the full balance as due today, never more
    than the notice announced (a larger amount would need a new notice)."""
    enrollment = occurrence.enrollment
    if enrollment.amount_rule == "fixed" and enrollment.fixed_amount_cents is not None:
        return enrollment.fixed_amount_cents
    due = max(0, (await _balance(ctx, occurrence.account.id, today)).amount_due_cents)
    noticed = await _noticed_amount(ctx, occurrence)
    if noticed is None:
        if due > 0:  # no contact on file, or nothing was due on the notice days: the bill says it
            log.warning(
                "Draft of enrollment %s on %s: no amount notice was sent; the bill is the notice",
                enrollment.id,
                occurrence.settles.isoformat(),
            )
        return due
    return min(due, noticed)


async def write_draft_run(
    ctx: JobContext, occurrence: DraftOccurrence, today: date, now: datetime
) -> bool:
    """The draft-run row of `occurrence` (status `scheduled`, or `skipped` when nothing is due);
    False when it already exists."""
    amount = await draft_amount_cents(ctx, occurrence, today)
    try:
        async with session_scope(ctx.sessions) as session:
            session.add(
                ScheduledDraft(
                    enrollment_id=occurrence.enrollment.id,
                    draft_date=occurrence.settles,
                    amount_cents=amount,
                    status="scheduled" if amount > 0 else "skipped",
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    log.info(
        "Draft run written: enrollment %s on %s, %s",
        occurrence.enrollment.id,
        occurrence.settles.isoformat(),
        format_cents(amount),
    )
    return True


async def run_drafts(ctx: JobContext) -> int:
    """Periodic job: draft amount notices, draft-run rows on the draft day, draft results."""
    now = ctx.clock()
    today = _today(ctx, now)
    done = 0
    occurrences = await draft_occurrences(ctx, today)
    seen = await snapshot(ctx, now, {o.account.id for o in occurrences})
    async with ctx.sessions() as session:
        runs = {
            (enrollment_id, draft_date)
            for enrollment_id, draft_date in await session.execute(
                select(ScheduledDraft.enrollment_id, ScheduledDraft.draft_date).where(
                    ScheduledDraft.draft_date >= today - timedelta(days=45)
                )
            )
        }
    for occurrence in occurrences:
        enrollment = occurrence.enrollment
        notice_on = drafts.amount_notice_date(occurrence.scheduled, ctx.profile)
        occurrence_key = f"draft:{occurrence.scheduled.isoformat()}"
        if (
            enrollment.amount_rule == "full_balance"
            and notice_on <= today < occurrence.settles
            and not seen.done("draft_notice", occurrence.account.id, occurrence_key, "draft")
        ):
            due = (await _balance(ctx, occurrence.account.id, today)).amount_due_cents
            if due > 0:
                cancel_by = drafts.submission_date(occurrence.scheduled, ctx.profile) - timedelta(1)
                candidate = _candidate(
                    "draft_notice",
                    occurrence.account,
                    occurrence_key,
                    "draft",
                    ctx,
                    amount_cents=due,
                    amount=format_cents(due),
                    draft_date=spell_date(occurrence.settles),
                    method=occurrence.method_text,
                    cancel_by=spell_date(cancel_by),
                )
                done += await deliver(ctx, candidate, now, seen)
        catch_up_until = occurrence.settles + timedelta(days=DRAFT_RUN_CATCH_UP_DAYS)
        if (
            occurrence.settles <= today <= catch_up_until
            and (enrollment.id, occurrence.settles) not in runs
            and await write_draft_run(ctx, occurrence, today, now)
        ):
            done += 1
    done += await _draft_results(ctx, now, today)
    return done


async def _draft_results(ctx: JobContext, now: datetime, today: date) -> int:
    """One result notice per draft run the billing system marked succeeded, failed or returned."""
    since = today - timedelta(days=RESULT_WINDOW_DAYS)
    async with ctx.sessions() as session:
        rows = (
            await session.execute(
                select(ScheduledDraft, DraftEnrollment, Account, PaymentMethod)
                .join(DraftEnrollment, DraftEnrollment.id == ScheduledDraft.enrollment_id)
                .join(Account, Account.id == DraftEnrollment.account_id)
                .outerjoin(PaymentMethod, PaymentMethod.id == DraftEnrollment.payment_method_id)
                .where(
                    ScheduledDraft.status.in_(tuple(RESULT_STATUSES)),
                    ScheduledDraft.draft_date >= since,
                )
                .order_by(ScheduledDraft.id)
            )
        ).all()
    seen = await snapshot(ctx, now, {account.id for _, _, account, _ in rows})
    sent = 0
    for run, _enrollment, account, method in rows:
        kind = RESULT_STATUSES[run.status]
        if seen.done(kind, account.id, f"run:{run.id}", "draft"):
            continue
        candidate = _candidate(
            kind,
            account,
            f"run:{run.id}",
            "draft",
            ctx,
            amount_cents=run.amount_cents,
            amount=format_cents(run.amount_cents),
            draft_date=spell_date(run.draft_date),
            method=method_phrase(method.kind, None, method.last4)
            if method
            else "your bank account",
        )
        sent += await deliver(ctx, candidate, now, seen)
    return sent


# ---------------------------------------------------------------------------------------------
# The co-op's holiday list
# ---------------------------------------------------------------------------------------------


async def run_calendar_check(ctx: JobContext) -> int:
    """Periodic job (daily): warn in the log while the profile's holiday list runs out soon."""
    warning = calendars.holiday_runout_warning(ctx.profile, _today(ctx, ctx.clock()))
    if warning is None:
        return 0
    log.warning("%s", warning)
    return 1
