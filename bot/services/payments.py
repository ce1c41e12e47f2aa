"""Taking a payment: limits, saved methods, idempotency, the processor and its sandbox.

`PaymentService.pay` is the only way the assistant charges a member. It is safe to call twice:

1. A payment with the same idempotency key already on file? Return it (`duplicate=True`); no charge.
2. Validate: amount within the profile's minimum and maximum; the account belongs to the member
   and is not closed (`final`; a `disconnected` account may pay, that is how it gets reconnected);
   the saved method belongs to the member, is active and, for a card, not expired.
3. Insert a `pending` payment row carrying the unique idempotency key and **commit**. If another
   task got there first, the unique key fails the insert: we wait briefly for that task to finish
   and return its result (`duplicate=True`) without charging. So two concurrent submissions of one
   payment charge exactly once, on SQLite and PostgreSQL alike.
4. Charge the processor (with the same idempotency key, and a timeout: a timeout counts as a
   processor error), with no database session held open meanwhile.
5. Record the result: `succeeded` (confirmation number like `P-7Q2K9D`, `received_at`),
   `declined` (a member-friendly reason) or `failed` (processor error or timeout). A failed or
   declined row stays; a retry with the same key returns it, a new attempt needs a new key.
   Every attempt, including refusals and duplicates, writes an audit entry (never a token).

Posting: a succeeded payment does not mark bills paid. The billing system does that when the
payment posts (the profile's `online_payment_posting`, "1-2 business days"); until then the balance
summary credits it (see `bot.services.balance`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.money import format_cents
from bot.services import audit, events
from bot.services.members import method_label
from bot.services.payment_processor import PaymentProcessor, ProcessorResult
from bot.services.payment_rules import PaymentRules, check_amount
from bot.store.models import Account, Payment, PaymentMethod

OutcomeStatus = Literal["succeeded", "declined", "failed", "pending", "refused"]

CONFIRMATION_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def new_confirmation_number() -> str:
    return "P-" + "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(6))


DECLINE_MESSAGE = (
    "Your bank or card company declined the payment, so nothing was charged. You can try another "
    "payment method, or call member services."
)
ERROR_MESSAGE = (
    "Our payment system didn't respond, so the payment didn't go through and nothing was charged. "
    "Please try again in a few minutes, or call member services."
)


@dataclass(frozen=True)
class PaymentOutcome:
    """What happened to one `pay` call. `message` is safe to show the member as is."""

    status: OutcomeStatus
    message: str
    amount_cents: int
    payment_id: int | None = None
    confirmation_number: str | None = None
    method_label: str | None = None
    received_at: datetime | None = None
    reason: str | None = None  # machine-readable: below_minimum, foreign_method, declined, ...
    duplicate: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


@dataclass
class _Attempt:
    account_id: int
    member_id: int
    payment_method_id: int
    amount_cents: int
    idempotency_key: str
    channel: str
    actor: str
    verified_how: str
    conversation_id: str | None
    now: datetime
    label: str = ""
    token: str = field(default="", repr=False)


class PaymentService:
    """Takes payments with saved methods. One instance per process; it holds no session."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        processor: PaymentProcessor,
        rules: PaymentRules,
        *,
        duplicate_wait_seconds: float = 10.0,
        confirmation_numbers: Callable[[], str] = new_confirmation_number,
    ) -> None:
        self._sessions = session_factory
        self._processor = processor
        self._rules = rules
        self._duplicate_wait = duplicate_wait_seconds
        self._confirmation_numbers = confirmation_numbers

    async def pay(
        self,
        *,
        account_id: int,
        member_id: int,
        payment_method_id: int,
        amount_cents: int,
        idempotency_key: str,
        channel: str,
        actor: str,
        verified_how: str,
        conversation_id: str | None,
        now: datetime,
    ) -> PaymentOutcome:
        """Charge a saved method once per idempotency key (the steps: the module docstring)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        attempt = _Attempt(
            account_id,
            member_id,
            payment_method_id,
            amount_cents,
            idempotency_key,
            channel,
            actor,
            verified_how,
            conversation_id,
            now,
        )
        existing = await self._existing(idempotency_key)
        if existing is not None:
            return await self._duplicate(attempt, existing)

        refusal = await self._validate(attempt)
        if refusal is not None:
            await self._audit(
                attempt, "payment.refused", {"reason": refusal.reason, "amount_cents": amount_cents}
            )
            return refusal

        payment_id = await self._insert_pending(attempt)
        if payment_id is None:  # another task holds this key
            existing = await self._existing(idempotency_key)
            assert existing is not None, "unique key conflict without a row"
            return await self._duplicate(attempt, existing)

        result = await self._charge(attempt)
        return await self._finish(attempt, payment_id, result)

    # -- steps ---------------------------------------------------------------------------------

    async def _existing(self, key: str) -> Payment | None:
        async with self._sessions() as session:
            return await session.scalar(select(Payment).where(Payment.idempotency_key == key))

    async def _validate(self, a: _Attempt) -> PaymentOutcome | None:
        def refuse(reason: str, message: str) -> PaymentOutcome:
            return PaymentOutcome(
                "refused", message, a.amount_cents, reason=reason, method_label=a.label or None
            )

        problem = check_amount(a.amount_cents, self._rules)
        if problem:
            reason = (
                "below_minimum" if a.amount_cents < self._rules.minimum_cents else "above_maximum"
            )
            return refuse(reason, problem)
        async with self._sessions() as session:
            account = await session.get(Account, a.account_id)
            method = await session.get(PaymentMethod, a.payment_method_id)
        if account is None or account.member_id != a.member_id:
            return refuse(
                "foreign_account",
                "I can't take a payment for that account here. Please call member services.",
            )
        if account.status == "final":
            return refuse(
                "closed_account",
                "That account is closed, so I can't take a payment for it here. Please call member "
                "services.",
            )
        if method is None or method.member_id != a.member_id:
            return refuse("foreign_method", "I couldn't find that payment method on your profile.")
        a.label = method_label(method.kind, method.brand, method.last4)
        a.token = method.token
        if not method.is_active:
            return refuse(
                "inactive_method", f"{a.label} is no longer active. Please choose another method."
            )
        today = a.now.astimezone(self._rules.timezone).date()
        if (
            method.exp_month
            and method.exp_year
            and (today.year, today.month) > (method.exp_year, method.exp_month)
        ):
            return refuse(
                "expired_method",
                f"{a.label} has expired. Please choose another method or add a new one.",
            )
        return None

    async def _insert_pending(self, a: _Attempt) -> int | None:
        """Insert and commit the pending row; None if the idempotency key is already taken."""
        try:
            async with self._sessions() as session:
                payment = Payment(
                    account_id=a.account_id,
                    payment_method_id=a.payment_method_id,
                    amount_cents=a.amount_cents,
                    method_label=a.label,
                    status="pending",
                    idempotency_key=a.idempotency_key,
                    channel=a.channel,
                    created_at=a.now,
                )
                session.add(payment)
                await session.commit()
                return payment.id
        except IntegrityError:
            return None

    async def _charge(self, a: _Attempt) -> ProcessorResult:
        try:
            return await asyncio.wait_for(
                self._processor.charge(a.token, a.amount_cents, a.idempotency_key),
                timeout=self._rules.processor_timeout_seconds,
            )
        except TimeoutError:
            return ProcessorResult("error", None, "processor timeout")
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not leave the member hanging
            return ProcessorResult("error", None, f"processor exception: {type(exc).__name__}")

    async def _finish(
        self, a: _Attempt, payment_id: int, result: ProcessorResult
    ) -> PaymentOutcome:
        for _ in range(5):
            confirmation = self._confirmation_numbers() if result.status == "succeeded" else None
            try:
                async with self._sessions() as session:
                    values: dict[str, Any] = {"processor_reference": result.reference}
                    if result.status == "succeeded":
                        values |= {
                            "status": "succeeded",
                            "confirmation_number": confirmation,
                            "received_at": a.now,
                        }
                    elif result.status == "declined":
                        values |= {
                            "status": "declined",
                            "failure_reason": (result.decline_reason or "declined")[:200],
                        }
                    else:
                        values |= {
                            "status": "failed",
                            "failure_reason": (result.decline_reason or "processor error")[:200],
                        }
                    await session.execute(
                        update(Payment).where(Payment.id == payment_id).values(**values)
                    )
                    details: dict[str, Any] = {
                        "payment_id": payment_id,
                        "amount_cents": a.amount_cents,
                        "method": a.label,
                    }
                    if confirmation:
                        details["confirmation_number"] = confirmation
                    if result.status != "succeeded":
                        details["processor_reason"] = result.decline_reason
                    action = {"succeeded": "payment.succeeded", "declined": "payment.declined"}.get(
                        result.status, "payment.failed"
                    )
                    await self._audit_in(session, a, action, details)
                    await events.publish(
                        session,
                        action,
                        occurred_at=a.now,
                        data={
                            "payment_id": payment_id,
                            "amount_cents": a.amount_cents,
                            "method": a.label,
                            "status": action.removeprefix("payment."),
                            "confirmation_number": confirmation,
                            "received_at": a.now if result.status == "succeeded" else None,
                            "reason": None
                            if result.status == "succeeded"
                            else (result.decline_reason or result.status),
                            "verified_how": a.verified_how,
                        },
                        account_id=a.account_id,
                        member_id=a.member_id,
                        channel=a.channel,
                        conversation_id=a.conversation_id,
                    )
                    await session.commit()
                break
            except IntegrityError:
                if result.status != "succeeded":
                    raise
                continue  # confirmation number collision: draw another
        else:
            raise RuntimeError("could not draw a unique confirmation number")
        async with self._sessions() as session:
            payment = await session.get(Payment, payment_id)
        assert payment is not None
        return self._outcome(payment, duplicate=False)

    async def _duplicate(self, a: _Attempt, payment: Payment) -> PaymentOutcome:
        """The first submission's result; waits (bounded) while it is still with the processor."""
        if payment.account_id != a.account_id or payment.amount_cents != a.amount_cents:
            await self._audit(
                a, "payment.refused", {"reason": "idempotency_key_reused", "payment_id": payment.id}
            )
            return PaymentOutcome(
                "refused",
                "Something went wrong on our side with that payment request. Nothing new was "
                "charged; "
                "please start the payment again.",
                a.amount_cents,
                reason="idempotency_key_reused",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._duplicate_wait
        while payment.status == "pending" and loop.time() < deadline:
            await asyncio.sleep(0.05)
            refreshed = await self._existing(a.idempotency_key)
            payment = refreshed or payment
        await self._audit(
            a, "payment.duplicate", {"payment_id": payment.id, "status": payment.status}
        )
        return self._outcome(payment, duplicate=True)

    def _outcome(self, payment: Payment, *, duplicate: bool) -> PaymentOutcome:
        amount = format_cents(payment.amount_cents)
        common = {
            "amount_cents": payment.amount_cents,
            "payment_id": payment.id,
            "method_label": payment.method_label,
            "duplicate": duplicate,
        }
        if payment.status == "succeeded":
            if duplicate:
                message = (
                    f"That payment is already done (confirmation {payment.confirmation_number}). "
                    "Nothing more was charged."
                )
            else:
                message = (
                    f"Done. Payment of {amount} received, confirmation "
                    f"{payment.confirmation_number}. "
                    f"It posts in {self._rules.posting_text}."
                )
            return PaymentOutcome(
                "succeeded",
                message,
                confirmation_number=payment.confirmation_number,
                received_at=payment.received_at,
                **common,  # type: ignore[arg-type]
            )
        if payment.status == "declined":
            return PaymentOutcome("declined", DECLINE_MESSAGE, reason="declined", **common)  # type: ignore[arg-type]
        if payment.status == "failed":
            return PaymentOutcome("failed", ERROR_MESSAGE, reason="processor_error", **common)  # type: ignore[arg-type]
        return PaymentOutcome(
            "pending",
            "That payment is still being processed. Nothing more was charged; I'll have the result "
            "shortly.",
            reason="in_progress",
            **common,  # type: ignore[arg-type]
        )

    async def _audit(self, a: _Attempt, action: str, details: dict[str, Any]) -> None:
        async with self._sessions() as session:
            await self._audit_in(session, a, action, details)
            await session.commit()

    async def _audit_in(
        self, session: AsyncSession, a: _Attempt, action: str, details: dict[str, Any]
    ) -> None:
        await audit.record(
            session,
            actor=a.actor,
            action=action,
            account_id=a.account_id,
            conversation_id=a.conversation_id,
            channel=a.channel,
            verified_how=a.verified_how,
            details={"method": a.label, **details}
            if a.label and "method" not in details
            else details,
            now=a.now,
        )
