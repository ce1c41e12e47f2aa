"""Money: integer cents in storage, `Decimal` dollars in rules, exact strings for members."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_cents(amount: Decimal | int | str) -> int:
    """Dollars (Decimal or str like "142.87") to whole cents; refuses fractions of a cent."""
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount of money: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount of money: {amount!r}")
    if value != value.quantize(CENT):
        raise ValueError(f"amount has fractions of a cent: {amount!r}")
    return int((value * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def percent_of(cents: int, percent: Decimal) -> int:
    """`percent` % of an amount in cents, rounded half up to the cent."""
    return int((Decimal(cents) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_cents(cents: int) -> str:
    """`14287` -> `$142.87`; negative amounts (credits) -> `-$5.00`."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${from_cents(abs(cents)):,.2f}"
