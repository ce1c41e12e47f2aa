"""Balance wording for the named demo members, against a real SQLite database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.actions.balance import ActionCheckBalance
from bot.core.gsm7 import is_gsm7
from bot.demo import generate_demo_data
from bot.store.models import Account
from tests.actions.demo_db import NAMED_ACCOUNTS
from tests.actions.identity_helpers import DEMO_TODAY, NOW, make_tracker, run, verified_slots


@pytest.fixture
def demo(sqlite_url, make_deps):
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def balance_for(session_factory, number: str, first_name: str):
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == number))
        ).one()
    slots = verified_slots(account.member_id, account.id, first_name, number[-4:])
    return await run(
        ActionCheckBalance(), make_tracker(text="balance", intent="check_balance", slots=slots)
    )


async def test_dana_current_bill_and_last_payment(demo, session_factory):
    texts, messages, _ = await balance_for(session_factory, "1000004821", "Dana")
    assert texts == [
        (
            "Account ending 4821 (412 Mill St, Wrens): $142.87 is due Dec 12. "
            "Your last payment, $118.20, arrived Nov 8."
        )
    ]
    assert messages[-1]["buttons"] == [
        {"title": "Pay now", "payload": "/pay_bill"},
        {"title": "Set up bank draft", "payload": "/setup_draft"},
        {"title": "Something else", "payload": "/help"},
    ]


async def test_earl_past_due_with_late_fee_and_disconnection_rule(demo, session_factory):
    texts, messages, _ = await balance_for(session_factory, "1000007315", "Earl")
    assert texts == [
        (
            "Account ending 7315 (88 Church St, Louisville): $137.65 in all. $96.55 is due Dec 8. "
            "Your last payment, $102.23, arrived Sep 28."
        ),
        (
            "$38.10 is past due, and a $3.00 late fee has been added. An unpaid bill can lead to "
            "disconnection if it is still unpaid at the next meter reading."
        ),
    ]
    assert "buttons" not in messages[0] or not messages[0]["buttons"]
    assert messages[-1]["buttons"][0]["payload"] == "/pay_bill"


async def test_bobbie_jo_disconnected_gets_the_next_step(demo, session_factory):
    texts, messages, _ = await balance_for(session_factory, "1000009914", "Bobbie Jo")
    assert texts == [
        "Account ending 9914 (5 Pine Hollow Rd, Stapleton) is disconnected. $268.80 is owed.",
        (
            "To restore service, pay the past-due balance and call member services at (706) "
            "547-2167 to "
            "arrange reconnection. A reconnection fee (from $50.00) applies."
        ),
    ]
    assert [b["title"] for b in messages[-1]["buttons"]] == ["Pay now", "Something else"]


async def test_every_balance_reply_fits_one_sms(demo, session_factory):
    for number, name in NAMED_ACCOUNTS:
        texts, _, _ = await balance_for(session_factory, number, name)
        for text in texts:
            assert len(text) <= 306 and is_gsm7(text), text


async def test_not_verified_gets_no_numbers(demo):
    texts, _, _ = await run(
        ActionCheckBalance(), make_tracker(text="balance", intent="check_balance")
    )
    assert texts == [
        (
            "I need to verify your account before I can share that. Just ask again and I'll walk "
            "you "
            "through it."
        )
    ]


async def test_idle_verification_gets_no_numbers(demo):
    at = NOW.timestamp()
    tracker = make_tracker(
        text="balance",
        intent="check_balance",
        slots=verified_slots(1, 1, "Dana", "4821"),
        timestamps=(at - 20 * 60, at),
    )
    texts, _, _ = await run(ActionCheckBalance(), tracker)
    assert "$" not in " ".join(texts)


async def test_someone_elses_account_id_in_the_slots_is_refused(demo, session_factory):
    async with session_factory() as session:
        earl = (
            await session.scalars(select(Account).where(Account.account_number == "1000007315"))
        ).one()
    slots = verified_slots(1, earl.id, "Dana", "7315")  # member 1 is Dana
    texts, _, _ = await run(
        ActionCheckBalance(), make_tracker(text="balance", intent="check_balance", slots=slots)
    )
    assert "$" not in " ".join(texts)
