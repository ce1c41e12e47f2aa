"""The durable job queue: one `JobQueue` protocol, two engines.

- `SqlJobQueue` (embedded default): jobs in the SQL database (SQLite for `make run`, PostgreSQL
  too), leases, retries with backoff, unique keys, run-at times; durable across restarts.
- `RedisJobQueue` (production, `QUEUE_BACKEND=redis`): Redis Streams with one consumer group,
  XAUTOCLAIM for leases, a sorted set for run-at times and retries, SET NX keys for uniqueness.

Per-conversation ordering never relies on the engine or an in-process lock: a turn job drains its
conversation's waiting messages in seq order under a `ConversationLeases` row in the database.
See docs/queue.md.
"""

from __future__ import annotations

from bot.queue.base import Job, JobQueue, backoff_seconds
from bot.queue.factory import build_queue
from bot.queue.leases import ConversationLeases
from bot.queue.sql import SqlJobQueue

__all__ = [
    "ConversationLeases",
    "Job",
    "JobQueue",
    "SqlJobQueue",
    "backoff_seconds",
    "build_queue",
]
