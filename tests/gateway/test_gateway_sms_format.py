"""SMS rendering rules: GSM-7, at most 320 characters, split between sentences, never mid-word."""

from __future__ import annotations

import pytest

from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.gateway.keywords import Keyword, classify
from bot.gateway.sms_format import numbered_choices, pick_choice, render_sms, split_sms

LONG = (
    "Crews already know about an outage near Wrens, about 240 homes, caused by storm damage. "
    "Estimated restoration is 11:30 PM, an estimate that may change. "
    "Your report is R-20331. "
    "Please check your breakers, and stay at least 35 feet from any downed line. "
    "If anyone is in danger call 911. "
    "We will text you when power is back if you reply YES. "
)


def test_short_text_is_one_message_unchanged():
    assert split_sms("Your balance is $142.87, due Dec 15.") == [
        "Your balance is $142.87, due Dec 15."
    ]


def test_long_text_splits_on_sentence_boundaries_within_320():
    parts = split_sms(LONG * 2)
    assert len(parts) >= 3
    assert all(gsm7_length(p) <= 320 for p in parts)
    assert all(p.endswith((".", "!", "?")) for p in parts)
    assert " ".join(parts) == (LONG * 2).strip()


def test_a_single_huge_sentence_splits_between_words_never_inside_one():
    words = [f"word{i}" for i in range(150)]
    text = " ".join(words)
    parts = split_sms(text)
    assert all(len(p) <= 320 for p in parts)
    assert [w for p in parts for w in p.split()] == words


def test_extension_characters_count_twice():
    text = "[x] " * 100  # 400 characters, 500 septets
    parts = split_sms(text)
    assert all(gsm7_length(p) <= 320 for p in parts)


def test_text_becomes_gsm7():
    [part] = split_sms("We\u2019re \u201cclosed\u201d today \u2014 sorry \U0001f62c")
    assert is_gsm7(part)
    assert part.startswith('We\'re "closed" today - sorry')


def test_buttons_render_as_numbered_choices_and_images_as_links():
    texts = render_sms(
        [
            {
                "text": "Pick one.",
                "buttons": [
                    {"title": "Pay now", "payload": "/pay"},
                    {"title": "Something else", "payload": "/else"},
                ],
            },
            {"image": "https://x.example/c.png"},
        ]
    )
    assert texts == [
        "Pick one. Reply 1 for Pay now, 2 for Something else.",
        "Picture: https://x.example/c.png",
    ]
    assert numbered_choices([{"title": "A"}]) == "Reply 1 for A."


@pytest.mark.parametrize(
    "reply, expected",
    [("1", "/pay"), (" 2. ", "/else"), ("3", None), ("0", None), ("one", None), ("12", None)],
)
def test_numbered_reply_picks_a_choice(reply, expected):
    buttons = [
        {"title": "Pay now", "payload": "/pay"},
        {"title": "Something else", "payload": "/else"},
    ]
    choice = pick_choice(reply, buttons)
    assert (choice["payload"] if choice else None) == expected
    assert pick_choice("1", None) is None


@pytest.mark.parametrize(
    "body, opted_out, expected",
    [
        ("STOP", False, Keyword.OPT_OUT),
        (" stop\n", False, Keyword.OPT_OUT),
        ("Stop.", False, Keyword.OPT_OUT),
        ("stop sending me bills", False, None),
        ("START", True, Keyword.OPT_IN),
        ("unstop", False, Keyword.OPT_IN),
        ("YES", False, None),
        ("yes", True, Keyword.OPT_IN),
        ("HELP", False, Keyword.HELP),
        ("info", True, Keyword.HELP),
        ("help me pay", False, None),
    ],
)
def test_keywords_only_when_sent_alone(body, opted_out, expected):
    assert classify(body, opted_out=opted_out) is expected
