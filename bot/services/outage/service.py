"""The outage service: known outages by place, account or reference, and recording a report.

Reads and writes go through the store only. Reports get a reference that never runs out: the
prefix, the year (co-op time) and a yearly sequence of at least six digits ("R-2026-000123",
"R-2026-1000000" after that), drawn from the `reference_counters` row of that year. Older
references ("R-" and five digits) are still found. Reports are idempotent by key, so a retried or
double-tapped report creates one row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.services import events
from bot.services.outage.report import ReportResult
from bot.services.outage.status import (
    OutageInfo,
    ReferenceLookup,
    ReportInfo,
    normalize_town,
    normalize_zip5,
)
from bot.store.db import session_scope
from bot.store.models import Account, Outage, OutageReport, ReferenceCounter

SEQUENCE_DIGITS = 6  # zero-padded to six; the sequence simply grows past 999,999


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


async def _linked_outage(session: AsyncSession, outage_id: int | None) -> OutageInfo | None:
    """The outage a report was linked to when it was made, as it stands now (None if unlinked)."""
    if outage_id is None:
        return None
    linked = await session.scalar(
        select(Outage).options(selectinload(Outage.areas)).where(Outage.id == outage_id)
    )
    return _info(linked) if linked else None


class OutageService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        report_prefix: str = "R-",
        tz: tzinfo = UTC,
    ) -> None:
        self._factory = session_factory
        self._prefix = report_prefix
        self._tz = tz  # the co-op's time zone: the year of a reference is the local year

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
        candidates = reference_candidates(ref, self._prefix)
        async with self._factory() as session:
            report = await session.scalar(
                select(OutageReport).where(OutageReport.reference.in_(candidates))
            )
            if report is not None:
                outage = await _linked_outage(session, report.outage_id)
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
                    reference = await self._free_reference(session, now)
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
                    await events.publish(
                        session,
                        "outage_report.created",
                        occurred_at=now,
                        data={
                            "reference": reference,
                            "address": address[:200],
                            "town": town,
                            "zip": zip5 or zip,
                            "hazard": hazard,
                            "hazard_description": hazard_description,
                            "callback_number": notify_phone,
                            "notify_on_restore": notify_on_restore,
                            "outage_reference": outage.reference if outage else None,
                        },
                        account_id=account_id,
                        channel=channel,
                        conversation_id=conversation_id,
                    )
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
            outage = await _linked_outage(session, row.outage_id)
            return ReportResult(reference=row.reference, outage=outage, created=False)

    async def _free_reference(self, session: AsyncSession, now: datetime) -> str:
        year = now.astimezone(self._tz).year
        number = await next_in_sequence(session, f"outage_report:{year}")
        return format_reference(self._prefix, year, number)


def format_reference(prefix: str, year: int, number: int) -> str:
    """ "R-2026-000123": the prefix, the year and the sequence (six digits or more)."""
    return f"{prefix}{year}-{number:0{SEQUENCE_DIGITS}d}"


def reference_candidates(ref: str | None, prefix: str = "R-") -> list[str]:
    """The stored references a member's typing may mean: "R-2026-000123", "r 2026 123",
    "2026-000123", "R2026000123", and the older "R-20331" / "20331"."""
    text = re.sub(r"\s+", "", (ref or "").upper())
    if not text:
        return []
    candidates = [text]
    prefix = prefix.upper()
    groups = re.findall(r"\d+", text)
    digits = "".join(groups)
    if digits:
        candidates.append(prefix + digits)  # the older five-digit form
    if len(groups) >= 2 and re.fullmatch(r"20\d\d", groups[0]):
        year, number = groups[0], "".join(groups[1:])
        candidates.append(format_reference(prefix, int(year), int(number)))
    elif len(groups) == 1 and len(digits) >= 4 + SEQUENCE_DIGITS and digits.startswith("20"):
        candidates.append(format_reference(prefix, int(digits[:4]), int(digits[4:])))
    return list(dict.fromkeys(candidates))


async def next_in_sequence(session: AsyncSession, name: str) -> int:
    """The next number of the named counter, in the caller's transaction (row-locked by the
    UPDATE; two first draws of a new year race on the insert and one gets IntegrityError)."""
    result = await session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.name == name)
        .values(value=ReferenceCounter.value + 1)
        .returning(ReferenceCounter.value)
    )
    value = result.scalar_one_or_none()
    if value is not None:
        return int(value)
    session.add(ReferenceCounter(name=name, value=1))
    await session.flush()
    return 1
