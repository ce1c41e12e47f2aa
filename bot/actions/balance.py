"""Balance: amount due and when, past due and what it leads to, last payment.

The numbers come from `SqlMemberServices.balance` (the balance rule lives in bot.services.balance);
this module only words them, one idea per message, each within an SMS's 320 characters.
"""

from __future__ import annotations

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
from bot.core.money import format_cents
from bot.profile import CoopProfile
from bot.services.balance import BalanceSummary
from bot.services.members import AccountRecord


def balance_messages(
    summary: BalanceSummary, account: AccountRecord, profile: CoopProfile
) -> list[str]:
    """What the member reads, in order. Pure: tested without a database."""
    head = f"Account ending {summary.account_last4} ({summary.service_address})"
    last = ""
    if summary.last_payment is not None:
        last = (
            f" Your last payment, {format_cents(summary.last_payment.amount_cents)}, arrived "
            f"{short_date(summary.last_payment.received_on)}."
        )
    phone = profile.phones.member_services

    if account.status in ("disconnected", "closed"):
        state = "is disconnected" if account.status == "disconnected" else "is closed"
        owed = (
            f" {format_cents(summary.amount_due_cents)} is owed."
            if summary.amount_due_cents > 0
            else ""
        )
        first = f"{head} {state}.{owed}"
        if account.status == "disconnected":
            fee = format_cents(profile.billing.reconnect_fee_business_hours_cents)
            step = (
                f"To restore service, pay the past-due balance and call member services at {phone} "
                f"to arrange reconnection. A reconnection fee (from {fee}) applies."
            )
        else:
            step = f"For a final bill or to restart service, call member services at {phone}."
        return [first, step]

    if summary.status == "past_due":
        due_part = (
            f" {format_cents(summary.current_cents)} is due {short_date(summary.due_date)}."
            if summary.due_date is not None and summary.current_cents > 0
            else ""
        )
        first = f"{head}: {format_cents(summary.amount_due_cents)} in all.{due_part}{last}"
        fee = (
            f", and a {format_cents(summary.late_fee_cents)} late fee has been added"
            if summary.late_fee_cents > 0
            else ""
        )
        note = f" {summary.disconnection_note}" if summary.disconnection_note else ""
        return [first, f"{format_cents(summary.past_due_cents)} is past due{fee}.{note}"]
    if summary.status == "current" and summary.due_date is not None:
        return [
            f"{head}: {format_cents(summary.amount_due_cents)} is due "
            f"{short_date(summary.due_date)}.{last}"
        ]
    if summary.status == "credit":
        return [
            f"{head}: you have a credit of {format_cents(summary.credit_cents)}, so nothing is "
            f"due.{last}"
        ]
    if summary.status == "no_bills":
        return [f"{head}: there are no bills on this account yet."]
    return [f"{head}: you're paid up, nothing is due right now.{last}"]


def balance_buttons(summary: BalanceSummary, account: AccountRecord) -> list[dict[str, str]]:
    """Next steps: pay or set up a draft when something is owed; always a way to do something
    else."""
    options: list[dict[str, str]] = []
    if summary.amount_due_cents > 0:
        options.append(intent_button("Pay now", "pay_bill"))
    if account.status == "active":
        options.append(intent_button("Set up bank draft", "setup_draft"))
    options.append(intent_button("Something else", "help"))
    return buttons_or_choices(options)


class ActionCheckBalance(AccountAction):
    """Balance for the verified member's chosen account (re-checks the tier itself)."""

    action_name = "action_check_balance"

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        today = local_date(deps.now(), deps.profile.timezone)
        summary = await deps.members.balance(account.id, today)
        utter_all(
            dispatcher,
            balance_messages(summary, account, deps.profile),
            balance_buttons(summary, account),
        )
        return []
