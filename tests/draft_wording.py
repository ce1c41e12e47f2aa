"""The draft authorization wording the draft tests expect, for the common case: the full amount
due, drafted from a checking account (`bot.services.drafts.authorization_text`)."""

from __future__ import annotations

from datetime import date

from bot.profile import CoopProfile
from bot.services import drafts


def full_balance_from_checking(
    profile: CoopProfile, start_date: date, draft_day: int, account_last4: str, checking_last4: str
) -> str:
    """The authorization text for drafting the full amount due on the account ending
    `account_last4` from the checking account ending `checking_last4`, monthly on `draft_day`."""
    return drafts.authorization_text(
        profile,
        start_date=start_date,
        draft_day=draft_day,
        amount_rule="full_balance",
        fixed_amount_cents=None,
        account_last4=account_last4,
        method_kind="checking",
        method_last4=checking_last4,
    )
