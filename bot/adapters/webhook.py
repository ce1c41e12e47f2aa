"""The co-op's webhook: every integration event POSTed once, signed, retried with backoff.

How it works (docs/integration.md tells the receiving side):

1. `enqueue_new` gives each event not yet queued a delivery row for the target `webhook`. The row
   is unique per (event, target), so two workers never queue an event twice.
2. `claim` takes each due row, just before its POST, with a conditional UPDATE (a lease that
   outlives one try): of two workers looking at the same row at the same moment, exactly one
   gets it.
3. `deliver_claimed` POSTs the event (JSON, HMAC-SHA256 signed, `X-JEC-Event-Id`), with the
   process's HTTP timeout. A 2xx answer marks the row delivered and it is never sent again. Any
   other answer, a timeout or a refused connection schedules the next try (`BACKOFF_SECONDS`, then
   hourly) until the event is `max_age` old; then the row is `expired` and listed by
   `jecbot events status`. `jecbot events replay --since ...` queues events again.

A crash after the receiver answered 2xx but before the row was marked would send that event again
once its lease ends: receivers deduplicate on the event id (the same id every time).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.webhook_signature import EVENT_ID_HEADER, signed_headers
from bot.store.models import IntegrationDelivery, IntegrationEvent

TARGET = "webhook"
BACKOFF_SECONDS: tuple[int, ...] = (30, 120, 600, 1800)  # then every RETRY_CEILING_SECONDS
RETRY_CEILING_SECONDS = 3600
LEASE_SECONDS = 120
BATCH = 200
USER_AGENT = "jec-assistant-webhook/1"


def next_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed try (1-based)."""
    if attempts <= len(BACKOFF_SECONDS):
        return BACKOFF_SECONDS[attempts - 1]
    return RETRY_CEILING_SECONDS


def event_document(event: IntegrationEvent) -> dict[str, Any]:
    """The JSON an event is delivered and exported as (docs/integration.md, "Event fields")."""
    return {
        "id": event.event_id,
        "type": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "sequence": event.id,
        "account_number": event.account_number,
        "member_number": event.member_number,
        "channel": event.channel,
        "conversation_id": event.conversation_id,
        "data": event.data,
    }


def event_body(event: IntegrationEvent) -> bytes:
    """The exact bytes POSTed (and signed): the same for every try of the same event."""
    return json.dumps(event_document(event), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    timeout_seconds: float
    max_age: timedelta


async def enqueue_new(
    sessions: async_sessionmaker[AsyncSession], target: str, now: datetime, max_age: timedelta
) -> int:
    """Queue (once) every event of the last `max_age` that has no delivery row for `target`."""
    missing = (
        select(
            IntegrationEvent.id,
            IntegrationEvent.occurred_at,
        )
        .where(
            IntegrationEvent.occurred_at >= now - max_age,
            ~exists().where(
                IntegrationDelivery.event_pk == IntegrationEvent.id,
                IntegrationDelivery.target == target,
            ),
        )
        .order_by(IntegrationEvent.id)
        .limit(500)
    )
    async with sessions() as session:
        ids = [row[0] for row in await session.execute(missing)]
    queued = 0
    for event_pk in ids:  # one row per statement: a duplicate from another worker is skipped
        try:
            async with sessions() as session:
                await session.execute(
                    insert(IntegrationDelivery).values(
                        event_pk=event_pk,
                        target=target,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                await session.commit()
                queued += 1
        except IntegrityError:
            continue
    return queued


def _free(now: datetime) -> Any:
    return or_(IntegrationDelivery.lease_until.is_(None), IntegrationDelivery.lease_until < now)


async def due(
    sessions: async_sessionmaker[AsyncSession], target: str, now: datetime, limit: int = BATCH
) -> list[tuple[int, int]]:
    """(delivery id, attempts so far) of the due deliveries, oldest event first."""
    async with sessions() as session:
        rows = await session.execute(
            select(IntegrationDelivery.id, IntegrationDelivery.attempts)
            .where(
                IntegrationDelivery.target == target,
                IntegrationDelivery.status == "pending",
                IntegrationDelivery.next_attempt_at <= now,
                _free(now),
            )
            .order_by(IntegrationDelivery.event_pk)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows]


async def claim(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, attempts: int, now: datetime
) -> bool:
    """Take the lease on one delivery (and count the attempt); False if another worker has it
    or already delivered it. Claimed just before its one POST, so the lease outlives the try."""
    async with sessions() as session:
        result = await session.execute(
            update(IntegrationDelivery)
            .where(
                and_(
                    IntegrationDelivery.id == delivery_id,
                    IntegrationDelivery.status == "pending",
                    IntegrationDelivery.attempts == attempts,
                    _free(now),
                )
            )
            .values(lease_until=now + timedelta(seconds=LEASE_SECONDS), attempts=attempts + 1)
        )
        await session.commit()
        return result.rowcount == 1  # type: ignore[attr-defined]


async def _post(
    http: aiohttp.ClientSession,
    config: WebhookConfig,
    event: IntegrationEvent,
    attempt: int,
    now: datetime,
) -> tuple[int | None, str | None]:
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.event_id,
        "X-JEC-Delivery-Attempt": str(attempt),
        **signed_headers(config.secret, int(now.timestamp()), body),
    }
    try:
        async with http.post(
            config.url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
            allow_redirects=False,
        ) as response:
            await response.read()
            if 200 <= response.status < 300:
                return response.status, None
            return response.status, f"HTTP {response.status}"
    except TimeoutError:
        return None, "timed out"
    except aiohttp.ClientError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:200]


async def deliver_claimed(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    config: WebhookConfig,
    delivery_ids: Sequence[int],
    clock: Callable[[], datetime],
) -> int:
    """POST each claimed event; mark it delivered, or schedule its next try. Returns delivered."""
    delivered = 0
    for delivery_id in delivery_ids:
        async with sessions() as session:
            row = await session.get(IntegrationDelivery, delivery_id)
            event = await session.get(IntegrationEvent, row.event_pk) if row else None
        if row is None or event is None:
            continue
        now = clock()
        status, error = await _post(http, config, event, row.attempts, now)
        done_at = clock()
        values: dict[str, Any] = {"lease_until": None, "response_status": status}
        if error is None:
            values |= {"status": "delivered", "delivered_at": done_at, "last_error": None}
            delivered += 1
        else:
            expired = done_at - event.occurred_at >= config.max_age
            values |= {
                "status": "expired" if expired else "pending",
                "last_error": error[:200],
                "next_attempt_at": done_at + timedelta(seconds=next_delay(row.attempts)),
            }
        async with sessions() as session:
            await session.execute(
                update(IntegrationDelivery)
                .where(IntegrationDelivery.id == delivery_id)
                .values(**values)
            )
            await session.commit()
    return delivered


async def run_webhook(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    config: WebhookConfig,
    clock: Callable[[], datetime],
) -> int:
    """One pass: queue new events, then claim and deliver the due ones one at a time. Returns
    how many went out."""
    await enqueue_new(sessions, TARGET, clock(), config.max_age)
    delivered = 0
    for delivery_id, attempts in await due(sessions, TARGET, clock()):
        if await claim(sessions, delivery_id, attempts, clock()):
            delivered += await deliver_claimed(sessions, http, config, [delivery_id], clock)
    return delivered
