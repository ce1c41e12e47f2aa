"""What the identity gate says to the member, and its buttons."""

from __future__ import annotations

import re

from bot.actions.common import intent_button
from bot.core.masking import mask_email
from bot.services.members import AccountRecord

# ---------------------------------------------------------------- verify_form

GATE_INTRO = "First I need to make sure it's you. "
ACCOUNT_NUMBER_QUESTION = "What's your 10-digit account number? It's at the top of your bill."
ZIP_QUESTION_PLAIN = (
    "What's the ZIP code of the service address? "
    "You can send the amount of your last payment instead."
)
ZIP_QUESTION = f"Thanks. {ZIP_QUESTION_PLAIN}"
# "verify me / sign in" said while the gate is already asking: the current question, plainly
SIGN_IN_AGAIN = "Sure - let's do that now. "
LAST_PAYMENT_QUESTION = "What was the amount of your last payment? For example: 118.20"
ZIP_OR_PAYMENT_MESSAGE = (
    "Please send the 5-digit ZIP code of the service address, or the amount of your last payment."
)
ACCOUNT_CHOICE_QUESTION = "You have more than one account. Which one?"
ACCOUNT_CHOICE_UNCLEAR = "Sorry, I didn't catch which account. Please pick one below."


def zip_question_for_phone(accounts: int) -> str:
    """The ZIP question when the texting phone is on file for one or more accounts. It names no
    account digits: whoever holds the phone has not given a second factor yet."""
    if accounts == 1:
        return (
            "I see this number on file. To confirm it's you, reply with the ZIP code of the "
            "service address."
        )
    return (
        "I see this number on file. To confirm it's you, reply with the ZIP code of the service "
        "address you want to ask about."
    )


def verified(first_name: str) -> str:
    return f"You're verified, {first_name}."


def account_chosen(account: AccountRecord) -> str:
    return f"OK, account ending {account.last4} ({account.service_address})."


def account_button(account: AccountRecord, ref: str) -> dict[str, str]:
    """'Account ending 5560 (27 Broad St, Wrens)'; the payload carries `ref`, an opaque id of the
    account for this conversation (`verify.account_ref`), never the account number: a button's
    payload stays in the browser's transcript and the tracker."""
    return intent_button(
        f"Account ending {account.last4} ({account.service_address})",
        "inform",
        {"account_number": ref},
    )


# ---------------------------------------------------------------- confirm_form (one-time code)

CODE_OK = "Thanks, that code checks out."
CODE_MALFORMED = "The code is the 6 digits in the message I sent."
CODE_EXPIRED = "That code has expired, so I'll send you a new one."
CODE_RATE_LIMITED = (
    "I've sent several codes already. Please use the latest one, or wait a few minutes "
    "and ask again."
)


def codes_paused(member_services_phone: str) -> str:
    """Too many codes or wrong guesses for this phone or account, from any conversation."""
    return (
        "For your security I can't send another code right now. Please try again later, or call "
        f"member services at {member_services_phone}."
    )


def code_wrong(attempts_left: int) -> str:
    tries = "try" if attempts_left == 1 else "tries"
    return f"That code doesn't match. You have {attempts_left} {tries} left."


def too_many_tries(member_services_phone: str) -> str:
    return (
        "That's too many tries, so I've stopped for your security. Please call member "
        f"services at {member_services_phone} for help."
    )


def code_reminder(sent_to: str) -> str:
    return f"Please reply with the 6-digit code I sent to {sent_to}."


def no_contact_on_file(member_services_phone: str) -> str:
    return (
        "I don't have a phone or email on file to send a code to. Please call member "
        f"services at {member_services_phone}."
    )


def code_sent(kind: str, described: str, minutes: int) -> str:
    verb = "text" if kind == "sms" else "email"
    return (
        f"To continue, I'll {verb} a 6-digit code to {described}. Reply with it here. "
        f"It expires in {minutes} min."
    )


def code_not_sent(member_services_phone: str) -> str:
    return (
        "I couldn't send a code just now. Please try again in a few minutes, or call member "
        f"services at {member_services_phone}."
    )


def describe_destination(destination: str, kind: str) -> str:
    """'the phone on file ending 0101' or 'the email on file, d***@example.com'."""
    if kind == "email":
        return f"the email on file, {mask_email(destination)}"
    last4 = re.sub(r"\D", "", destination)[-4:]
    return f"the phone on file ending {last4}"


# ---------------------------------------------------------------- log out and digressions

LOGGED_OUT = (
    "You're logged out. I've forgotten your account in this chat; I'll ask again "
    "before sharing account details."
)
NOT_SIGNED_IN = "You weren't signed in, so there's nothing to log out of."
AFTER_VERIFICATION = "I can help with that as soon as you're verified."


# ---------------------------------------------------------------- "verify me / sign in"

WHAT_I_CAN_DO = (
    "I can check your balance, take a payment, set up a bank draft, or show your bills and usage."
)


def already_verified(last4: str) -> str:
    return f"You're already verified for account ending {last4}. {WHAT_I_CAN_DO}"


def signed_in(last4: str) -> str:
    """After the gate's own "You're verified, Dana.": what the member can do now."""
    return f"You're all set for account ending {last4}. {WHAT_I_CAN_DO} What would you like?"
