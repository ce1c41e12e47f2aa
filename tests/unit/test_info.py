"""The information answers: which profile facts answer which question, and SMS-sized pieces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import PROJECT_ROOT
from bot.core.gsm7 import gsm7_length
from bot.profile import CoopProfile, load_profile
from bot.services.info import INFO_INTENTS, answer, office_for_town, split_for_sms


@pytest.fixture(scope="module")
def profile() -> CoopProfile:
    return load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


def test_every_information_intent_of_the_nlu_has_an_answer_except_office_hours(profile) -> None:
    import yaml

    intents = yaml.safe_load((PROJECT_ROOT / "domain" / "intents.yml").read_text())["intents"]
    asked = {i for i in intents if isinstance(i, str) and i.startswith("ask_")}
    assert asked - INFO_INTENTS == {
        "ask_office_hours"
    }  # answered by action_office_hours (needs the clock)
    for intent in INFO_INTENTS:
        assert answer(intent, profile), intent


def test_a_long_profile_text_is_split_between_sentences() -> None:
    text = " ".join(f"Sentence number {n} says something useful about billing." for n in range(12))
    pieces = split_for_sms(text)
    assert len(pieces) > 1
    assert all(gsm7_length(p) <= 320 and p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text


def test_curly_quotes_from_a_hand_edited_profile_are_made_gsm7(profile) -> None:
    faq = dict(profile.faq, levelized_billing="It\u2019s \u201ceasy\u201d \U0001f600.")
    assert answer("ask_levelized_billing", replace(profile, faq=faq)) == ['It\'s "easy".']


@pytest.mark.parametrize(
    "town, office_id",
    [
        ("Louisville", "louisville"),
        ("louisville ga", "louisville"),
        ("WRENS", "wrens"),
        ("Augusta", None),
        (None, None),
    ],
)
def test_office_for_town(profile, town, office_id) -> None:
    office = office_for_town(profile, [town])
    assert (office.id if office else None) == office_id


def test_an_office_without_a_lunch_closure_says_none(profile) -> None:
    messages = answer("ask_office_locations", profile, town="blythe")
    assert messages[0] == "Our Blythe office is at 3106 GA-88, Blythe, GA 30805."
    assert "lunch" not in " ".join(messages)


def test_a_missing_faq_text_points_to_member_services(profile) -> None:
    no_faq = replace(profile, faq={})
    assert answer("ask_register_online", no_faq) == [
        "Please call member services at (706) 547-2167 about that."
    ]


def test_an_unknown_intent_is_refused(profile) -> None:
    with pytest.raises(KeyError):
        answer("pay_bill", profile)
