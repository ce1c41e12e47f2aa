"""Outage status: what crews know about an outage, and how it is worded for a member.

Facts about an outage come only from the `outages` table (the co-op's outage management system or
its import); nothing here invents a cause or a time. A restoration time is always called an
estimate, and when there is none the member is told crews are assessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo


@dataclass(frozen=True)
class OutageInfo:
    id: int
    reference: str
    status: str  # active | restored
    cause: str | None
    customers_affected: int
    crew_status: str | None
    started_at: datetime
    estimated_restoration_at: datetime | None
    restored_at: datetime | None
    towns: tuple[str, ...]
    zips: tuple[str, ...]
    source: str

    @property
    def active(self) -> bool:
        return self.status == "active" and self.restored_at is None


@dataclass(frozen=True)
class ReportInfo:
    reference: str
    address: str
    town: str | None
    zip: str | None
    hazard: bool
    notify_on_restore: bool
    created_at: datetime


@dataclass(frozen=True)
class ReferenceLookup:
    kind: str  # outage | report
    outage: OutageInfo | None
    report: ReportInfo | None = None


def normalize_town(text: str | None) -> str:
    """ "  Wrens, GA " -> "wrens": case, spacing, punctuation and a trailing state don't matter."""
    words = re.sub(r"[^\w\s]", " ", (text or "").lower()).split()
    if len(words) > 1 and words[-1] in ("ga", "georgia"):
        words = words[:-1]
    return " ".join(words)


def normalize_zip5(text: str | None) -> str | None:
    m = re.fullmatch(r"\s*(\d{5})(?:-?\d{4})?\s*", text or "")
    return m.group(1) if m else None


def _clock(dt: datetime) -> str:
    return f"{dt:%I:%M %p}".lstrip("0")


def format_local_time(dt: datetime, now: datetime, tz: tzinfo) -> str:
    """ "11:30 PM" today, "tomorrow at 6:00 AM", or "Mon, Nov 30 at 6:00 AM"."""
    local, today = dt.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return _clock(local)
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {_clock(local)}"
    return f"{local:%a, %b} {local.day} at {_clock(local)}"


def _where(outage: OutageInfo) -> str:
    if outage.towns:
        return "near " + " and ".join(outage.towns[:2])
    if outage.zips:
        return "in ZIP " + " and ".join(outage.zips[:2])
    return "in your area"


def describe(outage: OutageInfo, now: datetime, tz: tzinfo) -> str:
    """One message about a known outage: what crews know and when power may be back (an
    estimate)."""
    where = _where(outage)
    if not outage.active:
        when = f" at {format_local_time(outage.restored_at, now, tz)}" if outage.restored_at else ""
        return f"Power was restored {where}{when}. If you're still out, please tell us."
    facts = []
    if outage.customers_affected:
        n = outage.customers_affected
        facts.append(f"about {n:,} homes" if n > 1 else "1 home")
    facts.append(f"cause: {outage.cause}" if outage.cause else "cause not known yet")
    text = f"Crews already know about an outage {where} ({', '.join(facts)})."
    crew = (outage.crew_status or "").strip()
    est = outage.estimated_restoration_at
    if est is None:
        text += " Crews are assessing it; there's no restoration estimate yet."
    else:
        if crew and crew.lower() != "assessing":
            text += f" Crews: {crew}."
        when = format_local_time(est, now, tz)
        if est > now:
            text += f" Estimated restoration: {when}, an estimate that may change."
        else:
            text += f" The last estimate, {when}, has passed; we don't have a new one yet."
    return text
