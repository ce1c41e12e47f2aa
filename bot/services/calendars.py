"""Calendars: bank business days for draft dates, quiet hours, and the profile's holiday runway.

Two calendars, never mixed up:
- The **bank calendar** decides when a draft settles: Monday to Friday except the Federal
  Reserve's holidays (the `holidays` package's `FederalReserve` financial calendar: a holiday on
  a Saturday is not moved to the Friday, one on a Sunday is observed on the Monday). A draft date
  that is not a business day moves as the profile says (`drafts.bank_holiday_rule`: the next
  business day, the NACHA default, or the previous one).
- The **co-op's own holidays** (office and agent closures) stay in the profile (`holidays:`);
  this module only checks that the list runs far enough ahead (`holiday_runout_warning`), which
  `jecbot doctor`, the action server and the worker report at start-up.

All dates are local calendar dates in the profile's time zone; `local_now` turns the injected
clock's UTC moment into local time (DST from the time zone database, never a fixed offset).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from bot.profile import CoopProfile


@lru_cache(maxsize=64)
def _federal_reserve(year: int) -> dict[date, str]:
    """The Federal Reserve's holidays of one year (computed once per year per process)."""
    return dict(holidays.FederalReserve(years=[year]).items())


def bank_holiday_name(day: date) -> str | None:
    """The Federal Reserve holiday on `day`, if any ("Juneteenth National Independence Day")."""
    return _federal_reserve(day.year).get(day)


def is_bank_business_day(day: date) -> bool:
    """Monday to Friday, and not a Federal Reserve holiday."""
    return day.weekday() < 5 and day not in _federal_reserve(day.year)


def next_bank_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first business day after it."""
    while not is_bank_business_day(day):
        day += timedelta(days=1)
    return day


def previous_bank_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the last business day before it."""
    while not is_bank_business_day(day):
        day -= timedelta(days=1)
    return day


def bank_draft_date(scheduled: date, profile: CoopProfile) -> date:
    """The day a draft scheduled for `scheduled` (its draft day of the month) settles."""
    if profile.drafts.bank_holiday_rule == "previous_business_day":
        return previous_bank_business_day(scheduled)
    return next_bank_business_day(scheduled)


def local_now(moment: datetime, profile: CoopProfile) -> datetime:
    """An aware moment (the injected clock's) in the co-op's time zone."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use an aware datetime")
    return moment.astimezone(profile.timezone)


def in_quiet_hours(moment: datetime, profile: CoopProfile) -> bool:
    """Whether `moment` falls in the profile's quiet hours for texts (local time; the window may
    wrap over midnight, e.g. 21:00 to 08:00). Start is inside the window, end is not."""
    start, end = profile.notices.quiet_start, profile.notices.quiet_end
    now = local_now(moment, profile).time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_hours_end(moment: datetime, profile: CoopProfile) -> datetime:
    """When a text held at `moment` may go: `moment` itself outside quiet hours, else the end of
    the quiet hours (local wall-clock time, so 08:00 stays 08:00 across a DST change)."""
    if not in_quiet_hours(moment, profile):
        return moment
    local = local_now(moment, profile)
    end: time = profile.notices.quiet_end
    day = local.date() if local.time().replace(tzinfo=None) < end else local.date() + timedelta(1)
    return datetime.combine(day, end, tzinfo=profile.timezone)


def last_listed_holiday(profile: CoopProfile) -> date | None:
    return max((h.date for h in profile.holidays), default=None)


def holiday_runout_warning(profile: CoopProfile, today: date) -> str | None:
    """A sentence for IT staff when the profile's own holiday list ends less than
    `notices.holiday_warning_days` (60) days after `today`; None while it reaches far enough."""
    last = last_listed_holiday(profile)
    days = profile.notices.holiday_warning_days
    if last is not None and last >= today + timedelta(days=days):
        return None
    if last is None:
        return (
            f"{profile.source}: no co-op holidays are listed; add them to `holidays:` "
            "(office hours and callbacks need them)"
        )
    left = (last - today).days
    when = "already ended" if left < 0 else f"end in {left} days"
    return (
        f"{profile.source}: the co-op holidays listed {when} (last {last.isoformat()}); "
        f"add next year's to `holidays:` before fewer than {days} days are left"
    )
