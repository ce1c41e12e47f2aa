"""When the offices and the member-service agents are open, and how to say so to a member.

Everything comes from the co-op profile (weekly hours, holidays, lunch closures per office, time
zone), so a co-op changes its hours in YAML. All arithmetic is done on local dates and wall-clock
times in the profile's zone and only then turned into aware datetimes, which keeps it right across
the daylight-saving changes (the offices open at 8 AM local on both sides of them).

`now` is always passed in (tests inject it) and must be timezone-aware; a naive datetime is a bug
upstream, so it raises `ValueError` rather than being guessed at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Literal

from bot.profile import WEEKDAYS, CoopProfile, Hours, Office, WeekHours

Schedule = Literal["office", "agents"]
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SEARCH_DAYS = 60  # a longer closure than this would be a profile mistake


def format_clock(t: time) -> str:
    """`time(8)` -> "8 AM", `time(13, 30)` -> "1:30 PM", noon -> "12 PM"."""
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour}:{t.minute:02d} {suffix}" if t.minute else f"{hour} {suffix}"


def format_clock_range(start: time, end: time) -> str:
    """`1-2 PM`, `11 AM-1 PM`, `8 AM-5 PM`: AM/PM said once when both ends share it."""
    if (start.hour < 12) == (end.hour < 12):
        return f"{format_clock(start).rsplit(' ', 1)[0]}-{format_clock(end)}"
    return f"{format_clock(start)}-{format_clock(end)}"


def _join_names(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class OfficeHours:
    """Opening-hours rules built from the profile. Cheap to build; holds only the profile."""

    def __init__(self, profile: CoopProfile) -> None:
        self.profile = profile
        self.tz = profile.timezone

    # -- primitives --------------------------------------------------------------------------------
    def _local(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("OfficeHours needs a timezone-aware datetime, got a naive one")
        return now.astimezone(self.tz)

    def _week(self, schedule: Schedule) -> WeekHours:
        if schedule == "office":
            return self.profile.office_hours
        if schedule == "agents":
            return self.profile.agent_hours
        raise ValueError(f"schedule must be 'office' or 'agents', not {schedule!r}")

    def _office(self, office_id: str | None) -> Office | None:
        return None if office_id is None else self.profile.office(office_id)

    def hours_on(self, day: date, *, schedule: Schedule = "office") -> Hours | None:
        """Opening hours on a local date, or None when closed (weekend or holiday)."""
        if self.profile.holiday_on(day) is not None:
            return None
        return self._week(schedule).get(day.weekday())

    def _periods(
        self, day: date, office: Office | None, schedule: Schedule
    ) -> list[tuple[time, time]]:
        """The open periods of a day, lunch closure cut out for a specific office."""
        hours = self.hours_on(day, schedule=schedule)
        if hours is None:
            return []
        lunch = office.lunch_closure if (office is not None and schedule == "office") else None
        if lunch is None or lunch.end <= hours.open or lunch.start >= hours.close:
            return [(hours.open, hours.close)]
        periods = []
        if lunch.start > hours.open:
            periods.append((hours.open, lunch.start))
        if lunch.end < hours.close:
            periods.append((lunch.end, hours.close))
        return periods

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def _open_periods_from(
        self, local: datetime, office: Office | None, schedule: Schedule
    ) -> Iterator[tuple[datetime, datetime]]:
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, end in self._periods(day, office, schedule):
                if self._at(day, end) > local:
                    yield self._at(day, start), self._at(day, end)

    # -- questions ---------------------------------------------------------------------------------
    def is_open(
        self, now: datetime, *, office_id: str | None = None, schedule: Schedule = "office"
    ) -> bool:
        """Open at `now`? Opening time counts as open, closing time as closed
        (8:00 open, 17:00 closed).

        Without `office_id` the question is "are the offices open", so a lunch closure at some
        offices does not close them all; with it, that office's lunch closure applies.
        """
        local = self._local(now)
        office = self._office(office_id)
        t = local.time().replace(tzinfo=None)
        return any(start <= t < end for start, end in self._periods(local.date(), office, schedule))

    def next_opening(
        self, now: datetime, *, office_id: str | None = None, schedule: Schedule = "office"
    ) -> datetime:
        """The next moment (aware, local zone) the offices are open: `now` itself when open now."""
        local = self._local(now)
        for start, _end in self._open_periods_from(local, self._office(office_id), schedule):
            return max(start, local)
        raise ValueError(
            f"no opening within {_SEARCH_DAYS} days; check office_hours and holidays in the profile"
        )

    def closes_at(
        self, now: datetime, *, office_id: str | None = None, schedule: Schedule = "office"
    ) -> datetime | None:
        """When the current open period ends (lunch or end of day), or None when closed now."""
        local = self._local(now)
        office = self._office(office_id)
        t = local.time().replace(tzinfo=None)
        for start, end in self._periods(local.date(), office, schedule):
            if start <= t < end:
                return self._at(local.date(), end)
        return None

    # -- member-facing sentences (GSM-7, short, one idea) -----------------------------------------
    def _when(self, moment: datetime, local_now: datetime) -> str:
        """ "today at 8 AM", "tomorrow at 8 AM", "Monday at 8 AM", "Monday, Dec 7 at 8 AM"."""
        days = (moment.date() - local_now.date()).days
        clock = format_clock(moment.time())
        if days == 0:
            return f"today at {clock}"
        if days == 1:
            return f"tomorrow at {clock}"
        name = _DAY_NAMES[moment.weekday()]
        if days < 7:
            return f"{name} at {clock}"
        return f"{name}, {moment:%b} {moment.day} at {clock}"

    def _lunch_note(self, local: datetime) -> str:
        """The lunch note, "(the Louisville and Thomson offices close 1-2 PM for lunch)", while
        lunch is still ahead or on."""
        groups: dict[tuple[time, time], list[str]] = {}
        t = local.time().replace(tzinfo=None)
        for office in self.profile.offices:
            lunch = office.lunch_closure
            if lunch is not None and t < lunch.end:
                groups.setdefault((lunch.start, lunch.end), []).append(office.town)
        notes = []
        for (start, end), towns in groups.items():
            noun = "office closes" if len(towns) == 1 else "offices close"
            notes.append(
                f"the {_join_names(towns)} {noun} {format_clock_range(start, end)} for lunch"
            )
        return f" ({'; '.join(notes)})" if notes else ""

    def describe_today(self, now: datetime, office_id: str | None = None) -> str:
        """One or two short sentences about today, e.g. "Our offices are open until 5 PM today."."""
        local = self._local(now)
        office = self._office(office_id)
        today = local.date()
        hours = self.hours_on(today)
        subject = "Our office" if office is None else f"The {office.town} office"
        reopens = "We open" if office is None else "It opens"

        if hours is not None and office is not None and office.lunch_closure is not None:
            lunch = office.lunch_closure
            t = local.time().replace(tzinfo=None)
            if lunch.start <= t < lunch.end and hours.open <= t < hours.close:
                return (
                    f"The {office.town} office is closed for lunch until "
                    f"{format_clock(lunch.end)}. "
                    f"It is open until {format_clock(hours.close)} today."
                )

        if hours is not None and self.is_open(now, office_id=office_id):
            if office is None:
                close = format_clock(hours.close)
                return f"Our offices are open until {close} today{self._lunch_note(local)}."
            lunch = office.lunch_closure
            t = local.time().replace(tzinfo=None)
            extra = ""
            if lunch is not None and t < lunch.start:
                extra = f", closed {format_clock_range(lunch.start, lunch.end)} for lunch"
            return (
                f"The {office.town} office is open until {format_clock(hours.close)} today{extra}."
            )

        if hours is not None and local.time().replace(tzinfo=None) < hours.open:
            if office is None:
                return (
                    f"Our offices open at {format_clock(hours.open)} today and close at "
                    f"{format_clock(hours.close)}{self._lunch_note(local)}."
                )
            return (
                f"The {office.town} office opens at {format_clock(hours.open)} today and closes at "
                f"{format_clock(hours.close)}."
            )

        opening = self.next_opening(now, office_id=office_id)
        holiday = self.profile.holiday_on(today)
        closed = (
            f"{subject} is closed today for {holiday.name}."
            if holiday
            else f"{subject} is closed now."
        )
        return f"{closed} {reopens} {self._when(opening, local)}."

    def describe_week(self, *, schedule: Schedule = "office") -> str:
        """The usual week: "Our offices are open Mon-Fri 8 AM-5 PM, closed on co-op holidays..."."""
        week = self._week(schedule)
        runs: list[tuple[int, int, Hours]] = []
        for day in range(7):
            hours = week.get(day)
            if hours is None:
                continue
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == hours:
                runs[-1] = (runs[-1][0], day, hours)
            else:
                runs.append((day, day, hours))
        parts = []
        for first, last, hours in runs:
            days = (
                WEEKDAYS[first].title()
                if first == last
                else f"{WEEKDAYS[first].title()}-{WEEKDAYS[last].title()}"
            )
            parts.append(f"{days} {format_clock_range(hours.open, hours.close)}")
        who = "Our offices are" if schedule == "office" else "Member-service agents are"
        text = f"{who} open {', '.join(parts)}, closed on co-op holidays."
        if schedule == "office":
            groups: dict[tuple[time, time], list[str]] = {}
            for office in self.profile.offices:
                if office.lunch_closure is not None:
                    key = (office.lunch_closure.start, office.lunch_closure.end)
                    groups.setdefault(key, []).append(office.town)
            for (start, end), towns in groups.items():
                noun = "office closes" if len(towns) == 1 else "offices close"
                text += (
                    f" The {_join_names(towns)} {noun} {format_clock_range(start, end)} for lunch."
                )
        return text
