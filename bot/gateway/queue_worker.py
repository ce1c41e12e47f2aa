"""The queue's workers: member turns one at a time per conversation, in order, and periodic jobs.

Runs inside the gateway (embedded default, `QUEUE_WORKERS_IN_GATEWAY=true`) or in `jecbot worker`
(production). `QUEUE_CONCURRENCY` worker loops per process, so at most that many turns go to Rasa
at once from this process. A turn job (one per member message, unique key `turn:<message key>`)
takes its conversation's lease (`bot.queue.ConversationLeases`, a database row, so two copies
never run two turns of one conversation at once) and drains the conversation's waiting messages
strictly in seq order; a busy conversation puts the job back without using an attempt.

When Rasa is slow or down the job is retried with backoff (1, 2, 4 ... 30 s) and the message stays
queued; only after `ASSISTANT_DOWN_APOLOGY_SECONDS` of failures is the member told, once, and the
answer later starts with "Sorry for the wait: ". A member whose message has waited longer than the
profile's `busy.courtesy_after_seconds` gets one courtesy message per busy period.

Each periodic task (`bot.worker.registry.periodic_tasks()`) is queued once per time slot with the
unique key `periodic:<name>:<slot>`, so each occurrence runs once across every copy. Every
`RECOVER_SECONDS` the worker also queues a turn job for each conversation with waiting messages,
once per oldest waiting turn and ten minutes: a message stored by a gateway that died before
queueing its job is still answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.queue import ConversationLeases, Job, JobQueue, backoff_seconds
from bot.worker.base import JobContext, PeriodicTask

if TYPE_CHECKING:
    from bot.gateway.state import Gateway

log = logging.getLogger(__name__)

TURN = "turn"
PERIODIC = "periodic"
TURN_MAX_ATTEMPTS = 100_000  # a member message is never given up on; backoff caps at 30 s
BUSY_RETRY_SECONDS = 0.2
IDLE_POLL_SECONDS = 0.2
TICK_SECONDS = 1.0
RECOVER_SECONDS = 30.0
RECOVER_REPEAT_SECONDS = 600.0  # a waiting turn is queued again by recovery at most this often


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class QueueWorkers:
    def __init__(
        self,
        gw: Gateway,
        queue: JobQueue,
        *,
        concurrency: int,
        lease_seconds: float,
        apology_after_seconds: float,
        periodic: list[PeriodicTask] | None = None,
        job_context: JobContext | None = None,
        run_workers: bool = True,
    ) -> None:
        self.gw = gw
        self.queue = queue
        self.leases = ConversationLeases(gw.sessions)
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.apology_after = apology_after_seconds
        self.periodic = {t.name: t for t in periodic or []}
        self.job_context = job_context
        self.run_workers = run_workers
        self.name = worker_name()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._down_since: float | None = None
        self._last_recover = 0.0

    # --- the gateway's side -------------------------------------------------------------------

    async def submit(self, conversation_id: str, key: str) -> None:
        """Queue the turn of a stored member message; if the queue is unreachable the message
        is still stored and the recovery pass queues it."""
        try:
            await self.queue.enqueue(
                TURN,
                {"conversation_id": conversation_id},
                key=f"turn:{key}",
                max_attempts=TURN_MAX_ATTEMPTS,
            )
        except Exception as exc:  # the stored message is found again by `_recover`
            log.warning("could not queue the turn %s (recovered later): %s", key, exc)
        self._wake.set()

    # --- running ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self.run_workers:
            return
        self._tasks = [
            asyncio.create_task(self._work(i), name=f"queue-worker-{i}")
            for i in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._tick(), name="queue-tick"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.queue.close()

    async def _work(self, index: int) -> None:
        holder = f"{self.name}:{index}"
        while True:
            try:
                job = await self.queue.claim(holder, lease_seconds=self.lease_seconds)
            except Exception as exc:
                log.warning("queue unreachable: %s", exc)
                await asyncio.sleep(1.0)
                continue
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
                continue
            try:
                await self.handle(job, holder)
            except asyncio.CancelledError:
                raise  # the lease runs out and another worker takes the job
            except Exception as exc:
                log.exception("job %s (%s) failed", job.id, job.kind)
                with contextlib.suppress(Exception):
                    await self.queue.retry(
                        job, delay=backoff_seconds(job.attempts), error=f"{type(exc).__name__}"
                    )

    async def handle(self, job: Job, holder: str) -> None:
        if job.kind == TURN:
            await self._drain(job, holder)
        elif job.kind == PERIODIC:
            await self._periodic(job)
        else:
            await self.queue.retry(job, delay=0, error=f"unknown job kind {job.kind!r}")

    async def _drain(self, job: Job, holder: str) -> None:
        from bot.gateway.turns import TurnFailed

        conversation_id = str(job.payload.get("conversation_id", ""))
        if not await self.leases.acquire(conversation_id, holder, self.lease_seconds):
            await self.queue.retry(job, delay=BUSY_RETRY_SECONDS, error="busy", count=False)
            return
        store, service = self.gw.store, self.gw.service
        try:
            await self._send_unsent(conversation_id)
            while True:
                pending = await store.pending_turns(conversation_id, limit=1)
                if not pending:
                    break
                apologize = self.apology_after <= 0 or (
                    self._down_since is not None
                    and time.monotonic() - self._down_since >= self.apology_after
                )
                try:
                    stored = await service.run_queued_turn(pending[0], apologize=apologize)
                except TurnFailed as exc:
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                    await self.queue.retry(
                        job, delay=backoff_seconds(job.attempts), error=str(exc)[:200]
                    )
                    return
                self._down_since = None
                if stored:
                    await self._send_unsent(conversation_id)
                await self.leases.renew(conversation_id, holder, self.lease_seconds)
                await self.queue.extend(job, holder, lease_seconds=self.lease_seconds)
            await self.queue.complete(job)
        finally:
            await self.leases.release(conversation_id, holder)

    async def _send_unsent(self, conversation_id: str) -> None:
        """Text the stored replies of answered SMS turns not yet texted (also after a crash)."""
        store = self.gw.store
        if await store.unsent_sms_turn(conversation_id) is None:
            return
        conv = await store.get(conversation_id)
        if conv is None:
            return
        waiting = [m for m in await store.undelivered(conversation_id) if m.sender == "bot"]
        if waiting:
            await self.gw.service.deliver_sms(conv, waiting)
        await store.mark_sms_turns_sent(conversation_id)

    async def _periodic(self, job: Job) -> None:
        task = self.periodic.get(str(job.payload.get("name")))
        if task is None or self.job_context is None:
            await self.queue.complete(job)
            return
        done = await task.run(self.job_context)
        log.info("periodic job %s did %d things", task.name, done)
        await self.queue.complete(job)

    # --- the clock: periodic slots, courtesy messages, recovery --------------------------------

    async def _tick(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("queue tick failed: %s", exc)
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        for task in self.periodic.values():
            slot = int(now.timestamp() // task.every_seconds)
            await self.queue.enqueue(
                PERIODIC, {"name": task.name}, key=f"periodic:{task.name}:{slot}", max_attempts=1
            )
        await self.courtesy(self.gw.clock())  # turns are stamped with the gateway's clock
        if time.monotonic() - self._last_recover >= RECOVER_SECONDS:
            self._last_recover = time.monotonic()
            await self.recover(now)

    async def courtesy(self, now: datetime) -> int:
        """One courtesy message to each member whose turn has waited too long (per busy period)."""
        after = self.gw.profile.busy.courtesy_after_seconds
        told = 0
        for conversation_id in await self.gw.store.claim_courtesy(now - timedelta(seconds=after)):
            conv = await self.gw.store.get(conversation_id)
            if conv is None or conv.mode != "bot":
                continue
            await self.gw.service.post_outbound(
                conv, "system", self.gw.texts.courtesy_wait, {"courtesy": True}
            )
            told += 1
        return told

    async def recover(self, now: datetime) -> int:
        """Queue a turn job for each conversation with waiting messages, once per oldest waiting
        turn and RECOVER_REPEAT_SECONDS: a turn's job is never given up on (TURN_MAX_ATTEMPTS),
        so a storm's backlog must not get another job per member every pass (each costs a
        claim, a lease and a completion while members wait); the repeat covers a job lost with
        a Redis that kept its unique keys."""
        epoch = int(now.timestamp() // RECOVER_REPEAT_SECONDS)
        queued = 0
        for conversation_id, oldest_turn in await self.gw.store.conversations_with_pending():
            queued += bool(
                await self.queue.enqueue(
                    TURN,
                    {"conversation_id": conversation_id},
                    key=f"recover:{conversation_id}:{oldest_turn}:{epoch}",
                    max_attempts=TURN_MAX_ATTEMPTS,
                )
            )
        if queued:
            self._wake.set()
        return queued

    async def stats(self) -> dict[str, Any]:
        return await self.queue.stats()
