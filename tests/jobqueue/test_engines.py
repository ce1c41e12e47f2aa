"""Both queue engines for real (SQLite, the local Redis): what a worker copy can rely on.

Leases are checked with a short real lease (Redis measures a consumer's idle time itself) and the
test clock moved on (the SQL engine compares with its clock).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from jobqueue.conftest import Clock

LEASE = 0.3


async def test_a_unique_key_queues_a_job_once(engine: Any) -> None:
    assert await engine.enqueue("turn", {"n": 1}, key="sms:SM1")
    assert not await engine.enqueue("turn", {"n": 2}, key="sms:SM1")  # Twilio's retry
    job = await engine.claim("w1", lease_seconds=60)
    assert job is not None and job.payload == {"n": 1} and job.key == "sms:SM1"
    assert await engine.claim("w2", lease_seconds=60) is None
    await engine.complete(job)
    assert not await engine.enqueue("turn", {"n": 3}, key="sms:SM1")  # still unique when done


async def test_jobs_come_out_in_the_order_they_went_in(engine: Any) -> None:
    for n in range(5):
        await engine.enqueue("turn", {"n": n})
    seen = []
    while (job := await engine.claim("w1", lease_seconds=60)) is not None:
        seen.append(job.payload["n"])
        await engine.complete(job)
    assert seen == [0, 1, 2, 3, 4]


async def test_a_crashed_workers_job_is_taken_again_after_its_lease(
    engine: Any, clock: Clock
) -> None:
    await engine.enqueue("turn", {"n": 1})
    first = await engine.claim("crashed", lease_seconds=LEASE)
    assert first is not None and first.attempts == 1
    assert await engine.claim("w2", lease_seconds=LEASE) is None  # leased: nobody else has it
    await asyncio.sleep(LEASE + 0.2)
    clock.advance(LEASE + 0.2)
    again = await engine.claim("w2", lease_seconds=LEASE)
    assert again is not None and again.payload == {"n": 1} and again.attempts == 2
    await engine.complete(again)
    await asyncio.sleep(LEASE + 0.2)
    clock.advance(LEASE + 0.2)
    assert await engine.claim("w3", lease_seconds=LEASE) is None  # done is done


async def test_extending_a_lease_keeps_the_job(engine: Any, clock: Clock) -> None:
    await engine.enqueue("turn", {"n": 1})
    job = await engine.claim("w1", lease_seconds=LEASE)
    assert job is not None
    for _ in range(3):
        await asyncio.sleep(LEASE / 2)
        clock.advance(LEASE / 2)
        await engine.extend(job, "w1", lease_seconds=LEASE)
        assert await engine.claim("w2", lease_seconds=LEASE) is None


async def test_retries_wait_their_backoff_and_fail_after_max_attempts(
    engine: Any, clock: Clock
) -> None:
    await engine.enqueue("turn", {"n": 1}, max_attempts=2)
    job = await engine.claim("w1", lease_seconds=60)
    assert job is not None
    await engine.retry(job, delay=5, error="Rasa answered HTTP 500")
    assert await engine.claim("w1", lease_seconds=60) is None  # not before its backoff
    clock.advance(6)
    job = await engine.claim("w1", lease_seconds=60)
    assert job is not None and job.attempts == 2
    await engine.retry(job, delay=5, error="Rasa answered HTTP 500")
    clock.advance(60)
    assert await engine.claim("w1", lease_seconds=60) is None
    stats = await engine.stats()
    assert stats["counts"]["failed"] == 1
    assert stats["failed"][0]["error"] == "Rasa answered HTTP 500"


async def test_a_busy_put_back_does_not_use_an_attempt(engine: Any, clock: Clock) -> None:
    await engine.enqueue("turn", {"n": 1}, max_attempts=1)
    for _ in range(3):
        job = await engine.claim("w1", lease_seconds=60)
        assert job is not None and job.attempts == 1
        await engine.retry(job, delay=0.5, error="conversation busy", count=False)
        clock.advance(1)
    assert (await engine.stats())["counts"]["failed"] == 0


async def test_a_job_runs_at_its_time(engine: Any, clock: Clock) -> None:
    await engine.enqueue("periodic", {"name": "x"}, run_at=clock() + timedelta(seconds=30))
    assert await engine.claim("w1", lease_seconds=60) is None
    clock.advance(31)
    job = await engine.claim("w1", lease_seconds=60)
    assert job is not None and job.payload == {"name": "x"}


async def test_two_copies_claiming_at_once_never_share_a_job(engine: Any) -> None:
    for n in range(20):
        await engine.enqueue("turn", {"n": n})

    async def worker(name: str) -> list[int]:
        got = []
        while (job := await engine.claim(name, lease_seconds=60)) is not None:
            got.append(job.payload["n"])
            await engine.complete(job)
        return got

    a, b = await asyncio.gather(worker("a"), worker("b"))
    assert sorted(a + b) == list(range(20))
    assert not set(a) & set(b)
