"""The plain "verify me / sign in" journey (`action_verify_identity`) against a real SQLite
database of demo members: not yet verified, already verified, and right after the gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.identity.signed_in import ActionVerifyIdentity
from bot.actions.identity.verify import ValidateVerifyForm
from bot.core.gsm7 import is_gsm7
from bot.demo import generate_demo_data
from bot.store.models import Account
from tests.actions.identity_helpers import (
    DANA_ACCOUNT,
    DANA_PHONE,
    DANA_ZIP,
    DEMO_TODAY,
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
