"""What the payment journey says to the member, and its buttons (kept short for SMS)."""

from __future__ import annotations

from typing import Any

from bot.actions.common import intent_button
from bot.core.money import format_cents
from bot.services.balance import BalanceSummary
from bot.services.members import MethodRecord

BACK = "Back to your payment: "

STOPPED = "OK, I've stopped the payment. Nothing was charged. Anything else?"
CARD_NOT_KEPT = (
    "For your safety I didn't keep that card number. Please never send card numbers in a chat or "
    "text. You can add a card on our secure page: {url} (works once, for 15 min)."
)
CARD_NOT_KEPT_NO_LINK = (
    "For your safety I didn't keep that card number. Please never send card numbers in a chat or "
    "text."
)
MASKED_LINK = "You can add a card on our secure page: {url} (works once, for 15 min)."
NEW_METHOD_LINK = (
    "You can add a card or bank account on our secure page: {url} (works once, for 15 min). "
    "Come back here when you're done."
)

AMOUNT_QUESTION = "How much would you like to pay?"
NOTHING_DUE_QUESTION = "You don't owe anything right now. If you'd still like to pay, how much?"
AMOUNT_CENTS_QUESTION = "How much would you like to pay? For example $45 or 45.20."
UNREADABLE_AMOUNT = "I couldn't read that as an amount."
NOTHING_DUE_FULL = "You don't owe anything right now. You can still pay another amount."
METHOD_QUESTION = "Which payment method would you like to use?"
NO_SAVED_METHOD = (
    "You don't have a saved card or bank account yet. You can add one on our secure page."
)
NEW_METHOD_TITLE = "Add a new card or bank account"
NOTHING_WAITING = "There's no payment waiting to be confirmed. Say pay bill to start one."


def amount_question(summary: BalanceSummary | None, resuming: bool) -> str:
    """'$137.65 is due Dec 18, including $41.10 past due with the late fee. How much ...?'"""
    if resuming:
        return f"{BACK}how much would you like to pay?"
    if summary is not None and summary.amount_due_cents > 0:
        due = f" due {summary.due_date:%b} {summary.due_date.day}" if summary.due_date else ""
        past = (
            f", including {format_cents(summary.past_due_with_fee_cents)} past due with the "
            "late fee"
            if summary.past_due_with_fee_cents > 0
            else ""
        )
        return f"{format_cents(summary.amount_due_cents)} is{due}{past}. {AMOUNT_QUESTION}"
    if summary is not None:
        return NOTHING_DUE_QUESTION
    return AMOUNT_QUESTION


def amount_buttons(summary: BalanceSummary | None) -> list[dict[str, Any]]:
    """[Full $x] [Past due only $y] [Other amount]; only the choices that make sense today."""
    options: list[dict[str, Any]] = []
    if summary is not None and summary.amount_due_cents > 0:
        options.append(
            intent_button(f"Full {format_cents(summary.amount_due_cents)}", "choose_amount_full")
        )
        if 0 < summary.past_due_with_fee_cents < summary.amount_due_cents:
            options.append(
                intent_button(
                    f"Past due only {format_cents(summary.past_due_with_fee_cents)}",
                    "choose_amount_past_due",
                )
            )
    options.append(intent_button("Other amount", "inform", {"amount": "other"}))
    return options


def amount_cents_question(resuming: bool) -> str:
    if resuming:
        return f"{BACK}how much would you like to pay? For example $45 or 45.20."
    return AMOUNT_CENTS_QUESTION


def nothing_past_due(amount_due_cents: int) -> str:
    return (
        "Nothing on this account is past due. The full balance is "
        f"{format_cents(max(amount_due_cents, 0))}."
    )


def method_question(has_methods: bool, resuming: bool) -> str:
    back = BACK if resuming else ""
    return f"{back}{METHOD_QUESTION if has_methods else NO_SAVED_METHOD}"


def method_buttons(methods: list[MethodRecord], new_method: str) -> list[dict[str, Any]]:
    """One button per saved method ('Visa ending 4242'), then 'Add a new card or bank account'."""
    options = [
        intent_button(m.label, "inform", {"payment_method": f"method-{m.id}"}) for m in methods
    ]
    options.append(intent_button(NEW_METHOD_TITLE, "inform", {"payment_method": new_method}))
    return options


def method_not_understood(methods: list[MethodRecord]) -> str:
    if methods:
        names = ", ".join(m.label for m in methods)
        hint = f"Please pick {names}, or add a new card or bank account."
    else:
        hint = "Please choose Add a new card or bank account, or say never mind."
    return f"I couldn't tell which method you meant. {hint}"


def above_balance(amount_cents: int, amount_due_cents: int) -> str:
    """The heads-up before confirming a payment larger than the balance."""
    if amount_due_cents > 0:
        return (
            f"That's more than your balance of {format_cents(amount_due_cents)}; "
            f"the extra {format_cents(amount_cents - amount_due_cents)} will be a credit."
        )
    return "You don't owe anything right now, so this payment will be a credit on your account."


def confirm_question(amount_cents: int, label: str, resuming: bool) -> str:
    back = BACK if resuming else ""
    return (
        f"{back}Pay {format_cents(amount_cents)} today with {label}? "
        "Reply YES to confirm or NO to stop."
    )


def pay_with_saved_question(amount_cents: int) -> str:
    """The confirmation right after a method was saved on the secure page (its label was just
    said: "Your Visa ending 4242 is saved.")."""
    return f"Pay {format_cents(amount_cents)} with it now? Reply YES to pay or NO to stop."


SAVED_VERIFY_AGAIN = "To pay with it, say \"pay my bill\" and I'll check it's you again first."
SAVED_SAY_PAY = 'Whenever you\'re ready, say "pay my bill" and you can choose it.'
SAVED_NOTHING_DUE = "Nothing is due on your account right now, so there's nothing to pay today."
SAVED_NOT_FOUND = 'I couldn\'t find that payment method. Say "pay my bill" to choose one.'


def confirm_buttons() -> list[dict[str, Any]]:
    return [intent_button("Yes, pay", "affirm"), intent_button("No, stop", "deny")]


def confirm_reask(amount_cents: int) -> str:
    return f"Please reply YES to pay {format_cents(amount_cents)}, or NO to stop."


def already_paid(confirmation: str) -> str:
    return f"That payment is already done (confirmation {confirmation}). Nothing more was charged."


def try_another_method_buttons() -> list[dict[str, Any]]:
    return [intent_button("Try another method", "pay_bill")]


def with_phone(message: str, member_services_phone: str) -> str:
    """'... or call member services.' -> '... or call member services at (706) 547-2167.'"""
    return message.replace(
        "call member services", f"call member services at {member_services_phone}"
    )
