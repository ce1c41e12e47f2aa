"""What a queued job is and what every queue engine offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

WallClock = Callable[[], datetime]


def wall_clock() -> datetime:
    """Leases and run-at times are transport time (like Rasa's signing window), not the
    business clock a test may freeze."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1  # this attempt's number (1 the first time it is run)
    key: str | None = None
    max_attempts: int = 10


def backoff_seconds(attempts: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """1, 2, 4, 8 ... seconds, capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


class JobQueue(Protocol):
    """At-least-once jobs. A claimed job is leased for `lease_seconds`; a worker that dies
    leaves it to be claimed again after its lease. Handlers are idempotent."""

    name: str  # "sql" | "redis"

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        run_at: datetime | None = None,
        max_attempts: int = 10,
    ) -> bool:
        """Queue a job; False (and nothing queued) when `key` was queued before."""
        ...

    async def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        """The next due job, leased to `worker`, or None."""
        ...

    async def extend(self, job: Job, worker: str, *, lease_seconds: float) -> None: ...

    async def complete(self, job: Job) -> None: ...

    async def retry(self, job: Job, *, delay: float, error: str, count: bool = True) -> None:
        """Run it again after `delay`; `failed` once `max_attempts` counted attempts are used.
        `count=False`: put it back without using an attempt (its conversation was busy)."""
        ...

    async def stats(self) -> dict[str, Any]:
        """Counts per status and the latest failures and periodic runs (`jecbot jobs`)."""
        ...

    async def close(self) -> None: ...
