"""Usage and high-bill questions: this month against last month and last year, the
average daily cost, what differs between the latest bill and the one before, and a chart link.

Figures come from `bot.services.usage` (readings, `compare_month`, `average_daily_cost_cents`)
and `bot.services.usage` (per-day comparisons, bill differences, the signed chart link). This
module only words them, one idea per message, each within an SMS's 306 characters (two
segments). One source per period: the bills for the days they cover, the readings for the days
since the latest bill; a follow-up ("why is it so high") gets the part it asks about. It says what
the numbers show and never guesses a cause.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker

from bot.actions.common import (
    AccountAction,
    Dispatcher,
    buttons_or_choices,
    intent_button,
)
from bot.actions.deps import ActionDeps
from bot.core.dates import local_date, short_date
from bot.core.money import format_cents
from bot.services.members import AccountRecord, BillRecord, UsageDay
from bot.services.usage import (
    MonthUsage,
    average_daily_cost_cents,
    bill_change,
    bill_days,
    chart_range,
    chart_token,
    chart_url,
    compare_month,
    compare_per_day,
    same_bill_last_year,
    well_measured,
    whole_kwh,
)


def _more_less(percent: Decimal) -> str:
    if percent > 0:
        return f"{percent}% more"
    if percent < 0:
        return f"{-percent}% less"
    return "the same"


def _month_name(month: MonthUsage, with_year: bool = False) -> str:
    return month.month.strftime("%B %Y" if with_year else "%B")


def month_messages(days: list[UsageDay], today: date, last4: str) -> list[str]:
    """This month (the month of the newest reading) against last month and the same month last
    year."""
    if not days:
        return [
            f"I don't have meter readings for account ending {last4} yet, so I can't show usage."
        ]
    newest = days[-1].day
    comparison = compare_month(days, newest)
    month = comparison.month
    assert month is not None  # the newest reading is in it
    in_month = [d for d in days if d.day.replace(day=1) == month.month]
    partial = (newest.year, newest.month) == (today.year, today.month)
    label = (
        f"{_month_name(month)} so far ({short_date(month.month)}-{newest.day})"
        if partial
        else _month_name(month, with_year=True)
    )
    first = (
        f"Account ending {last4}: {label}, {whole_kwh(month.kwh)} kWh for "
        f"{format_cents(month.cost_cents)}, an average of "
        f"{format_cents(average_daily_cost_cents(in_month))} a day."
    )
    before = comparison.last_month
    if well_measured(before):
        assert before is not None
        first += (
            f" {_month_name(before, with_year=True)}: {whole_kwh(before.kwh)} kWh for "
            f"{format_cents(before.cost_cents)} over {before.days} days."
        )

    parts: list[str] = []
    if well_measured(before):
        assert before is not None
        change = compare_per_day(month, before)
        parts.append(
            f"Per day you used {change.now_per_day} kWh this month against {change.before_per_day} "
            f"in {_month_name(before)}"
            + (f": {_more_less(change.percent)}." if change.percent is not None else ".")
        )
    last_year = comparison.last_year
    year_label = month.month.replace(year=month.month.year - 1).strftime("%B %Y")
    if well_measured(last_year):
        assert last_year is not None
        change = compare_per_day(month, last_year)
        if change.percent is not None:
            parts.append(
                f"That's {_more_less(change.percent)} per day than {year_label} "
                f"({change.before_per_day} kWh a day)."
            )
    else:
        parts.append(f"I don't have enough readings from {year_label} to compare with last year.")
    return [first, " ".join(parts)]


def bill_message(bills: list[BillRecord]) -> str | None:
    """What differs between the latest bill and the one before (and last year's, when we have
    it)."""
    if not bills:
        return None
    latest = bills[0]
    head = (
        f"Your latest bill ({short_date(latest.billing_date)}), "
        f"{format_cents(latest.amount_cents)}, covers {bill_days(latest)} days and {latest.kwh} "
        "kWh."
    )
    change = bill_change(bills)
    if change is None:
        return head
    prev = change.previous
    text = f"{head} The one before covered {bill_days(prev)} days and {prev.kwh} kWh."
    extra = change.extra_days
    days_part = (
        f"{extra} more day{'s' if extra != 1 else ''}"
        if extra > 0
        else f"{-extra} fewer day{'s' if extra != -1 else ''}"
        if extra < 0
        else "the same number of days"
    )
    kwh_part = (
        f"{_more_less(change.kwh_percent)} kWh"
        if change.kwh_percent is not None and change.kwh_percent
        else "the same kWh"
    )
    text += (
        f" So this bill has {days_part} and {kwh_part}: {change.latest_per_day} kWh a day, against "
        f"{change.previous_per_day}."
    )
    year_ago = same_bill_last_year(bills)
    if year_ago is not None:
        text += (
            f" A year ago the bill was {format_cents(year_ago.amount_cents)} for {year_ago.kwh} "
            f"kWh over {bill_days(year_ago)} days."
        )
    return text


def current_period_message(days: list[UsageDay], bills: list[BillRecord], last4: str) -> str | None:
    """Since the latest bill, from the readings (the one source for days no bill covers yet), and
    the use per day against that bill. None when there is no bill or no reading after it."""
    if not bills or not days:
        return None
    latest = bills[0]
    since = [d for d in days if d.day > latest.period_end]
    if not since:
        return None
    kwh = sum((d.kwh for d in since), Decimal(0))
    cost = sum(d.cost_cents for d in since)
    first, last = since[0].day, since[-1].day
    span = short_date(first) if first == last else f"{short_date(first)}-{short_date(last)}"
    text = (
        f"Account ending {last4}: since your latest bill ({span}) you've used {whole_kwh(kwh)} "
        "kWh, "
        f"about {format_cents(cost)} of energy, {format_cents(average_daily_cost_cents(since))} "
        "a day."
    )
    per_day = (kwh / len(since)).quantize(Decimal("0.1"))
    billed = (Decimal(latest.kwh) / bill_days(latest)).quantize(Decimal("0.1"))
    if billed > 0:
        percent = ((per_day - billed) * 100 / billed).quantize(Decimal("0.1"))
        text += f" That's {per_day} kWh a day against {billed} on your latest bill" + (
            f": {_more_less(percent)}." if percent else ": the same."
        )
    return text


# A follow-up ("why is it so high", "show me the chart") gets the part it asks about.
_ASKS_CHART = ("chart", "graph", "picture", "daily use")
_ASKS_TODAY = ("so far", "this month", "since", "right now", "today", "per day", "a day")


def follow_up_part(text: str) -> str:
    """Which part a follow-up asks about: chart, current (since the latest bill) or bill (why
    it is high or low: the bill comparison, the default)."""
    lowered = text.lower()
    if any(word in lowered for word in _ASKS_CHART):
        return "chart"
    if any(word in lowered for word in _ASKS_TODAY):
        return "current"
    return "bill"


def answered_before(tracker: Tracker) -> bool:
    """Whether the usage answer was already given in this conversation (since the session
    started): the member is following up."""
    for event in reversed(tracker.events[:-1] if tracker.events else []):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "action" and event.get("name") == "action_usage":
            return True
    return False


def chart_link(
    secret_key: str, public_base_url: str, account_id: int, latest: date, now: datetime
) -> str:
    start, end = chart_range(latest)
    return chart_url(public_base_url, chart_token(secret_key, account_id, start, end, now=now))


def usage_buttons() -> list[dict[str, str]]:
    return buttons_or_choices(
        [
            intent_button("Bill history", "bill_history"),
            intent_button("Pay now", "pay_bill"),
            intent_button("Something else", "help"),
        ]
    )


CHART_TEXT = "Your daily use for the last 30 days: {url} (the link works for 15 minutes)."


class ActionUsage(AccountAction):
    """Usage figures and the high-bill explanation for the verified member's account."""

    action_name = "action_usage"

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        services = deps.members
        now = deps.now()
        today = local_date(now, deps.profile.timezone)
        year_before = date(today.year - 1, today.month, 1) - timedelta(days=31)
        days = await services.usage(account.id, year_before, today)
        bills = await services.bills(account.id, limit=13)

        # One source per period: the bills for the days they cover, the readings only for the
        # days since the latest bill (the calendar month mixes both, so it is used only when
        # there is no bill yet).
        current = current_period_message(days, bills, account.last4)
        explained = bill_message(bills)
        chart = None
        if days:
            url = chart_link(
                deps.settings.secret_key,
                deps.settings.public_base_url,
                account.id,
                days[-1].day,
                now,
            )
            # The link in the text, not an image attachment: an attachment reached the web chat
            # as a second, empty message.
            chart = CHART_TEXT.format(url=url)

        parts: list[str | None]
        if answered_before(tracker):
            part = follow_up_part(str((tracker.latest_message or {}).get("text") or ""))
            chosen = {"chart": chart, "current": current, "bill": explained}[part]
            parts = [chosen or explained or current or chart]
        elif explained is None:
            parts = [*month_messages(days, today, account.last4), chart]
        else:
            parts = [current, explained, chart]
        messages: list[dict[str, Any]] = [{"text": t} for t in parts if t]
        if not messages:
            messages = [{"text": month_messages(days, today, account.last4)[0]}]
        messages[-1]["buttons"] = usage_buttons()
        for message in messages:
            dispatcher.utter_message(**message)
        return []
