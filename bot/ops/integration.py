"""IT staff's commands for the link with the co-op's systems and for messages that did not go out:
`jecbot export`, `jecbot events replay|status` and `jecbot undeliverable` (docs/integration.md).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import TextIO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.adapters.webhook import TARGET, event_document
from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.models import IntegrationDelivery, IntegrationEvent, OutboxMessage

EXPORT_FIELDS = (
    "sequence",
    "id",
    "type",
    "occurred_at",
    "account_number",
    "member_number",
    "channel",
    "conversation_id",
    "data",
)


def parse_since(text: str) -> datetime:
    """`2026-12-01` (midnight UTC) or an ISO 8601 time (`2026-12-01T06:00:00-05:00`)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _events(session: Session, since: datetime, until: datetime | None) -> list[IntegrationEvent]:
    query = select(IntegrationEvent).where(IntegrationEvent.occurred_at >= since)
    if until is not None:
        query = query.where(IntegrationEvent.occurred_at < until)
    return list(session.scalars(query.order_by(IntegrationEvent.occurred_at, IntegrationEvent.id)))


def write_export(events: Iterable[IntegrationEvent], fmt: str, out: TextIO) -> int:
    """Events as CSV (one row each, `data` as compact JSON) or JSON (`{"events": [...]}`),
    oldest first (by time, then sequence). Returns how many were written."""
    docs = [event_document(e) for e in events]
    if fmt == "json":
        json.dump({"events": docs}, out, indent=2, sort_keys=True)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for doc in docs:
            row = {k: doc[k] for k in EXPORT_FIELDS if k != "data"}
            row["data"] = json.dumps(doc["data"], sort_keys=True, separators=(",", ":"))
            writer.writerow(row)
    else:
        raise ValueError("format must be csv or json")
    return len(docs)


def export_events(
    database_url: str,
    since: datetime,
    fmt: str,
    out: TextIO | None = None,
    until: datetime | None = None,
) -> int:
    engine = make_sync_engine(database_url)
    try:
        with sync_session_factory(engine)() as session:
            return write_export(_events(session, since, until), fmt, out or sys.stdout)
    finally:
        engine.dispose()


def replay_events(
    database_url: str, since: datetime, now: datetime, until: datetime | None = None
) -> int:
    """Queue every event since `since` for the webhook again (delivered or not): the receiver
    gets them again with the same ids. Returns how many were queued."""
    engine = make_sync_engine(database_url)
    try:
        with sync_session_factory(engine)() as session, session.begin():
            events = _events(session, since, until)
            for event in events:
                values = {
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": None,
                    "last_error": None,
                }
                changed = session.execute(
                    update(IntegrationDelivery)
                    .where(
                        IntegrationDelivery.event_pk == event.id,
                        IntegrationDelivery.target == TARGET,
                    )
                    .values(**values)
                ).rowcount  # type: ignore[attr-defined]
                if not changed:
                    session.add(
                        IntegrationDelivery(
                            event_pk=event.id, target=TARGET, created_at=now, **values
                        )
                    )
            return len(events)
    finally:
        engine.dispose()


def print_event_status(database_url: str, out: TextIO | None = None) -> None:
    """Webhook deliveries by status, and the events given up (expired) with their last error."""
    out = out or sys.stdout
    engine = make_sync_engine(database_url)
    try:
        with sync_session_factory(engine)() as session:
            total = session.scalar(select(func.count()).select_from(IntegrationEvent)) or 0
            counts = dict(
                session.execute(
                    select(IntegrationDelivery.status, func.count())
                    .where(IntegrationDelivery.target == TARGET)
                    .group_by(IntegrationDelivery.status)
                ).all()
            )
            expired = session.execute(
                select(IntegrationEvent, IntegrationDelivery)
                .join(IntegrationDelivery, IntegrationDelivery.event_pk == IntegrationEvent.id)
                .where(IntegrationDelivery.status == "expired")
                .order_by(IntegrationEvent.id)
                .limit(50)
            ).all()
    finally:
        engine.dispose()
    queued = sum(counts.values())
    print(
        f"{total} events; webhook: {counts.get('delivered', 0)} delivered, "
        f"{counts.get('pending', 0)} waiting, {counts.get('expired', 0)} given up, "
        f"{max(total - queued, 0)} not queued",
        file=out,
    )
    for event, delivery in expired:
        print(
            f"  given up  {event.event_id}  {event.kind:<32} {delivery.attempts} tries  "
            f"{delivery.last_error or ''}",
            file=out,
        )


UNDELIVERABLE = (
    select(OutboxMessage)
    .where(OutboxMessage.gave_up_at.is_not(None))
    .order_by(OutboxMessage.to, OutboxMessage.gave_up_at)
)
"""The texts and emails we gave up on, by contact then time (`summarise_undeliverable`)."""


def summarise_undeliverable(rows: Sequence[OutboxMessage]) -> list[dict[str, object]]:
    """One entry per phone or email of `UNDELIVERABLE`'s rows: how many, when last, the last
    error, and how many got the email copy. Shared by `jecbot undeliverable` and the console."""
    by_contact: dict[tuple[str, str], dict[str, object]] = {}
    for row in rows:
        entry = by_contact.setdefault(
            (row.channel, row.to),
            {"channel": row.channel, "to": row.to, "messages": 0, "email_copies": 0},
        )
        entry["messages"] = int(entry["messages"]) + 1  # type: ignore[call-overload]
        entry["email_copies"] = int(entry["email_copies"]) + int(  # type: ignore[call-overload]
            row.fallback_outbox_id is not None
        )
        entry["last_failed_at"] = row.gave_up_at
        reason = row.error or (
            f"{row.delivery_status} ({row.delivery_error_code})"
            if row.delivery_error_code
            else row.delivery_status
        )
        entry["last_error"] = reason
    return list(by_contact.values())


def undeliverable(database_url: str) -> list[dict[str, object]]:
    """Each phone or email whose messages we gave up on (`summarise_undeliverable`)."""
    engine = make_sync_engine(database_url)
    try:
        with sync_session_factory(engine)() as session:
            return summarise_undeliverable(session.scalars(UNDELIVERABLE).all())
    finally:
        engine.dispose()


def print_undeliverable(database_url: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    found = undeliverable(database_url)
    if not found:
        print("No undeliverable contacts.", file=out)
        return
    print(
        f"{'via':<5}  {'to':<28}  {'msgs':>4}  {'emailed':>7}  last failed (UTC)    reason",
        file=out,
    )
    for entry in found:
        when = entry["last_failed_at"]
        stamp = when.strftime("%Y-%m-%d %H:%M") if isinstance(when, datetime) else ""
        print(
            f"{entry['channel']:<5}  {entry['to']:<28}  {entry['messages']:>4}  "
            f"{entry['email_copies']:>7}  {stamp:<19}  {entry['last_error'] or ''}",
            file=out,
        )
