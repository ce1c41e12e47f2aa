"""History of bills and payments: the last 12 bills, the last payments, a PDF of a bill.

Numbers come from the member services (`bills`, `payments`); the bill PDF is a signed
15-minute link (`bot.services.history`) the gateway serves (bot/gateway/account_pages.py). Lists
are split into messages of at most 320 characters, so SMS and web read the same. Which bill: the
latest, or the month the member named in the message that started the journey ("my october
bill").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from rasa_sdk import Tracker

from bot.actions.common import (
    AccountAction,
    Dispatcher,
    buttons_or_choices,
    intent_button,
    utter_all,
)
from bot.actions.deps import ActionDeps
from bot.core.dates import local_date, short_date
from bot.core.masking import mask_sensitive
from bot.core.money import format_cents
from bot.services.history import bill_token, bill_url, month_label, named_month, pick_bill
from bot.services.members import AccountRecord, BillRecord, PaymentRecord
from bot.services.notify import SMS_MAX_CHARS

HISTORY_INTENTS = ("bill_history", "bill_pdf", "payment_history")
PAYMENTS_SHOWN = 6


def pack(header: str, lines: Iterable[str], limit: int = SMS_MAX_CHARS) -> list[str]:
    """`header` and `lines` joined by newlines into as few messages of at most `limit` as
    possible."""
    messages: list[str] = []
    current = header
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = line
    if current:
        messages.append(current)
    return messages


def bill_line(bill: BillRecord) -> str:
    """`Nov 2026: $142.87, due Dec 12, not paid yet`."""
    fee = f" plus a {format_cents(bill.late_fee_cents)} late fee" if bill.late_fee_cents else ""
    state = "paid" if bill.paid else "not paid yet"
    return (
        f"{month_label(bill.billing_date)}: {format_cents(bill.amount_cents)}{fee}, "
        f"due {short_date(bill.due_date)}, {state}"
    )


def bill_history_messages(bills: list[BillRecord], last4: str) -> list[str]:
    if not bills:
        return [f"There are no bills on account ending {last4} yet."]
    header = f"Your last {len(bills)} bill{'s' if len(bills) != 1 else ''}, account ending {last4}:"
    return pack(header, (bill_line(b) for b in bills))


_STATUS = {
    "succeeded": "received",
    "pending": "pending",
    "declined": "declined",
    "failed": "did not go through",
}


def payment_line(payment: PaymentRecord, tz: tzinfo) -> str:
    """`Nov 8, 2026: $118.20 by Visa ending 4242, received (conf. JEC000000011)`."""
    when = local_date(payment.received_at or payment.created_at, tz)
    label = mask_sensitive(payment.method_label).text  # belt and braces: labels hold last four only
    conf = (
        f" (conf. {payment.confirmation_number})"
        if payment.confirmation_number and payment.status == "succeeded"
        else ""
    )
    return (
        f"{short_date(when)}, {when.year}: {format_cents(payment.amount_cents)} by {label}, "
        f"{_STATUS.get(payment.status, payment.status)}{conf}"
    )


def payment_history_messages(payments: list[PaymentRecord], last4: str, tz: tzinfo) -> list[str]:
    if not payments:
        return [f"I don't see any payments on account ending {last4}."]
    plural = "s" if len(payments) != 1 else ""
    header = f"Your last {len(payments)} payment{plural}, account ending {last4}:"
    return pack(header, (payment_line(p, tz) for p in payments))


def requested_text(tracker: Tracker) -> str:
    """The text of the message that asked for the history (the latest may be a ZIP answer)."""
    for event in reversed(list(tracker.events or [])):
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        if (parse.get("intent") or {}).get("name") in HISTORY_INTENTS:
            dates = [
                str(e.get("value"))
                for e in parse.get("entities") or []
                if e.get("entity") == "date"
            ]
            return " ".join(dates) or str(event.get("text") or "")
    return ""


class ActionBillHistory(AccountAction):
    action_name = "action_bill_history"

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        services = deps.members
        bills = await services.bills(account.id, limit=12)
        buttons = buttons_or_choices(
            [
                intent_button("Latest bill PDF", "bill_pdf"),
                intent_button("Payment history", "payment_history"),
                intent_button("Something else", "help"),
            ]
        )
        utter_all(dispatcher, bill_history_messages(bills, account.last4), buttons)
        return []


class ActionPaymentHistory(AccountAction):
    action_name = "action_payment_history"

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        services = deps.members
        payments = await services.payments(account.id, limit=PAYMENTS_SHOWN)
        buttons = buttons_or_choices(
            [
                intent_button("Bill history", "bill_history"),
                intent_button("Pay now", "pay_bill"),
                intent_button("Something else", "help"),
            ]
        )
        utter_all(
            dispatcher,
            payment_history_messages(payments, account.last4, deps.profile.timezone),
            buttons,
        )
        return []


class ActionBillPdf(AccountAction):
    action_name = "action_bill_pdf"

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        services = deps.members
        bills = await services.bills(account.id, limit=12)
        if not bills:
            dispatcher.utter_message(
                text=f"There are no bills on account ending {account.last4} yet."
            )
            return []
        month = named_month(requested_text(tracker))
        bill = pick_bill(bills, month)
        if bill is None:
            assert month is not None
            dispatcher.utter_message(
                text=(
                    f"I don't see a bill from {month.label()} on account ending {account.last4}. I "
                    f"have bills from {month_label(bills[-1].billing_date)} to "
                    f"{month_label(bills[0].billing_date)}."
                ),
                buttons=buttons_or_choices(
                    [
                        intent_button("Latest bill PDF", "bill_pdf"),
                        intent_button("Bill history", "bill_history"),
                    ]
                ),
            )
            return []
        token = bill_token(deps.settings.secret_key, account.id, bill.id, now=deps.now())
        url = bill_url(deps.settings.public_base_url, token)
        dispatcher.utter_message(
            text=(
                f"Here's your {month_label(bill.billing_date)} bill "
                f"({format_cents(bill.amount_cents)}, due {short_date(bill.due_date)}) as a PDF. "
                f"The link works for 15 minutes: {url}"
            )
        )
        return []
