"""The scripted conversations `make bench` sends, one per simulated member and round.

Pure data, no I/O: each turn says what the member types, which intent the NLU should find (the
benchmark checks that once through /model/parse before timing, so a latency figure never silently
measures a fallback), a phrase the reply should contain, and the category its latency counts in.

Categories follow what Rasa does for the turn, read from domain/*.yml and data/rules/*.yml:
- plain responses (a rule `intent -> utter_*`, no action server call): goodbye, thanks,
  bot_challenge;
- custom actions that read only the co-op profile (no database): action_greet, action_help,
  action_office_hours;
- database-backed custom actions: action_outage_status (outages by town), and the identity gate
  (verify_form validating an account number and ZIP against the database) followed by
  action_check_balance.
The bare `rasa init` bot only has plain responses.
"""

from __future__ import annotations

from dataclasses import dataclass

BARE_UTTER = "bare bot: utter-only"
OUR_UTTER = "ours: utter-only (plain response)"
OUR_PROFILE = "ours: custom action, no DB"
OUR_OUTAGE = "ours: DB-backed (outage by town)"
OUR_VERIFY = "ours: DB-backed (verify + balance)"

# The categories compared for the database cost of a turn (DB-backed p50 minus utter-only p50).
UTTER_ONLY = OUR_UTTER
DB_BACKED = (OUR_OUTAGE, OUR_VERIFY)
CATEGORY_ORDER = (BARE_UTTER, OUR_UTTER, OUR_PROFILE, OUR_OUTAGE, OUR_VERIFY)

# Towns with demo outages (Wrens, Louisville) and without (the others): both answers hit the DB.
OUTAGE_TOWNS = ("wrens", "louisville", "stapleton", "wadley", "bartow")


@dataclass(frozen=True)
class Turn:
    """One message a member sends and what the benchmark expects back."""

    text: str
    intent: str  # what the NLU must predict (checked once, before timing)
    category: str  # the latency bucket this turn counts in
    expect: str = ""  # case-insensitive phrase one of the replies must contain ("" = any reply)


@dataclass(frozen=True)
class DemoAccount:
    """An account to verify with: its number and service ZIP, read from the benchmark's DB."""

    account_number: str
    zip_code: str


def our_script(account: DemoAccount, town: str) -> list[Turn]:
    """A member's mixed conversation with our assistant: menu, hours, small talk, an outage
    lookup, verification and a balance, and goodbye."""
    return [
        Turn("hi", "greet", OUR_PROFILE, "Jefferson Energy Cooperative assistant"),
        Turn("what time do yall close", "ask_office_hours", OUR_PROFILE, "open"),
        Turn("thanks", "thanks", OUR_UTTER, "You're welcome"),
        Turn(f"is there an outage in {town}", "outage_status", OUR_OUTAGE, town),
        Turn("are you a bot", "bot_challenge", OUR_UTTER, "automated assistant"),
        Turn("whats my balance", "check_balance", OUR_VERIFY, "account number"),
        Turn(account.account_number, "inform", OUR_VERIFY, "ZIP"),
        Turn(account.zip_code, "inform", OUR_VERIFY, "$"),
        Turn("help", "help", OUR_PROFILE, ""),
        Turn("thank you", "thanks", OUR_UTTER, "You're welcome"),
        Turn("bye", "goodbye", OUR_UTTER, "Take care"),
    ]


def bare_script() -> list[Turn]:
    """The `rasa init` mood bot's own conversation: every turn is a plain response."""
    return [
        Turn("hello there", "greet", BARE_UTTER, "Hey! How are you?"),
        Turn("I am feeling very good", "mood_great", BARE_UTTER, "Great, carry on!"),
        Turn("are you a bot?", "bot_challenge", BARE_UTTER, "I am a bot"),
        Turn("I am sad", "mood_unhappy", BARE_UTTER, "Did that help you?"),
        Turn("yes", "affirm", BARE_UTTER, "Great, carry on!"),
        Turn("bye", "goodbye", BARE_UTTER, "Bye"),
    ]


def reply_matches(turn: Turn, replies: list[dict]) -> bool:
    """True when the bot answered and, if the turn names a phrase, some reply text contains it."""
    texts = [str(r.get("text") or "") for r in replies]
    if not any(texts):
        return False
    return not turn.expect or any(turn.expect.lower() in t.lower() for t in texts)
