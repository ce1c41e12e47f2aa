"""The embedded queue engine: jobs in the SQL database (SQLite or PostgreSQL).

A claim is a compare-and-set: read a few due candidates (queued and due, or running with a lease
that ran out), then `UPDATE ... WHERE id = ? AND status = ? AND attempts = ?`; the copy whose update
touched one row has the job. No in-process lock is needed and two copies never hold one job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.queue.base import Job, WallClock, wall_clock
from bot.store.db import session_scope
from bot.store.models import QueueJob


def _job(row: QueueJob) -> Job:
    return Job(
        str(row.id), row.kind, dict(row.payload or {}), row.attempts, row.key, row.max_attempts
    )


class SqlJobQueue:
    name = "sql"

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], clock: WallClock = wall_clock
    ) -> None:
        self._factory = factory
        self._clock = clock

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        run_at: datetime | None = None,
        max_attempts: int = 10,
    ) -> bool:
        now = self._clock()
        try:
            async with session_scope(self._factory) as session:
                session.add(
                    QueueJob(
                        kind=kind,
                        key=key,
                        payload=payload,
                        status="queued",
                        attempts=0,
                        max_attempts=max_attempts,
                        run_at=run_at or now,
                        created_at=now,
                    )
                )
            return True
        except IntegrityError:
            return False

    async def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        now = self._clock()
        due = or_(
            and_(QueueJob.status == "queued", QueueJob.run_at <= now),
            and_(QueueJob.status == "running", QueueJob.lease_until < now),
        )
        async with session_scope(self._factory) as session:
            candidates = (
                await session.execute(
                    select(QueueJob.id, QueueJob.status, QueueJob.attempts)
                    .where(due)
                    .order_by(QueueJob.run_at, QueueJob.id)
                    .limit(8)
                )
            ).all()
        for job_id, status, attempts in candidates:
            async with session_scope(self._factory) as session:
                result = await session.execute(
                    update(QueueJob)
                    .where(
                        QueueJob.id == job_id,
                        QueueJob.status == status,
                        QueueJob.attempts == attempts,
                    )
                    .values(
                        status="running",
                        attempts=attempts + 1,
                        lease_until=now + timedelta(seconds=lease_seconds),
                        worker=worker[:80],
                    )
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker took it first
                row = await session.get(QueueJob, job_id)
                assert row is not None
                return _job(row)
        return None

    async def extend(self, job: Job, worker: str, *, lease_seconds: float) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                update(QueueJob)
                .where(QueueJob.id == int(job.id), QueueJob.status == "running")
                .values(lease_until=self._clock() + timedelta(seconds=lease_seconds))
            )

    async def complete(self, job: Job) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                update(QueueJob)
                .where(QueueJob.id == int(job.id))
                .values(status="done", lease_until=None, finished_at=self._clock())
            )

    async def retry(self, job: Job, *, delay: float, error: str, count: bool = True) -> None:
        now = self._clock()
        attempts = job.attempts if count else job.attempts - 1
        failed = count and attempts >= job.max_attempts
        async with session_scope(self._factory) as session:
            await session.execute(
                update(QueueJob)
                .where(QueueJob.id == int(job.id))
                .values(
                    status="failed" if failed else "queued",
                    attempts=attempts,
                    run_at=now + timedelta(seconds=delay),
                    lease_until=None,
                    last_error=error[:500],
                    finished_at=now if failed else None,
                )
            )

    async def stats(self) -> dict[str, Any]:
        async with session_scope(self._factory) as session:
            counts = dict(
                (
                    await session.execute(
                        select(QueueJob.status, func.count()).group_by(QueueJob.status)
                    )
                ).all()
            )
            failed = (
                await session.scalars(
                    select(QueueJob)
                    .where(QueueJob.status == "failed")
                    .order_by(QueueJob.id.desc())
                    .limit(10)
                )
            ).all()
            periodic = (
                await session.scalars(
                    select(QueueJob)
                    .where(QueueJob.kind == "periodic")
                    .order_by(QueueJob.id.desc())
                    .limit(10)
                )
            ).all()
        return {
            "engine": self.name,
            "counts": {s: int(counts.get(s, 0)) for s in ("queued", "running", "done", "failed")},
            "failed": [
                {"id": str(r.id), "kind": r.kind, "key": r.key, "error": r.last_error}
                for r in failed
            ],
            "periodic": [
                {"key": r.key, "status": r.status, "finished_at": r.finished_at} for r in periodic
            ],
        }

    async def close(self) -> None:
        return None
