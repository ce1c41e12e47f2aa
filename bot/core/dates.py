"""Dates as members read them, and the local date of a moment in the co-op's time zone.

Dates are spelled unambiguously ("Jan 18, 2027", never 1/18); the time zone always comes from
the co-op profile, never from a constant.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo


def ordinal(n: int) -> str:
    """1 -> "1st", 3 -> "3rd", 11 -> "11th", 18 -> "18th", 22 -> "22nd"."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def short_date(day: date) -> str:
    """`Dec 12`: no leading zero, no year."""
    return f"{day:%b} {day.day}"


def spell_date(day: date, *, with_year: bool = True) -> str:
    """`date(2027, 1, 18)` -> "Jan 18, 2027" (or "Jan 18")."""
    return f"{short_date(day)}, {day.year}" if with_year else short_date(day)


def weekday_date(day: date) -> str:
    """ "Tue, Dec 8"."""
    return f"{day:%a}, {short_date(day)}"


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar date of an aware `moment` in `tz` (the profile's time zone)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use an aware datetime")
    return moment.astimezone(tz).date()
