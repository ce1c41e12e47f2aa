"""Issue 12 item 5: card and bank numbers are masked however they are typed, and the numbers a
member types every day (account numbers, phones, ZIPs, amounts, dates) never are.

The property tests generate valid numbers (Luhn cards, ABA routing numbers) in the ways people
write them, inside random sentences, and check what survives `mask_sensitive`.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.checks import aba_routing_valid, luhn_valid
from bot.core.masking import mask_sensitive

# ------------------------------------------------------------------ what an attacker would try

SLIPPED_PAST = [
    ("card,4111111111111111", "card,4111 **** **** 1111"),
    ("my card 4111  1111  1111  1111", "my card 4111 **** **** 1111"),
    ("4111.1111.1111.1111", "4111 **** **** 1111"),
    ("4111 1111\n1111 1111", "4111 **** **** 1111"),
    ("4111111111111111/12", "4111 **** **** 1111/12"),
    ("4111 1111 1111 1111/0928 cvv 123", "4111 **** **** 1111/0928 cvv 123"),
    (
        "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
        "4111 **** **** 1111",
    ),
    ("4111\u00a01111\u00a01111\u00a01111", "4111 **** **** 1111"),
    ("4111\u20131111\u20131111\u20131111", "4111 **** **** 1111"),
    ("41\u200b11 1111 1111 1111", "4111 **** **** 1111"),  # zero-width space inside a group
    ("\u200e4111\u200e1111\u200e1111\u200e1111\u200e", "\u200e4111 **** **** 1111\u200e"),
]


@pytest.mark.parametrize(("typed", "masked"), SLIPPED_PAST)
def test_cards_typed_in_unusual_ways_are_masked(typed: str, masked: str) -> None:
    result = mask_sensitive(typed)
    assert result.text == masked and result.found_card


@pytest.mark.parametrize(
    "typed",
    [
        "routing 021000021\naccount 123456789012",
        "my routing number is 021000021 and the account number at my bank is 123456789012",
        "account 123456789012\n\n\nrouting 021000021",
        "routing 021-000-021 account 123456789012",
        "routing 021 000 021, acct 1234-5678-9012",
        "rtn\uff10\uff12\uff11\uff10\uff10\uff10\uff10\uff12\uff11 acct 123456789012",
    ],
)
def test_bank_numbers_on_separate_lines_far_apart_or_dashed_are_masked(typed: str) -> None:
    result = mask_sensitive(typed)
    assert result.found_bank
    shown = re.sub(r"\D", " ", _normal(result.text)).split()
    assert all(len(run) <= 4 for run in shown), result.text


@pytest.mark.parametrize(
    "text",
    [
        "1000004821\n30833",
        "account 1000004821, zip 30833",
        "7065472167\n30833",
        "706.547.2167",
        "my zip is 30833. my phone is 706-547-2167.",
        "I paid $1,250.00 on 2026-11-28",
        "due 12.15.2026",
    ],
)
def test_everyday_answers_on_several_lines_are_left_alone(text: str) -> None:
    result = mask_sensitive(text)
    assert result.text == text and not result.found_any


def test_a_long_hostile_message_is_masked_quickly() -> None:
    import time

    for text in ("1 " * 800, "4111 " * 320, "021-000-021 " * 130, "\u200b1 " * 530):
        started = time.perf_counter()
        mask_sensitive(text[:1600])
        assert time.perf_counter() - started < 1.0


# ------------------------------------------------------------------ generators

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
SEPARATORS = [" ", "  ", "-", " - ", ".", "\n", " \n", "\u00a0", "\u2009", "\u2013", "\u200b"]
WORDS = st.sampled_from(
    "please use my card number is here it the for bill pay and thanks visa ok "
    "checking bank routing account: acct # new old hi, so my... (call) me!".split()
)
FILLER = st.lists(WORDS, min_size=0, max_size=12).map(" ".join)


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def _aba_complete(body: str) -> str:
    """The routing number starting with 8 digits `body` ("" for 00000000, which has none)."""
    for check in "0123456789":
        if aba_routing_valid(body + check):
            return body + check
    return ""


cards = st.integers(13, 19).flatmap(
    lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1).map(_luhn_complete)
)
routings = (
    st.tuples(
        st.sampled_from([f"{p:02d}" for p in (*range(13), *range(21, 33), *range(61, 73), 80)]),
        st.text("0123456789", min_size=6, max_size=6),
    )
    .map(lambda t: _aba_complete(t[0] + t[1]))
    .filter(bool)
)
bank_accounts = st.text("0123456789", min_size=5, max_size=17)


@st.composite
def written(draw, digits: str, grouping: list[int]) -> str:
    """`digits` in `grouping` with random separators, maybe full-width, maybe glued to text."""
    parts, at = [], 0
    for size in grouping:
        parts.append(digits[at : at + size])
        at += size
    out = parts[0]
    for part in parts[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + part
    if draw(st.booleans()):
        out = "".join(FULL_WIDTH.get(ch, ch) for ch in out)
    return out


@st.composite
def card_texts(draw) -> tuple[str, str, str]:
    card = draw(cards)
    n = len(card)
    style = draw(st.sampled_from(["run", "fours", "amex"] if n == 15 else ["run", "fours"]))
    if style == "run":
        grouping = [n]
    elif style == "amex":
        grouping = [4, 6, 5]
    else:
        grouping = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    number = draw(written(card, grouping))
    before = draw(st.sampled_from(["", ",", ":", "#", "(", " "]))
    after = draw(st.sampled_from(["", "/12", "/2027", " exp 09/28", ".", ",", ")", "!"]))
    text = f"{draw(FILLER)} {before}{number}{after} {draw(FILLER)}"
    return text, card, after


@st.composite
def bank_texts(draw) -> tuple[str, str, str]:
    routing, account = draw(routings), draw(bank_accounts)
    routing_written = draw(
        st.one_of(
            st.just(routing),
            st.sampled_from(["-", " ", "."]).map(
                lambda sep: f"{routing[:3]}{sep}{routing[3:6]}{sep}{routing[6:]}"
            ),
        )
    )
    gap = draw(st.sampled_from([" ", "\n", "\n\n", ", ", " and "])) + draw(FILLER) + " "
    first, second = draw(
        st.sampled_from(
            [
                (f"routing {routing_written}", f"account {account}"),
                (f"acct {account}", f"routing # {routing_written}"),
            ]
        )
    )
    return f"{draw(FILLER)} {first}{gap}{second} {draw(FILLER)}", routing, account


def _normal(text: str) -> str:
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch
        for ch in unicodedata.normalize("NFKC", text)
    )


def _visible_digits(text: str) -> list[str]:
    """Runs of digits a reader of the masked text sees (after Unicode normalisation)."""
    return re.findall(r"\d+", _normal(text))


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(card_texts())
@example(("card,4111111111111111", "4111111111111111", ""))
@example(("4111 1111\n1111 1111/12", "4111111111111111", "/12"))
def test_no_valid_card_number_survives_masking(case: tuple[str, str, str]) -> None:
    text, card, after = case
    result = mask_sensitive(text)
    assert result.found_card, text
    runs = _visible_digits(result.text)
    assert all(len(run) <= 4 for run in runs), (text, result.text)
    shown = sum(len(r) for r in runs) - len(re.sub(r"\D", "", after))
    assert shown <= 8, (text, result.text)
    assert card not in re.sub(r"\D", "", _normal(result.text))


@PROPERTY
@given(bank_texts())
def test_no_bank_account_survives_next_to_a_routing_number(case: tuple[str, str, str]) -> None:
    text, routing, account = case
    result = mask_sensitive(text)
    assert result.found_bank, text
    runs = _visible_digits(result.text)
    assert all(len(run) <= 4 for run in runs), (text, result.text)
    assert sum(len(r) for r in runs) <= 8, (text, result.text)


# ------------------------------------------------------------------ never masked

co_op_accounts = st.text("0123456789", min_size=8, max_size=8).map(lambda d: "10" + d)
phones = st.tuples(
    st.sampled_from("23456789"),
    st.text("0123456789", min_size=2, max_size=2),
    st.sampled_from("23456789"),
    st.text("0123456789", min_size=6, max_size=6),
).flatmap(
    lambda t: st.sampled_from(
        [
            f"{t[0]}{t[1]}{t[2]}{t[3]}",
            f"{t[0]}{t[1]}-{t[2]}{t[3][:2]}-{t[3][2:]}",
            f"({t[0]}{t[1]}) {t[2]}{t[3][:2]}-{t[3][2:]}",
            f"{t[0]}{t[1]}.{t[2]}{t[3][:2]}.{t[3][2:]}",
            f"+1 {t[0]}{t[1]} {t[2]}{t[3][:2]} {t[3][2:]}",
            f"1-{t[0]}{t[1]}-{t[2]}{t[3][:2]}-{t[3][2:]}",
        ]
    )
)
zips = (
    st.tuples(st.sampled_from("3"), st.text("0123456789", min_size=4, max_size=4))
    .map("".join)
    .flatmap(lambda z: st.sampled_from([z, f"{z}-1234", f"{z}-{z[1:]}"]))
)
amounts = st.tuples(st.integers(0, 99_999), st.integers(0, 99)).flatmap(
    lambda t: st.sampled_from(
        [f"${t[0]}.{t[1]:02d}", f"{t[0]:,}.{t[1]:02d}", f"${t[0]:,}", f"{t[0]} dollars"]
    )
)
dates = st.tuples(st.integers(1, 12), st.integers(1, 28), st.integers(2020, 2030)).flatmap(
    lambda t: st.sampled_from(
        [
            f"{t[0]}/{t[1]}/{t[2]}",
            f"{t[0]:02d}/{t[1]:02d}/{t[2]}",
            f"{t[2]}-{t[0]:02d}-{t[1]:02d}",
            f"{t[0]:02d}.{t[1]:02d}.{t[2]}",
            f"Dec {t[1]}, {t[2]}",
            f"{t[0]}/{t[1]}",
        ]
    )
)
everyday = st.one_of(co_op_accounts, phones, zips, amounts, dates)


@st.composite
def everyday_texts(draw) -> str:
    items = draw(st.lists(everyday, min_size=1, max_size=4))
    words = [draw(st.lists(WORDS, min_size=1, max_size=4).map(" ".join)) for _ in items]
    text = draw(FILLER)
    for item, between in zip(items, words, strict=True):
        text += f" {item}{draw(st.sampled_from(['', ',', '.', '?']))} {between}"
    return text


@PROPERTY
@given(everyday_texts())
def test_account_numbers_phones_zips_amounts_and_dates_are_never_masked(text: str) -> None:
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.found_any
