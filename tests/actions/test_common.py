"""Shared action helpers: money typed by members, channels, idempotency keys, card scrubbing,
the idle rule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.actions.common import (
    buttons_or_choices,
    current_identity,
    intent_button,
    scrub_card_numbers,
)
from bot.actions.tracker import channel_of, idempotency_key, phone_of
from bot.core.amounts import parse_amount
from bot.core.masking import CARD_NOT_KEPT_MESSAGE
from bot.services.identity import Tier
from tests.actions.identity_helpers import NOW, make_tracker, verified_slots


@pytest.mark.parametrize(
    "text,cents",
    [
        ("$45", 4500),
        ("45.20", 4520),
        ("$1,234.56", 123456),
        ("20 bucks", 2000),
        ("fifty", 5000),
        ("fifty dollars", 5000),
        ("a hundred and twenty", 12000),
        ("forty five dollars and 20 cents", 4520),
        ("twelve hundred", 120000),
        ("50 cents", 50),
        ("$142.87", 14287),
    ],
)
def test_amounts_members_type(text, cents):
    assert parse_amount(text).cents == cents


@pytest.mark.parametrize(
    "text,words",
    [
        ("$-5", "negative"),
        ("-5", "negative"),
        ("0", "more than $0"),
        ("$0.00", "more than $0"),
        ("$0.001", "fractions of a cent"),
        ("1e9", "like $45"),
        ("1000000000", "more than I can take"),
        ("the 31st", "like $45"),
        ("", "like $45"),
        ("lol", "like $45"),
        ("'; drop table payments;--", "like $45"),
        ("x" * 500, "like $45"),
    ],
)
def test_bad_amounts_get_a_sentence_not_a_crash(text, words):
    result = parse_amount(text)
    assert result.cents is None and words in (result.error or "")


def test_card_number_as_an_amount_is_refused_without_echo():
    result = parse_amount("4111 1111 1111 1111")
    assert result.error == CARD_NOT_KEPT_MESSAGE and "4111" not in result.error


def test_scrub_drops_card_and_bank_numbers_keeps_the_rest():
    assert scrub_card_numbers("4111-1111-1111-1111").found
    assert scrub_card_numbers("routing 061000104 account 123456789").found
    kept = scrub_card_numbers("1000004821")
    assert not kept.found and kept.clean == "1000004821"


def test_channel_and_phone_from_metadata():
    sms = make_tracker(text="hi", metadata={"channel": "sms", "phone": "+17065550101"})
    assert channel_of(sms) == "sms" and phone_of(sms) == "+17065550101"
    web = make_tracker(text="hi")
    assert channel_of(web) == "web" and phone_of(web) is None
    assert (
        phone_of(make_tracker(text="hi", metadata={"channel": "sms", "phone": "706-555-0101"}))
        is None
    )


def test_idempotency_key_is_stable_per_message_and_differs_across_messages():
    a = make_tracker(text="yes", intent="affirm", message_id="m-7")
    again = make_tracker(text="yes", intent="affirm", message_id="m-7")
    other = make_tracker(text="yes", intent="affirm", message_id="m-8")
    assert idempotency_key(a, "pay") == idempotency_key(again, "pay")
    assert idempotency_key(a, "pay") != idempotency_key(other, "pay")
    assert idempotency_key(a, "pay") != idempotency_key(a, "draft")


def test_identity_valid_while_active_and_gone_after_fifteen_idle_minutes():
    at = NOW.timestamp()
    slots = verified_slots(1, 1, "Dana", "4821", at=NOW - timedelta(minutes=40))
    active = make_tracker(text="hi", slots=slots, timestamps=(at - 60, at))
    identity = current_identity(active, now=NOW)
    assert identity is not None and identity.tier is Tier.VERIFIED and identity.account_id == 1
    idle = make_tracker(text="hi", slots=slots, timestamps=(at - 15 * 60, at))
    assert current_identity(idle, now=NOW) is None
    # no timestamps: verified_at decides
    assert current_identity(make_tracker(text="hi", slots=slots), now=NOW) is None
    fresh = verified_slots(1, 1, "Dana", "4821", at=NOW - timedelta(minutes=5))
    assert current_identity(make_tracker(text="hi", slots=fresh), now=NOW) is not None


def test_public_or_partial_slots_are_not_an_identity():
    assert current_identity(make_tracker(text="hi"), now=NOW) is None
    assert current_identity(make_tracker(text="hi", slots={"tier": "verified"}), now=NOW) is None
    assert (
        current_identity(make_tracker(text="hi", slots={"tier": "admin", "member_id": 1}), now=NOW)
        is None
    )


def test_buttons():
    assert intent_button("Pay now", "pay_bill") == {"title": "Pay now", "payload": "/pay_bill"}
    assert (
        intent_button("A", "inform", {"account_number": "1000005560"})["payload"]
        == '/inform{"account_number":"1000005560"}'
    )
    assert buttons_or_choices([("Pay now", "/pay_bill")]) == [
        {"title": "Pay now", "payload": "/pay_bill"}
    ]
