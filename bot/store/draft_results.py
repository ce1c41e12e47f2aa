"""Draft results from the billing system (the bank ran a draft: paid, or returned), applied once.

The same rule for both ways in (docs/integration.md, "Inbound: draft results"): the signed
`POST /integrations/drafts` endpoint (through `AsyncSession.run_sync`) and `jecbot import` of a
`draft_results` file. A result names the account, the draft date, the amount and the outcome, and
carries the billing system's own `id`: a result id seen before changes nothing, so the billing
system may resend freely. Applying a result writes the draft-run row (`scheduled_drafts`, one per
enrollment and date) and the payment it made (channel `draft`) or the return of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import (
    Account,
    DraftEnrollment,
    InboundDraftResult,
    Payment,
    ScheduledDraft,
)

STATUSES = ("paid", "returned")
_RESULT_ID = re.compile(r"[A-Za-z0-9._:-]{1,80}")
_RETURN_CODE = re.compile(r"R\d{2}")


class DraftResultError(ValueError):
    """A result that cannot be applied; the message is returned to the sender."""


@dataclass(frozen=True)
class DraftResult:
    result_id: str
    account_number: str
    draft_date: date
    amount_cents: int
    status: str
    return_code: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> DraftResult:
        """A result from its JSON object; raises `DraftResultError` naming the bad field."""
        if not isinstance(raw, dict):
            raise DraftResultError("each result must be an object")
        result_id = str(raw.get("id") or "")
        if not _RESULT_ID.fullmatch(result_id):
            raise DraftResultError("id must be 1-80 letters, digits or . _ : -")
        number = str(raw.get("account_number") or "")
        if not re.fullmatch(r"\d{10}", number):
            raise DraftResultError("account_number must be 10 digits")
        try:
            when = date.fromisoformat(str(raw.get("draft_date")))
        except ValueError:
            raise DraftResultError("draft_date must be YYYY-MM-DD") from None
        amount = raw.get("amount_cents")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 10**9:
            raise DraftResultError("amount_cents must be a whole number of cents above zero")
        status = str(raw.get("status") or "").lower()
        if status not in STATUSES:
            raise DraftResultError(f"status must be one of {', '.join(STATUSES)}")
        code = raw.get("return_code")
        if status == "returned" and not (isinstance(code, str) and _RETURN_CODE.fullmatch(code)):
            raise DraftResultError("a returned draft needs its NACHA return_code (R01, R02, ...)")
        return cls(result_id, number, when, amount, status, code if status == "returned" else None)


def apply_draft_result(
    session: Session, result: DraftResult, now: datetime, source: str
) -> tuple[bool, int]:
    """Apply one result in the caller's transaction. Returns (applied, scheduled_draft_id);
    `applied` is False for a result id already recorded. Raises `DraftResultError`."""
    seen = session.scalar(
        select(InboundDraftResult).where(InboundDraftResult.result_id == result.result_id)
    )
    if seen is not None:
        return False, seen.scheduled_draft_id or 0
    account = session.scalar(select(Account).where(Account.account_number == result.account_number))
    if account is None:
        raise DraftResultError(f"result {result.result_id}: no such account")
    enrollment = session.scalar(
        select(DraftEnrollment)
        .where(
            DraftEnrollment.account_id == account.id, DraftEnrollment.starts_on <= result.draft_date
        )
        .order_by(DraftEnrollment.created_at.desc(), DraftEnrollment.id.desc())
        .limit(1)
    )
    if enrollment is None:
        raise DraftResultError(f"result {result.result_id}: the account has no draft enrollment")
    run = session.scalar(
        select(ScheduledDraft).where(
            ScheduledDraft.enrollment_id == enrollment.id,
            ScheduledDraft.draft_date == result.draft_date,
        )
    )
    if run is None:
        run = ScheduledDraft(
            enrollment_id=enrollment.id,
            draft_date=result.draft_date,
            amount_cents=result.amount_cents,
            status="scheduled",
            created_at=now,
        )
        session.add(run)
        session.flush()
    payment = session.get(Payment, run.payment_id) if run.payment_id else None
    if payment is None:
        payment = Payment(
            account_id=account.id,
            amount_cents=result.amount_cents,
            method_label="Bank draft",
            status="pending",
            idempotency_key=f"draft-run:{run.id}",
            channel="draft",
            created_at=now,
        )
        session.add(payment)
        session.flush()
    if result.status == "paid":
        payment.status, payment.received_at, payment.failure_reason = "succeeded", now, None
    else:
        payment.status, payment.received_at = "declined", None
        payment.failure_reason = f"returned by the bank ({result.return_code})"
    payment.amount_cents = result.amount_cents
    # the draft-run statuses the notices job reports to the member (succeeded / returned)
    run_status = "succeeded" if result.status == "paid" else "returned"
    run.amount_cents, run.status, run.payment_id = result.amount_cents, run_status, payment.id
    session.add(
        InboundDraftResult(
            result_id=result.result_id,
            account_number=result.account_number,
            draft_date=result.draft_date,
            amount_cents=result.amount_cents,
            status=result.status,
            return_code=result.return_code,
            scheduled_draft_id=run.id,
            source=source,
            received_at=now,
        )
    )
    session.flush()
    return True, run.id
