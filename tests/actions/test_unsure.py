"""Issue 9 items 1, 2 and 4 as a member reads them: an unsure message gets a choice (or, for an
outage, the outage answer and the report), YES after an outage answer takes the report, and a
bare number sent with nothing asked gets a reply."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from bot.actions.outage.report import ValidateOutageReportForm
from bot.actions.outage.status import REPORT_OFFER
from bot.actions.outage.unsure import (
    DID_YOU_MEAN,
    REPHRASE,
    ActionChoiceYes,
    ActionOfferChoices,
    resolve_unsure,
)
from bot.actions.recovery import NUMBER_OUT_OF_CONTEXT, ActionInformOutOfContext
from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.gateway.sms_format import message_to_sms_text
from tests.actions import test_outage as outage_tests
from tests.actions.conftest import listening_tracker
from tests.actions.test_outage import (
    LOUISVILLE_OUTAGE,
    NOW,
    SAFETY,
    WRENS_OUTAGE,
    entity,
    run_action,
    slots_of,
    texts,
    verified,
)

demo = outage_tests.demo  # the demo data's outages (Wrens, Louisville)
dana_account_id = outage_tests.dana_account_id


def unsure(
    text: str,
    ranking: list[tuple[str, float]],
    *,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A message the FallbackClassifier was unsure of: nlu_fallback on top of the ranking."""
    message = {
        "text": text,
        "intent": {"name": "nlu_fallback", "confidence": 0.55},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.55}]
        + [{"name": n, "confidence": c} for n, c in ranking],
        "entities": entities or [],
    }
    return listening_tracker("member-1", dict(slots or {}), message, active_loop=active_loop)


def active_loop_of(events: list[dict[str, Any]]) -> str | None:
    loops = [e for e in events if e.get("event") == "active_loop"]
    return loops[-1]["name"] if loops else None


# ------------------------------------------------------------------ item 1: outages never fall back


async def test_my_power_is_out_in_louisville_gets_the_known_outage_and_starts_the_report(
    make_deps, demo
) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOfferChoices(),
        unsure(
            "my power is out in louisville",
            [("outage_status", 0.49), ("report_outage", 0.47), ("check_balance", 0.02)],
            entities=entity("town", "louisville"),
        ),
    )
    # The status intent was on top, so the member is told what crews know and asked about theirs.
    assert texts(messages) == [LOUISVILLE_OUTAGE, REPORT_OFFER]
    assert slots_of(events)["choice_yes"] == "report_outage"

    messages, events = await run_action(
        ActionOfferChoices(),
        unsure(
            "my power is out in louisville",
            [("report_outage", 0.49), ("outage_status", 0.47)],
            entities=entity("town", "louisville"),
        ),
    )
    # The report intent on top: the known outage, and the report form opens at once.
    assert texts(messages) == [LOUISVILLE_OUTAGE]
    assert active_loop_of(events) == "outage_report_form"
    assert "Sorry" not in " ".join(texts(messages))


async def test_an_unsure_outage_with_a_hazard_gets_safety_once_and_the_form_does_not_repeat_it(
    make_deps, demo
) -> None:
    make_deps(NOW)
    text = "line down and sparks in wrens"
    messages, events = await run_action(
        ActionOfferChoices(),
        unsure(
            text,
            [("report_outage", 0.5), ("outage_status", 0.45)],
            entities=entity("town", "wrens"),
        ),
    )
    assert texts(messages) == SAFETY + [WRENS_OUTAGE]
    assert slots_of(events)["outage_hazard"] is True

    # The form then runs for the same message: no second safety message.
    after = unsure(text, [("report_outage", 0.5)], entities=entity("town", "wrens"))
    after.events.append({"event": "action", "name": "action_offer_choices"})
    dispatcher_messages, _ = await run_action(ValidateOutageReportForm(), after)
    assert not any("Stay away from that line" in t for t in texts(dispatcher_messages))


async def test_an_unsure_outage_with_no_place_asks_for_one_and_offers_the_report(make_deps) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOfferChoices(),
        unsure("when is it back", [("outage_status", 0.45), ("report_outage", 0.40)]),
    )
    assert texts(messages) == [
        "Is this about a power outage? Tell me the town or ZIP code and I'll check what crews "
        "know, or reply YES and I'll take your report."
    ]
    assert slots_of(events)["choice_yes"] == "report_outage"


async def test_inside_another_form_an_outage_is_offered_not_forced(make_deps, demo) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOfferChoices(),
        unsure(
            "lights out on old quaker road wrens",
            [("report_outage", 0.5), ("outage_status", 0.46)],
            entities=entity("town", "wrens"),
            active_loop="payment_form",
        ),
    )
    assert texts(messages) == [WRENS_OUTAGE, REPORT_OFFER]
    assert active_loop_of(events) is None


async def test_yes_after_an_outage_answer_opens_the_report_form(make_deps) -> None:
    make_deps(NOW)
    t = unsure("yes", [])
    t.slots["choice_yes"] = "report_outage"
    messages, events = await run_action(ActionChoiceYes(), t)
    assert messages == []
    assert active_loop_of(events) == "outage_report_form"
    assert slots_of(events)["choice_yes"] is None


async def test_yes_with_nothing_offered_asks_to_pick(make_deps) -> None:
    make_deps(NOW)
    messages, events = await run_action(ActionChoiceYes(), unsure("yes", []))
    assert texts(messages) == [
        "Please tap one of the choices, or tell me in a few words what you need."
    ]
    assert events == []


# ------------------------------------------------------------------ item 2: unsure means a choice


async def test_an_unsure_message_offers_the_best_candidates_and_something_else(make_deps) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOfferChoices(),
        unsure(
            "need my bill",
            [("bill_pdf", 0.41), ("pay_bill", 0.38), ("check_balance", 0.12), ("greet", 0.05)],
        ),
    )
    assert texts(messages) == [DID_YOU_MEAN]
    assert messages[0]["buttons"] == [
        {"title": "A copy of my bill", "payload": "/bill_pdf"},
        {"title": "Pay my bill", "payload": "/pay_bill"},
        {"title": "Check my balance", "payload": "/check_balance"},
        {"title": "Something else", "payload": "/help"},
    ]
    assert slots_of(events) == {"choice_yes": None}
    # By SMS the choices are numbered and the text fits two segments.
    sms = message_to_sms_text(messages[0])
    assert "Reply 1 for A copy of my bill, 2 for Pay my bill, 3 for Check my balance, 4 for " in sms
    assert is_gsm7(sms) and gsm7_length(sms) <= 306


async def test_nothing_worth_offering_asks_to_say_it_another_way(make_deps) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOfferChoices(), unsure("flibber jabber", [("greet", 0.3), ("affirm", 0.2)])
    )
    assert texts(messages) == [REPHRASE]


def test_the_outage_intents_are_one_flow_whichever_is_on_top() -> None:
    assert resolve_unsure([("report_outage", 0.47), ("outage_status", 0.46)]) == (
        "report_outage",
        [],
    )
    assert resolve_unsure([("outage_status", 0.49), ("report_outage", 0.47)]) == (
        "outage_status",
        [],
    )
    # A weak outage guess next to something else is a choice, not an outage report.
    kind, offered = resolve_unsure([("outage_status", 0.2), ("check_balance", 0.19)])
    assert kind == "choices" and offered == ["outage_status", "check_balance"]
    # ...unless it names a town or ZIP: then the status and an offer (never a report unasked)
    weak = [("outage_status", 0.27), ("notification_preferences", 0.15)]
    assert resolve_unsure(weak, place_named=True) == ("outage_status", [])
    assert resolve_unsure([("report_outage", 0.2), ("check_balance", 0.19)], place_named=True) == (
        "outage_status",
        [],
    )


# ------------------------------------------------------------------ item 4: a number out of context


async def test_a_ten_digit_number_with_nothing_asked_gets_a_reply(make_deps) -> None:
    make_deps(NOW)
    t = unsure("1000004821", [])
    t.latest_message.update(
        intent={"name": "inform", "confidence": 0.98},
        entities=entity("account_number", "1000004821"),
    )
    messages, _ = await run_action(ActionInformOutOfContext(), t)
    assert texts(messages) == [NUMBER_OUT_OF_CONTEXT]
    assert NUMBER_OUT_OF_CONTEXT == (
        "Is that your account number? I can check your balance or report an outage for it."
    )
    assert messages[0]["buttons"][0] == {
        "title": "Check my balance",
        "payload": '/check_balance{"account_number": "1000004821"}',
    }
    assert messages[0]["buttons"][1]["payload"] == "/report_outage"


async def test_a_town_with_nothing_asked_offers_the_outage_check(make_deps) -> None:
    make_deps(NOW)
    t = unsure("wrens", [])
    t.latest_message.update(intent={"name": "inform"}, entities=entity("town", "wrens"))
    messages, _ = await run_action(ActionInformOutOfContext(), t)
    assert texts(messages) == ["Is that where you are? I can check for a power outage there."]
    assert messages[0]["buttons"][0]["payload"] == '/outage_status{"town": "wrens"}'


async def test_a_verified_members_status_answer_offers_the_report_too(
    make_deps, dana_account_id
) -> None:
    from bot.actions.outage.status import ActionOutageStatus
    from tests.actions.test_outage import tracker

    make_deps(NOW)
    messages, events = await run_action(
        ActionOutageStatus(),
        tracker("is my power out", "outage_status", slots=verified(dana_account_id)),
    )
    assert texts(messages) == [WRENS_OUTAGE, REPORT_OFFER]
    assert slots_of(events) == {"choice_yes": "report_outage"}
