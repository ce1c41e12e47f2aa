"""`jecbot retention [--dry-run]`: delete what the assistant recorded once its period is over.

Periods are the profile's `retention:` section (`bot.profile.Retention`); run it daily (cron or a
systemd timer, docs/operations.md). What each period covers:
- conversation messages: chat and SMS messages, conversations left empty, inbound SMS ids and
  delivery callbacks, expired payment-page links, integration events and their deliveries
  (docs/integration.md), and Rasa's tracker events (its own database);
- verification attempts: identity checks, one-time code hashes, security locks that ended;
- outbox bodies: the text of sent texts and emails is blanked (who, when, status stay);
- audit entries: the audit log;
- draft authorizations: `drafts.authorization_retention_years` after the enrollment was
  cancelled (NACHA keeps them two years after revocation); payments are never deleted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, delete, func, inspect, select, text, update
from sqlalchemy.orm import Session

from bot.profile import CoopProfile
from bot.store.db import make_sync_engine
from bot.store.models import (
    AuditEntry,
    Conversation,
    ConversationMessage,
    DraftAuthorization,
    DraftEnrollment,
    IntegrationDelivery,
    IntegrationEvent,
    OneTimeCode,
    OutboxMessage,
    PaymentLink,
    SecurityLock,
    SmsInbound,
    SmsStatusCallback,
    VerificationAttempt,
)


@dataclass
class RetentionReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"Retention ({verb}):"]
        lines += [f"  {name:<34} {n:>8}" for name, n in self.counts.items()]
        return "\n".join(lines)


def _apply(
    session: Session,
    report: RetentionReport,
    name: str,
    model: Any,
    *where: Any,
    values: dict[str, Any] | None = None,
) -> None:
    """Count the rows matching `where`; unless a dry run, delete them (or update `values`)."""
    n = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    report.counts[name] = n
    if n and not report.dry_run:
        stmt = update(model).values(**values) if values else delete(model)
        session.execute(
            stmt.where(*where).execution_options(synchronize_session=False)  # type: ignore[attr-defined]
        )


def run_retention(
    database_url: str,
    tracker_url: str,
    profile: CoopProfile,
    now: datetime,
    *,
    dry_run: bool = False,
) -> RetentionReport:
    """Apply every period at `now` (the injected clock); a dry run only counts."""
    periods = profile.retention
    messages_before = now - timedelta(days=periods.conversation_messages_days)
    attempts_before = now - timedelta(days=periods.verification_attempts_days)
    bodies_before = now - timedelta(days=periods.outbox_bodies_days)
    audit_before = now - timedelta(days=periods.audit_entries_days)
    drafts_before = now - relativedelta(years=profile.drafts.authorization_retention_years)
    report = RetentionReport(dry_run=dry_run)
    engine = make_sync_engine(database_url)
    try:
        with Session(engine) as s, s.begin():
            _apply(
                s,
                report,
                "conversation messages",
                ConversationMessage,
                ConversationMessage.created_at < messages_before,
            )
            still_used = select(ConversationMessage.conversation_id).where(
                ConversationMessage.created_at >= messages_before
            )
            _apply(
                s,
                report,
                "conversations (left empty)",
                Conversation,
                Conversation.last_activity_at < messages_before,
                Conversation.id.not_in(still_used),
            )
            _apply(
                s, report, "inbound SMS ids", SmsInbound, SmsInbound.received_at < messages_before
            )
            _apply(
                s,
                report,
                "SMS delivery callbacks",
                SmsStatusCallback,
                SmsStatusCallback.received_at < messages_before,
            )
            _apply(
                s,
                report,
                "payment page links",
                PaymentLink,
                PaymentLink.expires_at < messages_before,
            )
            old_events = select(IntegrationEvent.id).where(
                IntegrationEvent.occurred_at < messages_before
            )
            _apply(
                s,
                report,
                "integration event deliveries",
                IntegrationDelivery,
                IntegrationDelivery.event_pk.in_(old_events),
            )
            _apply(
                s,
                report,
                "integration events",
                IntegrationEvent,
                IntegrationEvent.occurred_at < messages_before,
            )
            _apply(
                s,
                report,
                "verification attempts",
                VerificationAttempt,
                VerificationAttempt.created_at < attempts_before,
            )
            _apply(
                s,
                report,
                "one-time code hashes",
                OneTimeCode,
                OneTimeCode.created_at < attempts_before,
            )
            _apply(
                s,
                report,
                "security locks (ended)",
                SecurityLock,
                SecurityLock.until < attempts_before,
            )
            _apply(
                s,
                report,
                "outbox bodies (blanked)",
                OutboxMessage,
                OutboxMessage.created_at < bodies_before,
                OutboxMessage.body != "",
                values={"body": ""},
            )
            _apply(s, report, "audit entries", AuditEntry, AuditEntry.at < audit_before)
            ended = select(DraftEnrollment.id).where(
                DraftEnrollment.status == "cancelled", DraftEnrollment.cancelled_at < drafts_before
            )
            _apply(
                s,
                report,
                "draft authorizations",
                DraftAuthorization,
                DraftAuthorization.enrollment_id.in_(ended),
            )
    finally:
        engine.dispose()
    report.counts["Rasa tracker events"] = _tracker_events(tracker_url, messages_before, dry_run)
    return report


def _tracker_events(tracker_url: str, before: datetime, dry_run: bool) -> int:
    """Rasa's SQL tracker store keeps every event in `events` with a Unix `timestamp`."""
    if not tracker_url:
        return 0
    engine: Engine = make_sync_engine(tracker_url)
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table("events"):
                return 0
            cutoff = {"cutoff": before.timestamp()}
            n = conn.execute(
                text("select count(*) from events where timestamp < :cutoff"), cutoff
            ).scalar_one()
            if n and not dry_run:
                conn.execute(text("delete from events where timestamp < :cutoff"), cutoff)
            return int(n)
    finally:
        engine.dispose()
