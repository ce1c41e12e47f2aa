"""The production queue engine: Redis Streams with one consumer group.

Keys under a prefix (`QUEUE_REDIS_PREFIX`, default `jec:queue`):
- `<p>:stream`  the ready jobs (entries carry the job id), consumer group `workers`;
- `<p>:job:<id>` a hash: kind, payload (JSON), attempts, max_attempts, key, status;
- `<p>:delayed` a sorted set of job ids by run-at time (future jobs, retries with backoff);
- `<p>:key:<key>` SET NX: the unique key (idempotency), kept for `key_ttl_seconds`;
- `<p>:failed`  the latest failed job ids; `<p>:periodic` the latest periodic runs.

A consumer's lease is the entry's idle time in the group's pending list: XAUTOCLAIM hands an
entry idle for longer than the lease to another consumer (its worker crashed), and `extend`
resets the idle time (XCLAIM to itself). Moving a due delayed job to the stream is a ZREM that
only one copy wins. Why Streams and not a library: docs/queue.md.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from bot.queue.base import Job, WallClock, wall_clock

GROUP = "workers"


class RedisJobQueue:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "jec:queue",
        clock: WallClock = wall_clock,
        key_ttl_seconds: int = 7 * 24 * 3600,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
        )
        self._p = prefix
        self._stream = f"{prefix}:stream"
        self._delayed = f"{prefix}:delayed"
        self._clock = clock
        self._key_ttl = key_ttl_seconds
        self._group_ready = False

    async def _group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        run_at: datetime | None = None,
        max_attempts: int = 10,
    ) -> bool:
        await self._group()
        job_id = uuid.uuid4().hex
        if key and not await self._redis.set(
            f"{self._p}:key:{key}", job_id, nx=True, ex=self._key_ttl
        ):
            return False
        fields = {
            "kind": kind,
            "payload": json.dumps(payload),
            "attempts": 0,
            "max_attempts": max_attempts,
            "key": key or "",
            "status": "queued",
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self._p}:job:{job_id}", mapping=fields)
            now = self._clock()
            if run_at is not None and run_at > now:
                pipe.zadd(self._delayed, {job_id: run_at.timestamp()})
            else:
                pipe.xadd(self._stream, {"job": job_id})
            await pipe.execute()
        return True

    async def _promote_due(self) -> None:
        now = self._clock().timestamp()
        for job_id in await self._redis.zrangebyscore(self._delayed, "-inf", now, start=0, num=20):
            if await self._redis.zrem(self._delayed, job_id) == 1:  # only one copy wins
                await self._redis.xadd(self._stream, {"job": job_id})

    async def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        await self._group()
        await self._promote_due()
        entry: tuple[str, dict[str, str]] | None = None
        _next, claimed, *_ = await self._redis.xautoclaim(
            self._stream, GROUP, worker, min_idle_time=int(lease_seconds * 1000), count=1
        )
        if claimed:
            entry = claimed[0]
        else:
            read = await self._redis.xreadgroup(GROUP, worker, {self._stream: ">"}, count=1)
            if read and read[0][1]:
                entry = read[0][1][0]
        if entry is None:
            return None
        entry_id, data = entry
        job_id = (data or {}).get("job", "")
        hkey = f"{self._p}:job:{job_id}"
        fields = await self._redis.hgetall(hkey)
        if not fields:  # deleted under us: drop the entry
            await self._ack(entry_id)
            return None
        attempts = int(await self._redis.hincrby(hkey, "attempts", 1))
        await self._redis.hset(hkey, "status", "running")
        return Job(
            f"{entry_id}|{job_id}",
            fields["kind"],
            json.loads(fields.get("payload") or "{}"),
            attempts,
            fields.get("key") or None,
            int(fields.get("max_attempts") or 10),
        )

    async def _ack(self, entry_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, GROUP, entry_id)
            pipe.xdel(self._stream, entry_id)
            await pipe.execute()

    async def extend(self, job: Job, worker: str, *, lease_seconds: float) -> None:
        entry_id, _ = job.id.split("|", 1)
        await self._redis.xclaim(self._stream, GROUP, worker, 0, [entry_id], justid=True)

    async def complete(self, job: Job) -> None:
        entry_id, job_id = job.id.split("|", 1)
        await self._ack(entry_id)
        hkey = f"{self._p}:job:{job_id}"
        await self._redis.hset(hkey, "status", "done")
        await self._redis.expire(hkey, 24 * 3600)
        if job.kind == "periodic":
            await self._redis.lpush(f"{self._p}:periodic", json.dumps({"key": job.key}))
            await self._redis.ltrim(f"{self._p}:periodic", 0, 49)

    async def retry(self, job: Job, *, delay: float, error: str, count: bool = True) -> None:
        entry_id, job_id = job.id.split("|", 1)
        hkey = f"{self._p}:job:{job_id}"
        attempts = job.attempts if count else job.attempts - 1
        failed = count and attempts >= job.max_attempts
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                hkey,
                mapping={
                    "attempts": attempts,
                    "status": "failed" if failed else "queued",
                    "error": error[:500],
                },
            )
            if failed:
                pipe.lpush(f"{self._p}:failed", job_id)
                pipe.ltrim(f"{self._p}:failed", 0, 99)
            else:
                pipe.zadd(self._delayed, {job_id: self._clock().timestamp() + delay})
            pipe.xack(self._stream, GROUP, entry_id)
            pipe.xdel(self._stream, entry_id)
            await pipe.execute()

    async def stats(self) -> dict[str, Any]:
        await self._group()
        pending = await self._redis.xpending(self._stream, GROUP)
        running = int(pending.get("pending", 0)) if isinstance(pending, dict) else 0
        ready = int(await self._redis.xlen(self._stream))
        delayed = int(await self._redis.zcard(self._delayed))
        failed_ids = await self._redis.lrange(f"{self._p}:failed", 0, 9)
        failed = []
        for job_id in failed_ids:
            fields = await self._redis.hgetall(f"{self._p}:job:{job_id}")
            failed.append(
                {
                    "id": job_id,
                    "kind": fields.get("kind"),
                    "key": fields.get("key"),
                    "error": fields.get("error"),
                }
            )
        periodic = [
            {"key": json.loads(raw).get("key"), "status": "done", "finished_at": None}
            for raw in await self._redis.lrange(f"{self._p}:periodic", 0, 9)
        ]
        return {
            "engine": self.name,
            "counts": {
                "queued": ready - running + delayed,
                "running": running,
                "done": None,
                "failed": int(await self._redis.llen(f"{self._p}:failed")),
            },
            "failed": failed,
            "periodic": periodic,
        }

    async def delete_everything(self) -> None:
        """Tests: remove every key under the prefix."""
        keys = [k async for k in self._redis.scan_iter(match=f"{self._p}:*")]
        if keys:
            await self._redis.delete(*keys)

    async def close(self) -> None:
        await self._redis.aclose()
