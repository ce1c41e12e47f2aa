"""Usage figures: monthly totals and comparisons, the average daily cost, the change in percent
and the SVG chart."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.services.members import UsageDay
from bot.services.usage import (
    average_daily_cost_cents,
    change_percent,
    compare_month,
    monthly_totals,
    render_usage_svg,
)


def _days(start: date, count: int, kwh: str, cost: int) -> list[UsageDay]:
    return [UsageDay(start + timedelta(days=i), Decimal(kwh), cost) for i in range(count)]


def test_monthly_totals_and_comparisons() -> None:
    days = (
        _days(date(2025, 11, 1), 30, "40.00", 520)
        + _days(date(2026, 10, 1), 31, "25.50", 330)
        + _days(date(2026, 11, 1), 30, "30.25", 401)
    )
    months = monthly_totals(days)
    assert [m.month for m in months] == [date(2025, 11, 1), date(2026, 10, 1), date(2026, 11, 1)]
    november = months[-1]
    assert (november.kwh, november.cost_cents, november.days) == (Decimal("907.50"), 12030, 30)
    assert november.label == "November 2026"

    comparison = compare_month(days, date(2026, 11, 17))
    assert comparison.last_month is not None and comparison.last_month.kwh == Decimal("790.50")
    assert comparison.last_year is not None and comparison.last_year.kwh == Decimal("1200.00")
    assert comparison.change_from_last_month_percent == Decimal("14.8")  # 907.5 / 790.5
    assert comparison.change_from_last_year_percent == Decimal("-24.4")


def test_comparison_without_history_says_so() -> None:
    comparison = compare_month(_days(date(2026, 11, 1), 3, "10", 100), date(2026, 11, 1))
    assert comparison.last_month is None and comparison.last_year is None
    assert comparison.change_from_last_month_percent is None


def test_january_compares_with_december_of_the_year_before() -> None:
    days = _days(date(2025, 12, 1), 31, "10", 100) + _days(date(2026, 1, 1), 31, "20", 200)
    comparison = compare_month(days, date(2026, 1, 5))
    assert comparison.last_month is not None and comparison.last_month.month == date(2025, 12, 1)
    assert comparison.change_from_last_month_percent == Decimal("100.0")


def test_average_daily_cost_rounds_half_up_to_the_cent() -> None:
    days = [UsageDay(date(2026, 11, d), Decimal(10), c) for d, c in [(1, 400), (2, 401)]]
    assert average_daily_cost_cents(days) == 401  # 400.5
    assert average_daily_cost_cents([]) == 0


def test_svg_chart_leaves_gaps_for_missing_days_and_escapes_text():
    start = date(2026, 11, 1)
    days = [UsageDay(start + timedelta(days=i), Decimal("20.50") + i, 250) for i in (0, 1, 3)]
    svg = render_usage_svg(days, start, start + timedelta(days=3), title="Use <&>")
    assert svg.count('fill="#2f6f4f"') == 3
    assert "<title>Nov 3:" not in svg and "<title>Nov 4: 23.50 kWh</title>" in svg
    assert "Use &lt;&amp;&gt;, kWh" in svg and "<script" not in svg
    assert "3 days with readings, 66 kWh in all" in svg
    empty = render_usage_svg([], start, start + timedelta(days=29))
    assert "No readings for these days." in empty and 'fill="#2f6f4f"' not in empty


def test_change_percent_is_rounded_and_none_without_a_base():
    assert change_percent(Decimal(927), Decimal(720)) == Decimal("28.8")
    assert change_percent(Decimal(5), Decimal(0)) is None
