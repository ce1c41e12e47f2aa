"""Power is back: a member who asked for a text gets exactly one when the outage is restored (by
import here; by the endpoint and the console in tests/gateway/agents/test_outage_updates.py),
two worker copies at once still send one, opted-out numbers get none, and members subscribed to
outage alerts for their area get "outage near you" and "restored". Also: report references that
never run out (R-2026-000123), with the older R-12345 still found."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.adapters.outbox import OutboxNotifier
from bot.config import Settings
from bot.gateway.conversations import SmsStore
from bot.profile import load_profile
from bot.services.outage import OutageService
from bot.store.db import session_scope
from bot.store.importer import import_files
from bot.store.models import (
    Contact,
    Member,
    NotificationPreference,
    Outage,
    OutageNotification,
    OutageReport,
    OutboxMessage,
    ReferenceCounter,
    SmsOptOut,
)
from bot.worker import outage_notices
from bot.worker.base import JobContext
from bot.worker.registry import periodic_tasks
from tests.store import rows

PROFILE = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "jec.yml")
STARTED = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # 2:00 PM in Wrens
RESTORED = datetime(2026, 12, 2, 21, 5, tzinfo=UTC)  # 4:05 PM in Wrens
DANA = "+17065550101"
RESTORED_TEXT = "Power is back on near Wrens as of 4:05 PM. If you're still out, reply OUT."


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def outage_file(tmp_path: Path, **fields: Any) -> Path:
    row = {"reference": "OMS-501", "started_at": STARTED.isoformat(), "towns": ["Wrens"]}
    row.update(fields)
    path = tmp_path / f"outages-{len(list(tmp_path.glob('outages-*')))}.json"
    path.write_text(json.dumps({"outages": [row]}))
    return path


async def import_outage(url: str, tmp_path: Path, **fields: Any) -> None:
    result = await asyncio.to_thread(import_files, url, [outage_file(tmp_path, **fields)])
    assert result.ok, result.errors


@pytest.fixture
def sqlite_url(db_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL (`session_factory` uses this URL)."""
    return db_url


@pytest.fixture
def clock() -> Clock:
    return Clock(STARTED + timedelta(minutes=30))


@pytest.fixture
def ctx(session_factory, clock: Clock, tmp_path: Path) -> JobContext:
    notifier = OutboxNotifier(
        session_factory, is_opted_out=SmsStore(session_factory, clock).is_opted_out
    )
    return JobContext(
        settings=Settings(var_dir=tmp_path),
        profile=PROFILE,
        sessions=session_factory,
        notifier=notifier,
        http=None,  # type: ignore[arg-type]  # the outage job makes no HTTP calls
        clock=clock,
    )


async def member_report(factory, phone: str = DANA, *, hazard: bool = False) -> str:
    """Dana (account in Wrens) reports an outage on the known outage and asks for a text."""
    async with session_scope(factory) as s:
        dana = await rows.member(s, f"M-{phone[-4:]}", "Dana", "Whitfield")
        account = rows.account(dana, f"100000{phone[-4:]}", ("412 Mill St", "Wrens", "30833"))
        s.add(account)
        await s.flush()
        account_id = account.id
    service = OutageService(factory, PROFILE.outages.report_prefix, PROFILE.timezone)
    result = await service.report(
        account_id=account_id,
        address="412 Mill St, Wrens",
        town="Wrens",
        zip="30833",
        hazard=hazard,
        notify_on_restore=True,
        notify_phone=phone,
        channel="sms",
        conversation_id=f"sms:{phone}",
        idempotency_key=None,
        now=STARTED + timedelta(minutes=20),
    )
    return result.reference


async def texts_to(factory, phone: str) -> list[str]:
    async with factory() as s:
        return list(
            (
                await s.scalars(
                    select(OutboxMessage.body)
                    .where(OutboxMessage.to == phone, OutboxMessage.channel == "sms")
                    .order_by(OutboxMessage.id)
                )
            ).all()
        )


def test_the_outage_job_is_registered_for_the_worker() -> None:
    assert [t.name for t in periodic_tasks()].count("outage_notices") == 1
    assert outage_notices.TASK.every_seconds <= 15  # a restore is texted within seconds


async def test_restored_by_import_texts_the_member_exactly_once(
    session_factory, sqlite_url, tmp_path, ctx, clock
) -> None:
    await import_outage(sqlite_url, tmp_path)
    reference = await member_report(session_factory)
    async with session_factory() as s:
        report = await s.scalar(select(OutageReport).where(OutageReport.reference == reference))
        assert report.outage_id is not None  # linked to OMS-501
    assert await outage_notices.run(ctx) == 0  # still out: nothing for Dana yet

    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    clock.now = RESTORED + timedelta(seconds=10)
    assert await outage_notices.run(ctx) == 1
    assert await outage_notices.run(ctx) == 0  # the next run, and a re-import, send nothing
    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    assert await outage_notices.run(ctx) == 0
    assert await texts_to(session_factory, DANA) == [RESTORED_TEXT]


async def test_two_worker_copies_at_once_still_send_one_text(
    session_factory, sqlite_url, tmp_path, ctx, clock
) -> None:
    await import_outage(sqlite_url, tmp_path)
    await member_report(session_factory)
    await member_report(session_factory, "+17065550102")
    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    clock.now = RESTORED + timedelta(seconds=5)
    sent = await asyncio.gather(outage_notices.run(ctx), outage_notices.run(ctx))
    assert sum(sent) == 2  # one text each for two members, not four
    assert await texts_to(session_factory, DANA) == [RESTORED_TEXT]
    assert await texts_to(session_factory, "+17065550102") == [RESTORED_TEXT]
    async with session_factory() as s:
        statuses = (await s.scalars(select(OutageNotification.status))).all()
    assert sorted(statuses) == ["outbox", "outbox"]


async def test_an_opted_out_number_gets_no_text(
    session_factory, sqlite_url, tmp_path, ctx, clock
) -> None:
    await import_outage(sqlite_url, tmp_path)
    await member_report(session_factory)
    async with session_scope(session_factory) as s:
        s.add(SmsOptOut(phone=DANA, opted_out=True, source="keyword:STOP"))
    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    clock.now = RESTORED + timedelta(seconds=5)
    assert await outage_notices.run(ctx) == 0
    assert await texts_to(session_factory, DANA) == []
    async with session_factory() as s:  # skipped up front: no claim row, no outbox row
        assert (await s.scalars(select(OutageNotification))).all() == []


async def test_a_member_who_did_not_ask_gets_nothing(
    session_factory, sqlite_url, tmp_path, ctx, clock
) -> None:
    await import_outage(sqlite_url, tmp_path)
    await member_report(session_factory)
    async with session_scope(session_factory) as s:
        await s.execute(update(OutageReport).values(notify_on_restore=False))
    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    clock.now = RESTORED + timedelta(seconds=5)
    assert await outage_notices.run(ctx) == 0


async def test_subscribers_get_outage_near_you_then_restored(
    session_factory, sqlite_url, tmp_path, ctx, clock
) -> None:
    async with session_scope(session_factory) as s:
        near = Member(member_number="M-9", first_name="Ray", last_name="Cobb")
        far = Member(member_number="M-10", first_name="Lee", last_name="Hart")
        s.add_all([near, far])
        await s.flush()
        a_near = rows.account(near, "2000000009", ("7 Main St", "Wrens", "30833"))
        a_far = rows.account(far, "2000000010", ("1 Elm St", "Blythe", "30805"))
        s.add_all([a_near, a_far])
        await s.flush()
        s.add_all(
            [
                Contact(member_id=near.id, kind="phone", value="+17065550109", is_primary=True),
                Contact(member_id=far.id, kind="phone", value="+17065550110", is_primary=True),
                NotificationPreference(account_id=a_near.id, topic="outage", channel="sms"),
                NotificationPreference(account_id=a_far.id, topic="outage", channel="sms"),
            ]
        )
    await import_outage(
        sqlite_url,
        tmp_path,
        estimated_restoration_at=(STARTED + timedelta(hours=3)).isoformat(),
    )
    assert await outage_notices.run(ctx) == 1
    assert await outage_notices.run(ctx) == 0
    await import_outage(sqlite_url, tmp_path, status="restored", restored_at=RESTORED.isoformat())
    clock.now = RESTORED + timedelta(seconds=5)
    assert await outage_notices.run(ctx) == 1
    assert await texts_to(session_factory, "+17065550109") == [
        "JEC: There's a power outage near Wrens. Estimated restoration: 5:00 PM (may change)."
        " We'll text you when it's back on.",
        RESTORED_TEXT,
    ]
    assert await texts_to(session_factory, "+17065550110") == []  # Blythe is not near Wrens


async def test_references_never_run_out_and_old_ones_are_still_found(session_factory) -> None:
    await member_report(session_factory)  # the first of the year: R-2026-000001
    async with session_scope(session_factory) as s:
        s.add(
            OutageReport(
                reference="R-12345", address="1 Old Rd, Wrens", town="Wrens", channel="web"
            )
        )
        await s.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.name == "outage_report:2026")
            .values(value=99_999)
        )
    past_99999 = await member_report(session_factory, "+17065550103")
    assert past_99999 == "R-2026-100000"
    async with session_scope(session_factory) as s:
        await s.execute(update(ReferenceCounter).values(value=999_999))
    assert await member_report(session_factory, "+17065550104") == "R-2026-1000000"

    service = OutageService(session_factory, PROFILE.outages.report_prefix, PROFILE.timezone)
    for typed in ("R-2026-100000", "r 2026 100000", "2026-100000", "R2026100000"):
        found = await service.find_by_reference(typed)
        assert found is not None and found.report.reference == "R-2026-100000", typed
    assert (await service.find_by_reference("R-2026-000001")).report.address == (
        "412 Mill St, Wrens"
    )
    assert (await service.find_by_reference("R-2026-1")).report.reference == "R-2026-000001"
    for typed in ("R-12345", "r 12345", "12345"):
        found = await service.find_by_reference(typed)
        assert found is not None and found.report.reference == "R-12345", typed


async def test_a_new_year_starts_a_new_sequence(session_factory) -> None:
    service = OutageService(session_factory, PROFILE.outages.report_prefix, PROFILE.timezone)

    async def report_at(now: datetime) -> str:
        result = await service.report(
            account_id=None,
            address="9 Pine St, Wrens",
            town="Wrens",
            zip="30833",
            channel="web",
            conversation_id=None,
            idempotency_key=None,
            now=now,
        )
        return result.reference

    # 11:30 PM on New Year's Eve in Wrens is already 2027 in UTC: the co-op's year counts
    assert await report_at(datetime(2027, 1, 1, 4, 30, tzinfo=UTC)) == "R-2026-000001"
    assert await report_at(datetime(2027, 1, 1, 5, 30, tzinfo=UTC)) == "R-2027-000001"
    assert await report_at(datetime(2027, 1, 1, 6, 0, tzinfo=UTC)) == "R-2027-000002"


async def test_outage_rows_unchanged_by_the_job(session_factory, sqlite_url, tmp_path, ctx):
    """The job only reads outages; it never marks anything restored itself."""
    await import_outage(sqlite_url, tmp_path)
    await outage_notices.run(ctx)
    async with session_factory() as s:
        outage = await s.scalar(select(Outage))
    assert outage.status == "active" and outage.restored_at is None


async def test_an_imported_restore_needs_its_time(sqlite_url, tmp_path) -> None:
    path = outage_file(tmp_path, status="restored")
    result = await asyncio.to_thread(import_files, sqlite_url, [path])
    assert not result.ok
    assert any("a restored outage needs restored_at" in str(e) for e in result.errors)
