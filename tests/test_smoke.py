from decimal import Decimal

import pytest

from bot.core.money import format_cents, from_cents, percent_of, to_cents


def test_money_round_trip_is_exact() -> None:
    assert to_cents("142.87") == 14287
    assert from_cents(14287) == Decimal("142.87")
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(-500) == "-$5.00"


def test_money_refuses_fractions_of_a_cent_and_nonsense() -> None:
    for bad in ["0.001", "1e-9", "NaN", "Infinity", "abc"]:
        with pytest.raises(ValueError):
            to_cents(bad)


def test_percent_rounds_half_up_to_the_cent() -> None:
    assert percent_of(3810, Decimal("5")) == 191  # 190.5 -> 191
