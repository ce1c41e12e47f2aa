"""Outages: what crews know, reports from members, and the safety message that comes first.

Facts about an outage come only from the `outages` table (the co-op's outage management system or
its import); nothing here invents a cause or a time. A restoration time is always called an
estimate, and when there is none the member is told crews are assessing. Reports get a reference
("R-" plus 5 digits, unique) and are idempotent by key, so a retried or double-tapped report
creates one row.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.store.db import session_scope
from bot.store.models import Account, Outage, OutageReport

SMS_LIMIT = 320


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
class ReportResult:
    reference: str
    outage: OutageInfo | None  # a known outage the report was linked to
    created: bool  # False when the idempotency key had been used: this is the first report


@dataclass(frozen=True)
class ReferenceLookup:
    kind: str  # outage | report
    outage: OutageInfo | None
    report: ReportInfo | None = None


# ---------------------------------------------------------------- pure helpers


def normalize_town(text: str | None) -> str:
    """ "  Wrens, GA " -> "wrens": case, spacing, punctuation and a trailing state don't matter."""
    words = re.sub(r"[^\w\s]", " ", (text or "").lower()).split()
    if len(words) > 1 and words[-1] in ("ga", "georgia"):
        words = words[:-1]
    return " ".join(words)


def normalize_zip5(text: str | None) -> str | None:
    m = re.fullmatch(r"\s*(\d{5})(?:-?\d{4})?\s*", text or "")
    return m.group(1) if m else None


def detect_hazard(text: str, hazard_words: Iterable[str]) -> bool:
    """Whether a message mentions a hazard ("line down", "sparks", "someone hurt"...).

    Whole words only ("fire" is not "firewood"), plurals and apostrophes tolerated ("lines down",
    "line's down"). Errs towards yes: the safety message is cheap and a miss is not.
    """
    cleaned = " ".join(re.sub(r"[^\w\s]", "", (text or "").lower()).split())
    for phrase in hazard_words:
        words = [re.escape(w) for w in re.sub(r"[^\w\s]", "", phrase.lower()).split()]
        if not words:
            continue
        pattern = r"\b" + r"s?\s+".join(words) + r"s?\b"
        if re.search(pattern, cleaned):
            return True
    return False


def safety_message(profile_like: Any) -> list[str]:
    """The safety message, first thing after a hazard is mentioned; each part fits one SMS.

    `profile_like` needs `.phones.outage_24_7` and `.outages.safe_distance_feet` (a CoopProfile).
    """
    feet = profile_like.outages.safe_distance_feet
    phone = profile_like.phones.outage_24_7
    return [
        (
            f"Stay away from that line. Keep at least {feet} feet from it and anything touching it, "
            "and never touch it. If anyone is in danger, call 911. If a line is on your car, stay "
            "inside until help arrives."
        ),
        (
            f"Please also call our 24/7 line, {phone}, to report it. Hazards must be reported by "
            "phone too, not only here."
        ),
    ]


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
    """One message about a known outage: what crews know and when power may be back (an estimate)."""
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


def _info(o: Outage) -> OutageInfo:
    towns = tuple(dict.fromkeys(a.town for a in o.areas if a.town))
    zips = tuple(dict.fromkeys(a.zip for a in o.areas if a.zip))
    return OutageInfo(
        id=o.id,
        reference=o.reference,
        status=o.status,
        cause=o.cause,
        customers_affected=o.customers_affected or 0,
        crew_status=o.crew_status,
        started_at=o.started_at,
        estimated_restoration_at=o.estimated_restoration_at,
        restored_at=o.restored_at,
        towns=towns,
        zips=zips,
        source=o.source,
    )


def _report_info(r: OutageReport) -> ReportInfo:
    return ReportInfo(
        reference=r.reference,
        address=r.address,
        town=r.town,
        zip=r.zip,
        hazard=r.hazard,
        notify_on_restore=r.notify_on_restore,
        created_at=r.created_at,
    )


# ---------------------------------------------------------------- the service


class OutageService:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], report_prefix: str = "R-"
    ) -> None:
        self._factory = session_factory
        self._prefix = report_prefix

    async def _active(self, session: AsyncSession, now: datetime | None = None) -> list[Outage]:
        query = (
            select(Outage)
            .options(selectinload(Outage.areas))
            .where(Outage.status == "active", Outage.restored_at.is_(None))
        )
        if now is not None:
            query = query.where(Outage.started_at <= now)
        outages = (await session.scalars(query)).all()
        return sorted(outages, key=lambda o: (-(o.customers_affected or 0), o.id))

    @staticmethod
    def _matching(
        outages: Sequence[Outage],
        *,
        town: str | None = None,
        zip5: str | None = None,
        feeder: str | None = None,
    ) -> list[Outage]:
        town_key = normalize_town(town) if town else ""
        found = []
        for o in outages:
            for a in o.areas:
                if (
                    (zip5 and normalize_zip5(a.zip) == zip5)
                    or (town_key and normalize_town(a.town) == town_key)
                    or (feeder and a.feeder and a.feeder == feeder)
                ):
                    found.append(o)
                    break
        return found

    async def find_for_account(self, account_id: int, now: datetime) -> list[OutageInfo]:
        """Active outages covering the account's service address (its ZIP, town or feeder)."""
        async with self._factory() as session:
            account = await session.get(Account, account_id)
            if account is None:
                return []
            outages = await self._active(session, now)
            return [
                _info(o)
                for o in self._matching(
                    outages,
                    town=account.service_town,
                    zip5=normalize_zip5(account.service_zip),
                    feeder=account.feeder,
                )
            ]

    async def find_by_town(self, town: str) -> list[OutageInfo]:
        if not normalize_town(town):
            return []
        async with self._factory() as session:
            return [_info(o) for o in self._matching(await self._active(session), town=town)]

    async def find_by_zip(self, zip_code: str) -> list[OutageInfo]:
        zip5 = normalize_zip5(zip_code)
        if zip5 is None:
            return []
        async with self._factory() as session:
            return [_info(o) for o in self._matching(await self._active(session), zip5=zip5)]

    async def find_by_reference(self, ref: str) -> ReferenceLookup | None:
        """An outage by its reference, or a member's report ("R-20331", "r 20331", "20331")."""
        text = re.sub(r"\s+", "", (ref or "").upper())
        if not text:
            return None
        candidates = [text]
        digits = re.sub(r"\D", "", text)
        prefix = self._prefix.upper()
        if digits:
            candidates.append(prefix + digits)
        async with self._factory() as session:
            report = await session.scalar(
                select(OutageReport).where(OutageReport.reference.in_(candidates))
            )
            if report is not None:
                outage = None
                if report.outage_id is not None:
                    linked = await session.scalar(
                        select(Outage)
                        .options(selectinload(Outage.areas))
                        .where(Outage.id == report.outage_id)
                    )
                    outage = _info(linked) if linked else None
                if outage is None:
                    matches = self._matching(
                        await self._active(session),
                        town=report.town,
                        zip5=normalize_zip5(report.zip),
                    )
                    outage = _info(matches[0]) if matches else None
                return ReferenceLookup("report", outage, _report_info(report))
            outage_row = await session.scalar(
                select(Outage)
                .options(selectinload(Outage.areas))
                .where(Outage.reference.in_([text]))
            )
            if outage_row is not None:
                return ReferenceLookup("outage", _info(outage_row))
        return None

    async def report(
        self,
        *,
        account_id: int | None,
        address: str,
        town: str | None,
        zip: str | None,
        hazard: bool = False,
        hazard_description: str | None = None,
        notify_on_restore: bool = False,
        notify_phone: str | None = None,
        channel: str,
        conversation_id: str | None,
        idempotency_key: str | None,
        now: datetime,
    ) -> ReportResult:
        """Record an outage report, linked to a known outage there if any; safe to repeat."""
        if idempotency_key:
            existing = await self._by_key(idempotency_key)
            if existing is not None:
                return existing
        zip5 = normalize_zip5(zip)
        for _ in range(10):
            try:
                async with session_scope(self._factory) as session:
                    feeder = None
                    if account_id is not None:
                        account = await session.get(Account, account_id)
                        if account is not None:
                            town = town or account.service_town
                            zip5 = zip5 or normalize_zip5(account.service_zip)
                            feeder = account.feeder
                    matches = self._matching(
                        await self._active(session, now), town=town, zip5=zip5, feeder=feeder
                    )
                    outage = matches[0] if matches else None
                    reference = await self._free_reference(session)
                    session.add(
                        OutageReport(
                            reference=reference,
                            account_id=account_id,
                            outage_id=outage.id if outage else None,
                            address=address[:200],
                            town=town,
                            zip=zip5 or zip,
                            hazard=hazard,
                            hazard_description=(hazard_description or None)
                            and hazard_description[:200],
                            notify_on_restore=notify_on_restore,
                            notify_phone=notify_phone,
                            channel=channel,
                            conversation_id=conversation_id,
                            idempotency_key=idempotency_key or None,
                            created_at=now,
                        )
                    )
                    await session.flush()
                    info = _info(outage) if outage else None
                return ReportResult(reference=reference, outage=info, created=True)
            except IntegrityError:
                if idempotency_key:
                    existing = await self._by_key(idempotency_key)
                    if existing is not None:
                        return existing
                # otherwise two reports drew the same reference at once: draw again
        raise RuntimeError("could not allocate an outage report reference")

    async def _by_key(self, key: str) -> ReportResult | None:
        async with self._factory() as session:
            row = await session.scalar(
                select(OutageReport).where(OutageReport.idempotency_key == key)
            )
            if row is None:
                return None
            outage = None
            if row.outage_id is not None:
                linked = await session.scalar(
                    select(Outage)
                    .options(selectinload(Outage.areas))
                    .where(Outage.id == row.outage_id)
                )
                outage = _info(linked) if linked else None
            return ReportResult(reference=row.reference, outage=outage, created=False)

    async def _free_reference(self, session: AsyncSession) -> str:
        for _ in range(50):
            reference = f"{self._prefix}{10000 + secrets.randbelow(90000)}"
            if (
                await session.scalar(
                    select(OutageReport.id).where(OutageReport.reference == reference)
                )
                is None
            ):
                return reference
        raise RuntimeError("outage report references are nearly exhausted; widen the format")
