"""The plain "verify me / sign in" journey (`action_verify_identity`) against a real SQLite
database of demo members: not yet verified, already verified, and right after the gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.identity.questions import (
    ActionAskAccountChoice,
    ActionAskAccountNumber,
    ActionAskZipCode,
)
from bot.actions.identity.signed_in import ActionVerifyIdentity
from bot.actions.identity.verify import ValidateVerifyForm
from bot.core.gsm7 import is_gsm7
from bot.demo import generate_demo_data
from bot.store.models import Account, VerificationAttempt
from tests.actions.conftest import listening_tracker
from tests.actions.identity_helpers import (
    DANA_ACCOUNT,
    DANA_PHONE,
    DANA_ZIP,
    DEMO_TODAY,
    MARCUS_PHONE,
    NOW,
    domain,
    make_tracker,
    run,
    verified_slots,
)

NEXT_STEPS = ["/check_balance", "/pay_bill", "/help"]


@pytest.fixture
def demo(sqlite_url, make_deps):
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def dana_slots(session_factory, **extra):
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == DANA_ACCOUNT))
        ).one()
    return {**verified_slots(account.member_id, account.id, "Dana", "4821"), **extra}


async def events_of(tracker) -> tuple[list[str], list[dict]]:
    """(texts sent, events returned) of `action_verify_identity` for `tracker`."""
    dispatcher = CollectingDispatcher()
    events = await ActionVerifyIdentity().run(dispatcher, tracker, domain())
    return [m.get("text") for m in dispatcher.messages], events


async def test_not_verified_starts_the_verification_form(demo):
    texts, events = await events_of(
        make_tracker(text="verify me", intent="verify_identity", slots={"journey": "verify"})
    )
    assert texts == []  # the form's first question says "First I need to make sure it's you."
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "verify_form")]


async def test_already_verified_says_so_with_the_account_and_what_it_can_do(demo, session_factory):
    slots = await dana_slots(session_factory, journey="verify")
    texts, messages, _ = await run(
        ActionVerifyIdentity(),
        make_tracker(text="can i sign in", intent="verify_identity", slots=slots),
    )
    assert texts == [
        "You're already verified for account ending 4821. I can check your balance, take a "
        "payment, set up a bank draft, or show your bills and usage."
    ]
    assert [b["payload"] for b in messages[-1]["buttons"]] == NEXT_STEPS


async def test_after_the_form_you_are_verified_then_what_you_can_do_not_a_balance(
    demo, session_factory
):
    form = make_tracker(
        text=f"{DANA_ACCOUNT} {DANA_ZIP}",
        new_slots={"account_number": DANA_ACCOUNT, "zip_code": DANA_ZIP},
        slots={"journey": "verify"},
        active_loop="verify_form",
    )
    form_texts, _, form_slots = await run(ValidateVerifyForm(), form)
    assert form_texts == ["You're verified, Dana."]
    assert form_slots["tier"] == "verified" and form_slots["requested_slot"] is None

    after = make_tracker(
        text=f"{DANA_ACCOUNT} {DANA_ZIP}", slots={"journey": "verify", **form_slots}
    )
    texts, messages, _ = await run(ActionVerifyIdentity(), after)
    assert texts == [
        "You're all set for account ending 4821. I can check your balance, take a payment, set "
        "up a bank draft, or show your bills and usage. What would you like?"
    ]
    assert "$" not in texts[0] and "due" not in texts[0]  # not a balance dump
    assert [b["payload"] for b in messages[-1]["buttons"]] == NEXT_STEPS


async def test_after_the_sms_phone_path_and_every_reply_fits_two_sms(demo, session_factory):
    sms = {"channel": "sms", "phone": DANA_PHONE}
    form = make_tracker(
        text=DANA_ZIP,
        new_slots={"zip_code": DANA_ZIP},
        slots={"journey": "verify"},
        metadata=sms,
        active_loop="verify_form",
    )
    form_texts, _, form_slots = await run(ValidateVerifyForm(), form)
    assert form_texts == ["You're verified, Dana."]
    after = make_tracker(text=DANA_ZIP, slots={"journey": "verify", **form_slots}, metadata=sms)
    texts, _, _ = await run(ActionVerifyIdentity(), after)
    assert texts[0].startswith("You're all set for account ending 4821.")
    already = await run(
        ActionVerifyIdentity(),
        make_tracker(
            text="verify me",
            intent="verify_identity",
            slots=await dana_slots(session_factory),
            metadata=sms,
        ),
    )
    for text in [*form_texts, *texts, *already[0]]:
        assert len(text) <= 306 and is_gsm7(text)


async def test_an_expired_verification_opens_the_form_again(demo, session_factory):
    slots = await dana_slots(session_factory, journey="verify")
    slots["verified_at"] = (NOW - timedelta(hours=2)).isoformat()
    texts, events = await events_of(
        make_tracker(text="verify me", intent="verify_identity", slots=slots)
    )
    assert texts == []  # never "already verified" on a stale identity
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "verify_form")]


async def test_a_stopped_gate_says_nothing_more(demo):
    texts, _, _ = await run(
        ActionVerifyIdentity(),
        make_tracker(text="30834", slots={"journey": "stopped"}),
    )
    assert texts == []


# ---- "verify me / sign in" said while the gate is already asking (issue 9): the current
# question again, plainly, in one message; never the format hint of a wrong answer

SURE = "Sure - let's do that now. "
ACCOUNT_QUESTION = "What's your 10-digit account number? It's at the top of your bill."


def waiting_tracker(
    question: str,
    text: str,
    *,
    slot: str,
    intent: str = "verify_identity",
    slots: dict | None = None,
    metadata: dict | None = None,
):
    """The gate asked `question` earlier in this run of verify_form, and the member now says
    `text`, which the form's text mapping put into `slot` (what validation and the re-ask see)."""
    meta = metadata or {}
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [],
        "message_id": "m-2",
        "metadata": meta,
    }
    events = [
        {"event": "action", "name": "verify_form"},
        {"event": "active_loop", "name": "verify_form"},
        {"event": "action", "name": question},
        {"event": "bot", "text": "the question"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "metadata": meta},
        {"event": "slot", "name": slot, "value": text},
    ]
    all_slots = {"tier": "public", "journey": "balance", **(slots or {}), slot: text}
    all_slots["requested_slot"] = slot
    return listening_tracker("conv-1", all_slots, parse, events, "verify_form")


async def attempts(session_factory) -> int:
    async with session_factory() as session:
        return len((await session.scalars(select(VerificationAttempt))).all())


async def member_sees(question_action, tracker) -> list[str]:
    """What the member reads for one turn: the validator's messages, then the form's question
    (Rasa asks the requested slot again after validation)."""
    validator_texts, _, slots = await run(ValidateVerifyForm(), tracker)
    tracker.slots.update(slots)
    question_texts, _, _ = await run(question_action, tracker)
    return [*validator_texts, *question_texts]


@pytest.mark.parametrize("said", ["verify me", "sign in", "can i log in to my account"])
async def test_verify_me_while_the_account_number_is_asked_re_asks_it_plainly(
    demo, session_factory, said
):
    tracker = waiting_tracker("action_ask_account_number", said, slot="account_number")
    _, _, slots = await run(ValidateVerifyForm(), tracker)
    assert slots["account_number"] is None
    assert await member_sees(ActionAskAccountNumber(), tracker) == [SURE + ACCOUNT_QUESTION]
    assert await attempts(session_factory) == 0  # not a wrong try


async def test_verify_me_while_the_zip_is_asked_re_asks_it_and_keeps_the_account_number(demo):
    tracker = waiting_tracker(
        "action_ask_zip_code",
        "verify me",
        slot="zip_code",
        slots={"account_number": DANA_ACCOUNT},
    )
    _, _, slots = await run(ValidateVerifyForm(), tracker)
    assert slots["zip_code"] is None and "account_number" not in slots  # the number given stays
    assert slots["requested_slot"] == "zip_code"
    assert await member_sees(ActionAskZipCode(), tracker) == [
        SURE + "What's the ZIP code of the service address? You can send the amount of your "
        "last payment instead."
    ]


async def test_sms_sign_in_while_the_zip_is_asked_re_asks_it_in_one_short_text(demo):
    tracker = waiting_tracker(
        "action_ask_zip_code",
        "sign in",
        slot="zip_code",
        metadata={"channel": "sms", "phone": DANA_PHONE},
    )
    seen = await member_sees(ActionAskZipCode(), tracker)
    assert seen == [
        SURE + "I see this number on file. To confirm it's you, reply with the ZIP code of the "
        "service address."
    ]
    assert len(seen[0]) <= 306 and is_gsm7(seen[0])


async def test_verify_me_while_picking_an_account_re_asks_with_the_buttons(demo, session_factory):
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == "1000005560"))
        ).one()
    verified = verified_slots(account.member_id, None, "Marcus", None)
    tracker = waiting_tracker(
        "action_ask_account_choice",
        "verify me",
        slot="account_choice",
        slots=verified,
        metadata={"channel": "sms", "phone": MARCUS_PHONE},
    )
    validator_texts, _, _ = await run(ValidateVerifyForm(), tracker)
    texts, messages, _ = await run(ActionAskAccountChoice(), tracker)
    assert validator_texts == []  # not "Sorry, I didn't catch which account."
    assert texts == [SURE + "You have more than one account. Which one?"]
    assert len(messages[-1]["buttons"]) == 2


async def test_sign_in_with_the_number_in_it_is_still_an_answer(demo):
    tracker = waiting_tracker(
        "action_ask_account_number", f"sign in {DANA_ACCOUNT}", slot="account_number"
    )
    texts, _, slots = await run(ValidateVerifyForm(), tracker)
    assert texts == [] and slots["account_number"] == DANA_ACCOUNT


async def test_a_wrong_answer_still_gets_the_format_hint(demo):
    tracker = waiting_tracker(
        "action_ask_account_number", "my account", slot="account_number", intent="inform"
    )
    seen = await member_sees(ActionAskAccountNumber(), tracker)
    assert seen == [
        "Your account number is 10 digits, printed at the top of your bill. Please send just "
        "those digits.",
        ACCOUNT_QUESTION,
    ]


async def test_the_first_question_after_verify_me_still_says_why(demo):
    tracker = make_tracker(text="verify me", intent="verify_identity", active_loop="verify_form")
    texts, _, _ = await run(ActionAskAccountNumber(), tracker)
    assert texts == ["First I need to make sure it's you. " + ACCOUNT_QUESTION]
