"""Pay a bill: the payment form's questions and answers and the submit action, against the demo
data in a real SQLite database (Dana: Visa 4242, $142.87; Earl: $38.10 past due + $3.00 fee +
$96.55 current, checking 6120), a fixed clock and the sandbox processor."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from bot.actions.payment import texts as payment
from bot.actions.payment.forms import ValidatePaymentForm
from bot.actions.payment.questions import (
    ActionAskPaymentAmountChoice,
    ActionAskPaymentConfirm,
    ActionAskPaymentMethod,
)
from bot.actions.payment.submit import ActionCancelPayment, ActionSubmitPayment
from bot.adapters.sandbox_processor import SandboxProcessor
from bot.config import PROJECT_ROOT
from bot.demo import generate_demo_data
from bot.store.models import Account, Payment, PaymentLink, PaymentMethod
from tests.actions.conftest import listening_tracker

EASTERN = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 28, 19, 30, tzinfo=EASTERN)  # Saturday evening, the demo data's "today"
CARD = "4111 1111 1111 1111"
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain" / "payment.yml").read_text())


@pytest.fixture
async def demo(sqlite_url, session_factory, make_deps):
    generate_demo_data(sqlite_url, members=5, today=date(2026, 11, 28))
    sandbox = SandboxProcessor(hang_seconds=0.01)
    deps = make_deps(NOW, processor=sandbox)
    people: dict[str, dict[str, Any]] = {}
    async with session_factory() as session:
        for name, number in (
            ("dana", "1000004821"),
            ("earl", "1000007315"),
            ("bobbie", "1000009914"),
        ):
            account = await session.scalar(select(Account).where(Account.account_number == number))
            methods = (
                await session.scalars(
                    select(PaymentMethod).where(PaymentMethod.member_id == account.member_id)
                )
            ).all()
            people[name] = {
                "member_id": account.member_id,
                "account_id": account.id,
                "last4": number[-4:],
                "methods": {m.last4: m.id for m in methods},
            }
    yield {"deps": deps, "sandbox": sandbox, **people}


def identity_slots(person: dict[str, Any], tier: str = "confirmed") -> dict[str, Any]:
    return {
        "tier": tier,
        "member_id": person["member_id"],
        "account_id": person["account_id"],
        "account_last4": person["last4"],
        "member_first_name": "Dana",
        "verified_how": "zip+otp",
        "verified_at": (NOW - timedelta(minutes=3)).isoformat(),
    }


def tracker(
    person: dict[str, Any],
    text: str,
    intent: str,
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    message_id: str = "msg-1",
    requested: str | None = None,
) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.98},
        "entities": entities or [],
        "message_id": message_id,
    }
    all_slots = {**identity_slots(person), **(slots or {})}
    if requested:
        all_slots["requested_slot"] = requested
    return listening_tracker(
        "conv-test",
        all_slots,
        message,
        [
            {
                "event": "user",
                "text": text,
                "parse_data": message,
                "message_id": message_id,
                "timestamp": NOW.timestamp(),
            }
        ],
        "payment_form" if requested else None,
    )


async def run(action: Action, t: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run an action; return (messages, slots it set)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def answer(person, text, intent, requested, slots=None, entities=None):
    return await run(
        ValidatePaymentForm(),
        tracker(person, text, intent, slots=slots, entities=entities, requested=requested),
    )


async def payment_rows(session_factory) -> list[Payment]:
    """Payments made in this test's conversation (the demo data has its own history)."""
    async with session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(Payment)
                    .where(Payment.idempotency_key.like("conv-test:%"))
                    .order_by(Payment.id)
                )
            ).all()
        )


def texts(messages: list[dict[str, Any]]) -> str:
    return " | ".join(m.get("text") or "" for m in messages)


# ---------------------------------------------------------------- the amount question


async def test_amount_question_offers_full_past_due_and_other(demo):
    messages, _ = await run(
        ActionAskPaymentAmountChoice(),
        tracker(demo["earl"], "yes", "affirm", requested="payment_amount_choice"),
    )
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles == ["Full $137.65", "Past due only $41.10", "Other amount"]
    assert messages[0]["text"].startswith("$137.65 is due")
    assert "How much would you like to pay?" in messages[0]["text"]


async def test_dana_has_no_past_due_button(demo):
    messages, _ = await run(
        ActionAskPaymentAmountChoice(),
        tracker(demo["dana"], "123456", "inform", requested="payment_amount_choice"),
    )
    assert [b["title"] for b in messages[0]["buttons"]] == ["Full $142.87", "Other amount"]


async def test_full_balance_fills_amount(demo):
    _, slots = await answer(
        demo["dana"], "/choose_amount_full", "choose_amount_full", "payment_amount_choice"
    )
    assert slots["payment_amount_choice"] == "full"
    assert slots["payment_amount_cents"] == 14287


async def test_past_due_only_is_past_due_plus_late_fee(demo):
    _, slots = await answer(
        demo["earl"], "past due only", "choose_amount_past_due", "payment_amount_choice"
    )
    assert slots["payment_amount_choice"] == "past_due"
    assert slots["payment_amount_cents"] == 3810 + 300


async def test_past_due_only_when_nothing_is_past_due_reasks(demo):
    messages, slots = await answer(
        demo["dana"], "past due only", "choose_amount_past_due", "payment_amount_choice"
    )
    assert slots["payment_amount_choice"] is None
    assert "Nothing on this account is past due" in texts(messages)


@pytest.mark.parametrize("text, cents", [("$45", 4500), ("45.20", 4520), ("fifty dollars", 5000)])
async def test_typed_amount_answers_the_choice(demo, text, cents):
    _, slots = await answer(
        demo["dana"],
        text,
        "inform",
        "payment_amount_choice",
        entities=[{"entity": "amount", "value": text}],
    )
    assert slots["payment_amount_choice"] == "other"
    assert slots["payment_amount_cents"] == cents


async def test_other_amount_button_then_amount_question(demo):
    _, slots = await answer(
        demo["dana"],
        '/inform{"amount":"other"}',
        "inform",
        "payment_amount_choice",
        entities=[{"entity": "amount", "value": "other"}],
    )
    assert slots["payment_amount_choice"] == "other"
    assert slots.get("payment_amount_cents") is None
    _, slots = await answer(
        demo["dana"],
        "$60.50",
        "inform",
        "payment_amount_cents",
        slots={"payment_amount_choice": "other"},
    )
    assert slots["payment_amount_cents"] == 6050


@pytest.mark.parametrize(
    "text, says",
    [
        ("$-5", "can't be negative"),
        ("1e9", "like $45 or 45.20"),
        ("$0.001", "fractions of a cent"),
        ("0", "more than $0"),
        ("\U0001f4b5\U0001f4b5", "like $45 or 45.20"),
        ("$0.50", "The smallest payment I can take is $1.00"),
        ("$6000", "up to $5,000.00"),
    ],
)
async def test_bad_amounts_get_a_clear_reask(demo, text, says):
    messages, slots = await answer(
        demo["dana"],
        text,
        "inform",
        "payment_amount_cents",
        slots={"payment_amount_choice": "other"},
    )
    assert slots["payment_amount_cents"] is None
    assert says in texts(messages)
    assert slots["payment_failures"] == 1
    assert "person" not in texts(messages)


async def test_second_bad_amount_offers_a_person(demo):
    messages, slots = await answer(
        demo["dana"],
        "lots",
        "inform",
        "payment_amount_cents",
        slots={"payment_amount_choice": "other", "payment_failures": 1},
    )
    assert slots["payment_failures"] == 2
    assert "talk with a person" in texts(messages)
    assert "(706) 547-2167" in texts(messages)


async def test_above_maximum_names_the_phone(demo):
    messages, _ = await answer(
        demo["dana"],
        "$6000",
        "inform",
        "payment_amount_cents",
        slots={"payment_amount_choice": "other"},
    )
    assert "call member services at (706) 547-2167" in texts(messages)


@pytest.mark.parametrize("intent", ["cancel", "check_balance", "ask_office_hours", "talk_to_human"])
async def test_side_questions_and_cancel_are_left_to_the_rules(demo, intent):
    messages, slots = await answer(demo["dana"], "never mind", intent, "payment_amount_choice")
    assert messages == []
    assert {k: v for k, v in slots.items() if k != "requested_slot"} == {}


# ---------------------------------------------------------------- card numbers


@pytest.mark.parametrize(
    "requested",
    ["payment_amount_choice", "payment_amount_cents", "payment_method", "payment_confirm"],
)
async def test_card_number_is_never_kept_and_a_link_is_offered(demo, session_factory, requested):
    text = f"just use my card {CARD} exp 09/28"
    messages, slots = await answer(
        demo["dana"],
        text,
        "inform",
        requested,
        slots={"payment_amount_choice": "other"} if requested != "payment_amount_choice" else None,
    )
    assert slots[requested] is None
    assert all("1111 1111" not in str(v) and "4111" not in str(v) for v in slots.values())
    said = texts(messages)
    assert said.startswith("For your safety I didn't keep that card number.")
    assert "/pay/" in said and "(works once, for 15 min)" in said
    assert "1111 1111" not in said
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(PaymentLink)) == 1


async def test_masked_card_from_the_gateway_gets_the_link(demo):
    messages, slots = await answer(
        demo["dana"], "use 4111 **** **** 1111", "inform", "payment_method"
    )
    assert slots["payment_method"] is None
    assert texts(messages).startswith("You can add a card on our secure page: http")


# ---------------------------------------------------------------- payment method


async def test_method_question_shows_saved_methods_by_type_and_last_four(demo):
    messages, _ = await run(
        ActionAskPaymentMethod(), tracker(demo["earl"], "$50", "inform", requested="payment_method")
    )
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "Checking ending 6120",
        "Add a new card or bank account",
    ]
    method_id = demo["earl"]["methods"]["6120"]
    assert (
        messages[0]["buttons"][0]["payload"] == f'/inform{{"payment_method":"method-{method_id}"}}'
    )


@pytest.mark.parametrize(
    "text, entity", [("Visa ending 4242", "method-{id}"), ("the visa", "visa"), ("4242", None)]
)
async def test_saved_method_is_picked(demo, text, entity):
    method_id = demo["dana"]["methods"]["4242"]
    entities = (
        [{"entity": "payment_method", "value": entity.format(id=method_id)}] if entity else []
    )
    _, slots = await answer(
        demo["dana"],
        text,
        "inform",
        "payment_method",
        entities=entities,
        slots={"payment_amount_choice": "full", "payment_amount_cents": 14287},
    )
    assert slots["payment_method"] == str(method_id)
    assert slots["payment_method_label"] == "Visa ending 4242"


async def test_another_members_method_is_not_accepted(demo):
    earl_method = demo["earl"]["methods"]["6120"]
    messages, slots = await answer(
        demo["dana"],
        "x",
        "inform",
        "payment_method",
        entities=[{"entity": "payment_method", "value": f"method-{earl_method}"}],
    )
    assert slots["payment_method"] is None
    assert "Visa ending 4242" in texts(messages)


async def test_new_method_ends_the_form_and_sends_a_secure_link(demo, session_factory):
    _, slots = await answer(
        demo["dana"],
        "add a new card",
        "inform",
        "payment_method",
        entities=[{"entity": "payment_method", "value": "new"}],
        slots={"payment_amount_choice": "full", "payment_amount_cents": 14287},
    )
    assert slots["payment_method"] == "new"
    assert slots["requested_slot"] is None  # no YES question: nothing will be charged now
    messages, after = await run(
        ActionSubmitPayment(),
        tracker(
            demo["dana"],
            "add a new card",
            "inform",
            slots={"payment_method": "new", "payment_amount_cents": 14287},
        ),
    )
    assert texts(messages).startswith(
        "You can add a card or bank account on our secure page: http://127.0.0.1:8080/pay/"
    )
    assert "(works once, for 15 min). Come back here when you're done." in texts(messages)
    assert after["payment_method"] is None
    async with session_factory() as session:
        link = await session.scalar(select(PaymentLink))
    assert (
        link.member_id == demo["dana"]["member_id"]
        and link.account_id == demo["dana"]["account_id"]
    )
    assert link.conversation_id == "conv-test" and link.used_at is None
    assert link.expires_at == NOW + timedelta(minutes=15)
    assert await payment_rows(session_factory) == []


# ---------------------------------------------------------------- confirmation


async def test_confirmation_names_amount_method_and_day(demo):
    slots = {"payment_amount_cents": 14287, "payment_method_label": "Visa ending 4242"}
    messages, _ = await run(
        ActionAskPaymentConfirm(),
        tracker(demo["dana"], "visa", "inform", slots=slots, requested="payment_confirm"),
    )
    assert (
        texts(messages)
        == "Pay $142.87 today with Visa ending 4242? Reply YES to confirm or NO to stop."
    )


async def test_above_balance_is_warned_before_confirming(demo):
    slots = {"payment_amount_cents": 20000, "payment_method_label": "Visa ending 4242"}
    messages, _ = await run(
        ActionAskPaymentConfirm(),
        tracker(demo["dana"], "visa", "inform", slots=slots, requested="payment_confirm"),
    )
    assert (
        messages[0]["text"]
        == "That's more than your balance of $142.87; the extra $57.13 will be a credit."
    )
    assert messages[1]["text"].startswith("Pay $200.00 today with Visa ending 4242?")


@pytest.mark.parametrize(
    "text, intent, value",
    [("yes", "affirm", "yes"), ("YES", "inform", "yes"), ("no", "deny", "no")],
)
async def test_yes_or_no(demo, text, intent, value):
    _, slots = await answer(demo["dana"], text, intent, "payment_confirm")
    assert slots["payment_confirm"] == value


async def test_unclear_confirmation_reasks(demo):
    messages, slots = await answer(
        demo["dana"],
        "hmm",
        "nlu_fallback",
        "payment_confirm",
        slots={"payment_amount_cents": 14287},
    )
    assert slots["payment_confirm"] is None
    assert texts(messages) == "Please reply YES to pay $142.87, or NO to stop."


# ---------------------------------------------------------------- submitting


def confirmed(person, amount_cents, last4, **extra):
    return {
        "payment_amount_choice": "full",
        "payment_amount_cents": amount_cents,
        "payment_method": str(person["methods"][last4]),
        "payment_confirm": "yes",
        **extra,
    }


async def test_full_payment_charges_once_even_when_the_action_runs_twice(demo, session_factory):
    t = tracker(
        demo["dana"],
        "yes",
        "affirm",
        slots=confirmed(demo["dana"], 14287, "4242"),
        message_id="yes-1",
    )
    first, slots = await run(ActionSubmitPayment(), t)
    rows = await payment_rows(session_factory)
    assert len(rows) == 1 and rows[0].status == "succeeded" and rows[0].amount_cents == 14287
    number = rows[0].confirmation_number
    assert texts(first) == (
        f"Done. Payment of $142.87 received, confirmation {number}. It posts in 1-2 business days."
    )
    assert slots["payment_last_confirmation"] == number
    assert slots["payment_confirm"] is None and slots["payment_amount_cents"] is None
    assert rows[0].method_label == "Visa ending 4242" and rows[0].channel == "web"

    again = tracker(
        demo["dana"],
        "yes",
        "affirm",
        slots=confirmed(demo["dana"], 14287, "4242"),
        message_id="yes-1",
    )
    second, _ = await run(ActionSubmitPayment(), again)
    assert (
        texts(second)
        == f"That payment is already done (confirmation {number}). Nothing more was charged."
    )
    assert len(await payment_rows(session_factory)) == 1
    assert len(demo["sandbox"].charges) == 1


async def test_a_second_yes_after_the_payment_says_already_done(demo, session_factory):
    _, slots = await run(
        ActionSubmitPayment(),
        tracker(
            demo["dana"],
            "yes",
            "affirm",
            slots=confirmed(demo["dana"], 14287, "4242"),
            message_id="yes-1",
        ),
    )
    number = slots["payment_last_confirmation"]
    later = tracker(
        demo["dana"],
        "yes",
        "affirm",
        message_id="yes-2",
        slots={"payment_last_confirmation": number},
    )
    messages, _ = await run(ActionSubmitPayment(), later)
    assert (
        texts(messages)
        == f"That payment is already done (confirmation {number}). Nothing more was charged."
    )
    assert len(await payment_rows(session_factory)) == 1


async def test_earl_pays_past_due_from_checking(demo, session_factory):
    messages, _ = await run(
        ActionSubmitPayment(),
        tracker(demo["earl"], "yes", "affirm", slots=confirmed(demo["earl"], 4110, "6120")),
    )
    rows = await payment_rows(session_factory)
    assert [(r.amount_cents, r.method_label, r.status) for r in rows] == [
        (4110, "Checking ending 6120", "succeeded")
    ]
    assert "Payment of $41.10 received" in texts(messages)


async def test_declined_payment_says_so_and_records_no_success(demo, session_factory):
    messages, slots = await run(
        ActionSubmitPayment(),
        tracker(demo["dana"], "yes", "affirm", slots=confirmed(demo["dana"], 2013, "4242")),
    )
    said = texts(messages)
    assert "declined the payment, so nothing was charged" in said
    assert "try another payment method, or call member services at (706) 547-2167" in said
    assert messages[0]["buttons"] == [{"title": "Try another method", "payload": "/pay_bill"}]
    rows = await payment_rows(session_factory)
    assert [r.status for r in rows] == ["declined"]
    assert not slots.get("payment_last_confirmation")
    assert demo["sandbox"].charges == []


async def test_processor_error_says_nothing_was_charged(demo, session_factory):
    messages, _ = await run(
        ActionSubmitPayment(),
        tracker(demo["dana"], "yes", "affirm", slots=confirmed(demo["dana"], 2014, "4242")),
    )
    assert "nothing was charged" in texts(messages)
    assert "(706) 547-2167" in texts(messages)
    assert [r.status for r in await payment_rows(session_factory)] == ["failed"]


async def test_no_means_nothing_charged(demo, session_factory):
    messages, slots = await run(
        ActionSubmitPayment(),
        tracker(
            demo["dana"],
            "no",
            "deny",
            slots={**confirmed(demo["dana"], 14287, "4242"), "payment_confirm": "no"},
        ),
    )
    assert texts(messages) == "OK, I've stopped the payment. Nothing was charged. Anything else?"
    assert await payment_rows(session_factory) == []
    assert slots["payment_amount_cents"] is None


async def test_verified_but_not_confirmed_cannot_pay(demo, session_factory):
    t = tracker(
        demo["dana"],
        "yes",
        "affirm",
        slots={**confirmed(demo["dana"], 14287, "4242"), "tier": "verified"},
    )
    messages, _ = await run(ActionSubmitPayment(), t)
    assert "confirm it's you" in texts(messages)
    assert await payment_rows(session_factory) == []


async def test_cancel_stops_and_clears(demo):
    messages, slots = await run(
        ActionCancelPayment(),
        tracker(
            demo["dana"],
            "never mind",
            "cancel",
            slots={"payment_amount_cents": 14287},
            requested="payment_method",
        ),
    )
    assert texts(messages) == "OK, I've stopped the payment. Nothing was charged. Anything else?"
    assert slots["payment_amount_cents"] is None and slots["requested_slot"] is None


def test_every_reply_template_fits_an_sms():
    for text in (
        payment.STOPPED,
        payment.CARD_NOT_KEPT.format(url="x" * 120),
        payment.NEW_METHOD_LINK.format(url="x" * 120),
    ):
        assert len(text) <= 306 and text.isascii()


def test_domain_lists_every_action_of_the_module():
    declared = set(DOMAIN["actions"])
    names = {
        cls().name()
        for cls in (
            ActionAskPaymentAmountChoice,
            ActionAskPaymentConfirm,
            ActionAskPaymentMethod,
            ActionCancelPayment,
            ActionSubmitPayment,
            ValidatePaymentForm,
        )
    }
    assert names <= declared
    assert Path(PROJECT_ROOT / "domain" / "payment.yml").exists()


async def test_after_a_side_question_the_form_says_back_to_your_payment(demo):
    messages, _ = await run(
        ActionAskPaymentAmountChoice(),
        tracker(
            demo["dana"],
            "wait what time do you close today",
            "ask_office_hours",
            requested="payment_amount_choice",
        ),
    )
    assert messages[0]["text"] == "Back to your payment: how much would you like to pay?"
    assert [b["title"] for b in messages[0]["buttons"]] == ["Full $142.87", "Other amount"]


# -------------------------------------------------- partial and split payments (issue 9)


@pytest.mark.parametrize(
    "text, intent", [("half", "inform"), ("ok can i pay half of it now", "pay_bill")]
)
async def test_half_of_the_balance_is_a_payable_amount(demo, text, intent):
    messages, slots = await answer(demo["dana"], text, intent, "payment_amount_choice")
    assert slots["payment_amount_choice"] == "other"
    assert slots["payment_amount_cents"] == 7144  # half of $142.87, rounded half up
    assert messages == []


async def test_whatever_the_past_due_is_pays_the_past_due_part(demo):
    _, slots = await answer(
        demo["earl"], "whatever the past due is", "pay_bill", "payment_amount_choice"
    )
    assert slots["payment_amount_choice"] == "past_due"
    assert slots["payment_amount_cents"] == 3810 + 300


async def test_fifty_now_and_the_rest_friday_takes_fifty_and_says_what_is_left(demo):
    messages, slots = await answer(
        demo["dana"],
        "$50 now and the rest friday",
        "pay_bill",
        "payment_amount_choice",
        entities=[{"entity": "amount", "value": "$50"}],
    )
    assert slots["payment_amount_cents"] == 5000
    assert texts(messages).startswith(
        "I'll take $50.00 now. The rest, $92.87, can be paid any time"
    )
    assert "just say pay my bill" in texts(messages)
