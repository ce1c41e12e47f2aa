"""Usage figures a member can check: per-day comparisons, bill-to-bill differences,
the signed chart link and the SVG chart the gateway draws.

Why per day: a calendar month "so far" or a 31-day bill next to a 30-day one would make totals
look different for no reason, so comparisons divide by the days actually measured. Only what the
numbers show is said here; nothing guesses a cause (no weather data is kept).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from bot.services.members import BillRecord, UsageDay
from bot.services.signed_links import USAGE_CHART_SALT, LinkRefused, sign, unsign


@dataclass(frozen=True)
class MonthUsage:
    month: date  # the first day of the month
    kwh: Decimal
    cost_cents: int
    days: int  # days with a reading

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")


@dataclass(frozen=True)
class UsageComparison:
    """A month next to the month before and the same month a year earlier (None when missing)."""

    month: MonthUsage | None
    last_month: MonthUsage | None
    last_year: MonthUsage | None

    @property
    def change_from_last_month_percent(self) -> Decimal | None:
        return _change_percent(self.month, self.last_month)

    @property
    def change_from_last_year_percent(self) -> Decimal | None:
        return _change_percent(self.month, self.last_year)


def _change_percent(now: MonthUsage | None, before: MonthUsage | None) -> Decimal | None:
    """kWh change in percent, one decimal place; None when either month is missing or zero."""
    if now is None or before is None or before.kwh == 0:
        return None
    return ((now.kwh - before.kwh) * 100 / before.kwh).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def monthly_totals(days: Iterable[UsageDay]) -> list[MonthUsage]:
    """Daily readings grouped by calendar month, oldest month first."""
    totals: dict[date, tuple[Decimal, int, int]] = {}
    for d in days:
        key = d.day.replace(day=1)
        kwh, cost, count = totals.get(key, (Decimal(0), 0, 0))
        totals[key] = (kwh + Decimal(d.kwh), cost + d.cost_cents, count + 1)
    return [
        MonthUsage(month, kwh, cost, count) for month, (kwh, cost, count) in sorted(totals.items())
    ]


def _shift_month(month: date, delta: int) -> date:
    index = month.year * 12 + (month.month - 1) + delta
    return date(index // 12, index % 12 + 1, 1)


def compare_month(days: Iterable[UsageDay], month: date) -> UsageComparison:
    """Usage of `month` (any day in it) against the previous month and the same month last year."""
    by_month = {m.month: m for m in monthly_totals(days)}
    first = month.replace(day=1)
    return UsageComparison(
        month=by_month.get(first),
        last_month=by_month.get(_shift_month(first, -1)),
        last_year=by_month.get(_shift_month(first, -12)),
    )


def average_daily_cost_cents(days: Sequence[UsageDay]) -> int:
    """Mean cost per day with a reading, rounded half up to the cent; 0 with no readings."""
    if not days:
        return 0
    total = Decimal(sum(d.cost_cents for d in days))
    return int((total / len(days)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month containing `month` (for `MemberServices.usage`)."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


CHART_DAYS = 30
MAX_CHART_DAYS = 62  # a link never asks for more than two months of readings


def whole_kwh(kwh: Decimal | int) -> int:
    """kWh as members read it on a bill: whole units, half up."""
    return int(Decimal(kwh).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def kwh_per_day(kwh: Decimal | int, days: int) -> Decimal:
    """Average kWh a day, one decimal place."""
    return one_decimal(Decimal(kwh) / days) if days > 0 else Decimal(0)


def change_percent(now: Decimal, before: Decimal) -> Decimal | None:
    """Percent change from `before` to `now`, one decimal place; None when `before` is zero."""
    if before == 0:
        return None
    return one_decimal((now - before) * 100 / before)


def month_days(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def well_measured(month: MonthUsage | None) -> bool:
    """A month with readings on at least half its days: enough to speak of its daily average."""
    return month is not None and month.days * 2 >= month_days(month.month)


@dataclass(frozen=True)
class DailyComparison:
    """One month's average daily kWh next to another's."""

    now_per_day: Decimal
    before_per_day: Decimal
    percent: Decimal | None  # None when the earlier month used nothing


def compare_per_day(now: MonthUsage, before: MonthUsage) -> DailyComparison:
    """Compare the exact per-day averages (the rounded ones are only for display)."""
    exact_now = Decimal(now.kwh) / now.days
    exact_before = Decimal(before.kwh) / before.days
    return DailyComparison(
        kwh_per_day(now.kwh, now.days),
        kwh_per_day(before.kwh, before.days),
        change_percent(exact_now, exact_before),
    )


# ---------------------------------------------------------------- bills compared


def bill_days(bill: BillRecord) -> int:
    """Days in the bill's service period, both ends included."""
    return (bill.period_end - bill.period_start).days + 1


@dataclass(frozen=True)
class BillChange:
    """The latest bill next to the one before: what differs, in numbers only."""

    latest: BillRecord
    previous: BillRecord

    @property
    def extra_days(self) -> int:
        return bill_days(self.latest) - bill_days(self.previous)

    @property
    def kwh_percent(self) -> Decimal | None:
        return change_percent(Decimal(self.latest.kwh), Decimal(self.previous.kwh))

    @property
    def latest_per_day(self) -> Decimal:
        return kwh_per_day(self.latest.kwh, bill_days(self.latest))

    @property
    def previous_per_day(self) -> Decimal:
        return kwh_per_day(self.previous.kwh, bill_days(self.previous))


def bill_change(bills_newest_first: Sequence[BillRecord]) -> BillChange | None:
    if len(bills_newest_first) < 2:
        return None
    return BillChange(bills_newest_first[0], bills_newest_first[1])


def same_bill_last_year(bills_newest_first: Sequence[BillRecord]) -> BillRecord | None:
    """The bill issued in the same month one year before the latest, if we have it."""
    if not bills_newest_first:
        return None
    latest = bills_newest_first[0].billing_date
    for bill in bills_newest_first[1:]:
        if (bill.billing_date.year, bill.billing_date.month) == (latest.year - 1, latest.month):
            return bill
    return None


# ---------------------------------------------------------------- the chart link


@dataclass(frozen=True)
class ChartRange:
    account_id: int
    start: date
    end: date


def chart_range(latest_day: date, days: int = CHART_DAYS) -> tuple[date, date]:
    """The `days` days ending on `latest_day` (the newest reading: usually yesterday)."""
    return latest_day - timedelta(days=days - 1), latest_day


def chart_token(secret_key: str, account_id: int, start: date, end: date, *, now: datetime) -> str:
    return sign(
        secret_key,
        USAGE_CHART_SALT,
        {"a": int(account_id), "s": start.isoformat(), "e": end.isoformat()},
        now=now,
    )


def chart_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/usage/{token}.svg"


def read_chart_token(secret_key: str, token: object, *, now: datetime) -> ChartRange:
    """The account and days a chart link shows; `LinkRefused` when it is expired, forged or odd."""
    payload = unsign(secret_key, USAGE_CHART_SALT, token, now=now)
    try:
        account_id = payload["a"]
        start, end = date.fromisoformat(payload["s"]), date.fromisoformat(payload["e"])
    except (KeyError, TypeError, ValueError):
        raise LinkRefused("invalid") from None
    if not isinstance(account_id, int) or start > end or (end - start).days >= MAX_CHART_DAYS:
        raise LinkRefused("invalid")
    return ChartRange(account_id, start, end)


# ---------------------------------------------------------------- the SVG chart


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def _nice_top(peak: Decimal) -> int:
    """The y-axis top: the peak rounded up to a multiple of 10 (at least 10)."""
    top = int(-(-peak // 10) * 10)
    return max(10, top)


def render_usage_svg(
    days: Sequence[UsageDay], start: date, end: date, *, title: str = "Daily use"
) -> str:
    """A bar chart of daily kWh from `start` to `end`, as SVG text (no scripts, no external files).

    Missing days leave a gap. Each bar carries a `<title>` ("Nov 3: 28.41 kWh") so screen readers
    and a hover both give the exact figure.
    """
    width, height = 720, 300
    left, right, top, bottom = 52, 16, 44, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (end - start).days + 1
    by_day = {d.day: d for d in days if start <= d.day <= end}
    peak = max((Decimal(d.kwh) for d in by_day.values()), default=Decimal(0))
    y_top = _nice_top(peak)
    slot = plot_w / span
    bar_w = max(1.0, slot * 0.75)
    heading = f"{title}, kWh: {_short(start)} - {_short(end)}, {end.year}"
    total = sum((Decimal(d.kwh) for d in by_day.values()), Decimal(0))
    summary = (
        f"{len(by_day)} days with readings, {whole_kwh(total)} kWh in all"
        if by_day
        else "No readings for these days."
    )

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(heading)}. '
            f'{escape(summary)}">'
        ),
        f"<title>{escape(heading)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        (
            f'<text x="{left}" y="22" font-family="Arial, sans-serif" font-size="16" '
            'fill="#1a1a1a">'
            f"{escape(heading)}</text>"
        ),
        (
            f'<text x="{left}" y="38" font-family="Arial, sans-serif" font-size="12" '
            'fill="#555555">'
            f"{escape(summary)}</text>"
        ),
    ]
    for fraction in (0, 0.5, 1):  # grid lines and y labels
        y = top + plot_h - plot_h * fraction
        value = y_top * fraction
        label = f"{value:g}"
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#dddddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-family="Arial, '
            f'sans-serif" font-size="11" fill="#555555">{label}</text>'
        )
    for index in range(span):
        day = start + timedelta(days=index)
        x = left + slot * index + (slot - bar_w) / 2
        reading = by_day.get(day)
        if reading is not None:
            kwh = Decimal(reading.kwh)
            h = float(kwh) / y_top * plot_h if y_top else 0.0
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="#2f6f4f"><title>{escape(_short(day))}: {kwh} '
                "kWh</title></rect>"
            )
        if index % 7 == 0 or index == span - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                'font-family="Arial, sans-serif" font-size="11" '
                f'fill="#555555">{escape(_short(day))}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)
