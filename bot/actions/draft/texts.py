"""What the bank draft journey says to members, and its buttons.

Every sentence fits one text message; the authorization wording itself comes from the profile
(`bot.services.drafts.authorization_text`).
"""

from __future__ import annotations

from datetime import date, datetime

from bot.actions.common import buttons_or_choices, intent_button
from bot.core.dates import ordinal, spell_date
from bot.core.money import format_cents
from bot.profile import CoopProfile
from bot.services import drafts
from bot.services.draft_authorizations import CopyOutcome
from bot.services.drafts import DraftSituation, Enrollment
from bot.services.members import MethodRecord

# ---------------------------------------------------------------- buttons

CHANGE_CHOICES = {"day": "Draft day", "account": "Bank account", "amount": "Amount"}


def set_up_buttons() -> list[dict[str, str]]:
    return [intent_button("Set up bank draft", "setup_draft")]


def view_buttons() -> list[dict[str, str]]:
    return [intent_button("Change it", "change_draft"), intent_button("Cancel it", "cancel_draft")]


def day_buttons(profile: CoopProfile) -> list[dict[str, str]]:
    return [
        intent_button(ordinal(d), "inform", {"draft_day": ordinal(d)})
        for d in drafts.allowed_days(profile)
    ]


def amount_rule_buttons() -> list[dict[str, str]]:
    return [
        intent_button("Full amount due", "choose_amount_full"),
        intent_button("A fixed amount", "inform", {"amount": "fixed"}),
    ]


def method_buttons(banks: list[MethodRecord]) -> list[dict[str, str]]:
    """One button per saved bank account ("Checking ending 6120"), then "Add a bank account"."""
    return buttons_or_choices(
        [
            *(
                intent_button(m.label, "inform", {"payment_method": f"{m.kind} {m.last4}"})
                for m in banks
            ),
            intent_button("Add a bank account", "inform", {"payment_method": "new"}),
        ]
    )


def change_buttons(profile: CoopProfile) -> list[dict[str, str]]:
    keys = ["day", "account"] + (["amount"] if drafts.fixed_amount_offered(profile) else [])
    return buttons_or_choices([(CHANGE_CHOICES[k], CHANGE_CHOICES[k].lower()) for k in keys])


# ---------------------------------------------------------------- the enrollment as it stands


def enrollment_view(situation: DraftSituation, today: date, profile: CoopProfile) -> str:
    """ "You're on bank draft: the full amount due on the 18th from checking ending 3344.
    Next draft: Dec 18." A draft day on a weekend or bank holiday names the day it settles:
    "Next draft: Jan 19 (Jan 18 is a bank holiday)." """
    enrollment = situation.enrollment
    assert enrollment is not None
    amount = drafts.amount_phrase(enrollment.amount_rule, enrollment.fixed_amount_cents)
    method = situation.method
    source = method.phrase if method is not None else "your bank account"
    upcoming = drafts.upcoming_draft_date(enrollment, today)
    settles = drafts.settlement_date(upcoming, profile)
    when = spell_date(settles, with_year=False)
    if settles != upcoming:
        closed = "a weekend" if upcoming.weekday() >= 5 else "a bank holiday"
        when += f" ({spell_date(upcoming, with_year=False)} is {closed})"
    return (
        f"You're on bank draft: {amount} on the {ordinal(enrollment.draft_day)} from {source}. "
        f"Next draft: {when}."
    )


ALREADY_ON_DRAFT = " I can change or cancel it."
NOTHING_NEW = " Nothing new was set up."


def not_on_draft(wanted: str) -> str:
    if wanted == "cancel":
        return (
            "Your account isn't on bank draft, so there's nothing to cancel. "
            "Would you like to set it up?"
        )
    return "Your account isn't on bank draft. Would you like to set it up?"


# ---------------------------------------------------------------- questions


def day_question(profile: CoopProfile, *, changing: bool, again: bool) -> str:
    days = drafts.describe_allowed_days(profile)
    if changing:
        return f"Which day should we draft instead? We draft on {days}."
    if again:
        return f"Back to your bank draft: we draft on {days}. Which day works best?"
    return (
        f"Bank draft pays your bill automatically from a bank account. We draft on {days}. "
        "Which day works best?"
    )


AMOUNT_RULE_QUESTION = (
    "Should each draft be the full amount due on your bill, or a fixed amount you choose?"
)


def fixed_amount_question(profile: CoopProfile) -> str:
    low, high = profile.payments.minimum_cents, profile.payments.maximum_cents
    return (
        "What amount should we draft each month? "
        f"Any amount from {format_cents(low)} to {format_cents(high)}."
    )


METHOD_QUESTION = "Which account should we draft?"
NO_BANK_SAVED = (
    "Bank draft works with a checking or savings account (not a card), and I don't see one "
    "saved. You can add one on our secure page."
)
CHANGE_WHAT_QUESTION = "What would you like to change about your bank draft?"
AUTHORIZE_QUESTION = "Reply YES to authorize or NO."  # short: the whole text fits 306
BANK_GONE = "I couldn't find that bank account any more."


def cancel_question(enrollment: Enrollment, now: datetime, profile: CoopProfile) -> str:
    """The cancel question, saying which draft (if any) is already with the bank."""
    skipped = spell_date(drafts.cancellation_effective(enrollment, now, profile), with_year=False)
    still = drafts.draft_still_happening(enrollment, now, profile)
    if still is None:
        return (
            f"Cancel your bank draft? Your {skipped} draft and all later drafts will be stopped. "
            "Reply YES or NO."
        )
    return (
        f"Cancel your bank draft? Your {spell_date(still, with_year=False)} draft was already "
        f"sent to the bank and will still happen. Drafts from {skipped} on will stop. "
        "Reply YES or NO."
    )


# ---------------------------------------------------------------- answers not understood


def number_not_kept(kind: str) -> str:
    what = "card number" if kind == "card" else "bank account number"
    return (
        f"For your safety I didn't keep that {what}. Please never send card or bank numbers "
        "in a chat or text."
    )


def number_not_kept_add_bank(kind: str) -> str:
    return (
        f"{number_not_kept(kind)} Bank accounts are added on our secure page; "
        "pick Add a bank account."
    )


def secure_page(url: str) -> str:
    return (
        f"You can add a bank account on our secure page: {url} (works once, for 15 min). "
        "When it's saved, tell me here and we'll go on."
    )


AMOUNT_RULE_AGAIN = "Please choose the full amount due each month, or a fixed amount."
FIXED_AMOUNT_AGAIN = "What amount should we draft each month?"
METHOD_NOT_A_CARD = (
    "Bank draft works with a checking or savings account, not a card. "
    "Which bank account should we use?"
)
METHOD_AGAIN = "Which bank account should we draft? Pick one below or add a new one."
AUTHORIZE_AGAIN = "Please reply YES to authorize the bank draft, or NO to stop."
CHANGE_WHAT_AGAIN = "Would you like to change the draft day, the bank account or the amount?"
CANCEL_AGAIN = "Please reply YES to cancel your bank draft, or NO to keep it."


# ---------------------------------------------------------------- submitting

ENROLL_DECLINED = "OK, I didn't set up bank draft. Nothing was stored. Anything else?"
CHANGE_DECLINED = "OK, your bank draft stays as it was. Nothing was changed. Anything else?"
CANCEL_DECLINED = "OK, your bank draft stays as it is. Nothing was changed. Anything else?"
STOPPED = "OK, nothing was changed. Anything else?"
STALE_TERMS = (
    "The day changed since I showed you those terms, so the first draft date may be different. "
    "Nothing was changed. Please ask again to see the new terms."
)
NOTHING_SET_UP = " Nothing was set up."
NOTHING_CHANGED = " Nothing was changed."
NOT_ON_DRAFT_ANY_MORE = "Your account isn't on bank draft any more, so nothing was changed."
NOTHING_TO_CANCEL = "Your account isn't on bank draft, so there's nothing to cancel."
ANYTHING_ELSE = " Anything else?"


def enrolled(starts_on: date) -> str:
    return f"You're enrolled. First draft: {spell_date(starts_on, with_year=False)}. "


def changed(starts_on: date, still_happening: date | None) -> str:
    text = (
        "Done. Your new draft terms take effect with the draft on "
        f"{spell_date(starts_on, with_year=False)}."
    )
    if still_happening is not None:
        text += (
            f" Your {spell_date(still_happening, with_year=False)} draft was already sent to the "
            "bank and still happens as before."
        )
    return text


def copy_sentence(copy: CopyOutcome, what: str, member_services_phone: str) -> str:
    """Where the member's copy went, or who can send one when it could not go."""
    if copy.sent_to is not None:
        return f"I've sent a copy of this {what} to {copy.sent_to}."
    return (
        f"I couldn't send you a copy of this {what} right now; member services at "
        f"{member_services_phone} can send you one."
    )
