"""Item 21: after a card is saved on the secure page the conversation continues ("Your Visa
ending 4242 is saved. Pay $142.87 with it now?"), through the actions; and, as the attack, a
forged `payment_method_id` (another member's card) triggered into the conversation is not used.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.deps import ActionDeps
from bot.actions.payment.method_added import METHOD_ADDED_INTENT, ActionMethodAdded
from bot.actions.payment.questions import ActionAskPaymentConfirm
from bot.store.db import session_scope
from bot.store.models import Account, PaymentMethod
from tests.actions.identity_helpers import make_tracker, run, verified_slots


async def _dana(deps: ActionDeps, tier: str = "confirmed") -> dict[str, Any]:
    async with deps.sessions() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == "1000004821"))
        ).one()
    return verified_slots(account.member_id, account.id, "Dana", "4821", tier=tier)


async def _new_card(deps: ActionDeps, member_id: int) -> int:
    async with session_scope(deps.sessions) as session:
        row = PaymentMethod(
            member_id=member_id,
            token="tok_sandbox_new",
            kind="card",
            brand="Visa",
            last4="1881",
            exp_month=12,
            exp_year=2030,
            holder_name="Dana Whitfield",
            is_active=True,
        )
        session.add(row)
        await session.flush()
        return row.id


def _triggered(slots: dict[str, Any], method_id: int) -> Any:
    tracker = make_tracker(text="", intent=METHOD_ADDED_INTENT, slots=slots)
    tracker.latest_message["entities"] = [{"entity": "payment_method_id", "value": method_id}]
    return tracker


async def test_a_saved_card_leads_straight_to_paying_the_balance_with_it(demo_deps):
    slots = await _dana(demo_deps)
    method_id = await _new_card(demo_deps, slots["member_id"])
    dispatcher_texts, _, set_slots = await run(ActionMethodAdded(), _triggered(slots, method_id))
    assert dispatcher_texts == []
    assert set_slots == {
        "payment_amount_choice": "full",
        "payment_amount_cents": 14287,
        "payment_method": str(method_id),
        "payment_method_label": "Visa ending 1881",
        "payment_confirm": None,
        "payment_failures": 0,
    }
    asked = _triggered({**slots, **set_slots, "requested_slot": "payment_confirm"}, method_id)
    texts, messages, _ = await run(ActionAskPaymentConfirm(), asked)
    assert texts[-1] == "Pay $142.87 with it now? Reply YES to pay or NO to stop."
    assert [b["title"] for b in messages[-1]["buttons"]] == ["Yes, pay", "No, stop"]


async def test_the_form_resumes_at_its_confirmation(demo_deps):
    slots = await _dana(demo_deps)
    method_id = await _new_card(demo_deps, slots["member_id"])
    events = await ActionMethodAdded().run(CollectingDispatcher(), _triggered(slots, method_id), {})
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["payment_form"]


async def test_another_members_card_id_triggered_into_the_chat_is_not_used(demo_deps):
    slots = await _dana(demo_deps)
    async with demo_deps.sessions() as session:
        marcus = (
            await session.scalars(select(Account).where(Account.account_number == "1000005560"))
        ).one()
    stranger = await _new_card(demo_deps, marcus.member_id)
    texts, _, set_slots = await run(ActionMethodAdded(), _triggered(slots, stranger))
    assert set_slots == {}
    assert texts == ['I couldn\'t find that payment method. Say "pay my bill" to choose one.']


async def test_without_the_confirmed_tier_the_member_is_told_how_to_go_on(demo_deps):
    slots = await _dana(demo_deps, tier="verified")
    method_id = await _new_card(demo_deps, slots["member_id"])
    texts, _, set_slots = await run(ActionMethodAdded(), _triggered(slots, method_id))
    assert set_slots == {}
    assert texts == ['Whenever you\'re ready, say "pay my bill" and you can choose it.']
