"""The gateway's Prometheus metrics (`/metrics`), one registry per app.

Two kinds, so the numbers are right whatever process did the work and however many gateway
replicas run:
- measured in the gateway as it happens: the bot turn's latency by channel and Rasa errors
  (`TurnMetrics`, called from the conversation pipeline);
- read from the database when Prometheus scrapes (`refresh`): payments by outcome, texts by
  status, verification failures and security locks, the handoff queue and agents online, and the
  queue of texts not yet delivered. Payments and codes happen in the action server, so counting
  rows is the one view that includes them. Counts cover the rows retention has kept, so a count
  can drop after a retention run; the dashboards and alerts use the 15-minute windows.
Names and meanings: docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: N811
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.handoff import agents_available
from bot.store.models import (
    Conversation,
    ConversationMessage,
    HandoffRequest,
    OutboxMessage,
    Payment,
    SecurityLock,
    VerificationAttempt,
)

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

WINDOW = timedelta(minutes=15)
# Turns above 10 s already feel broken to a member; Rasa's first turn after start can take 30 s.
TURN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
PAYMENT_OUTCOMES = ("pending", "succeeded", "declined", "failed")
TEXT_STATUSES = ("sent", "failed", "outbox", "queued", "sending")


class GatewayMetrics:
    """Every metric the gateway exposes, registered on its own `registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.turn_seconds = Histogram(
            "jec_turn_seconds",
            "Time for one bot turn (member message to Rasa's replies), by channel",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.rasa_errors = Counter(
            "jec_rasa_errors", "Bot turns Rasa did not answer (timeout or error)", registry=r
        )
        self.dependency_up = Gauge(
            "jec_dependency_up", "1 when /readyz last found the dependency up", ["name"], registry=r
        )
        self.payments = Gauge(
            "jec_payments", "Payments recorded, by outcome", ["outcome"], registry=r
        )
        self.payments_recent = Gauge(
            "jec_payments_15m",
            "Payments in the last 15 minutes, by outcome",
            ["outcome"],
            registry=r,
        )
        self.texts = Gauge("jec_texts", "Texts (SMS) recorded, by status", ["status"], registry=r)
        self.texts_recent = Gauge(
            "jec_texts_15m", "Texts in the last 15 minutes, by status", ["status"], registry=r
        )
        self.verification_failures = Gauge(
            "jec_verification_failures_15m",
            "Failed identity checks in the last 15 minutes",
            registry=r,
        )
        self.locks_active = Gauge(
            "jec_security_locks_active", "Security locks in force, by scope", ["scope"], registry=r
        )
        self.locks_recent = Gauge(
            "jec_security_locks_15m", "Security locks set in the last 15 minutes", registry=r
        )
        self.agents_online = Gauge(
            "jec_agents_online", "Agents online with the console open", registry=r
        )
        self.handoff_waiting = Gauge(
            "jec_handoff_waiting", "Conversations waiting for an agent", registry=r
        )
        self.handoff_wait_seconds = Gauge(
            "jec_handoff_oldest_wait_seconds",
            "How long the longest-waiting conversation has waited for an agent",
            registry=r,
        )
        self.handoff_wait_recent = Gauge(
            "jec_handoff_wait_seconds_avg_15m",
            "Average wait for an agent of the conversations assigned in the last 15 minutes",
            registry=r,
        )
        self.undelivered = Gauge(
            "jec_sms_undelivered",
            "Replies to texting members not yet handed to the SMS provider (last 24 hours)",
            registry=r,
        )
        self.undelivered_age = Gauge(
            "jec_sms_undelivered_oldest_seconds",
            "Age of the oldest reply to a texting member not yet handed to the provider",
            registry=r,
        )

    def observe_turn(self, channel: str, seconds: float, *, rasa_failed: bool) -> None:
        self.turn_seconds.labels(channel=channel).observe(seconds)
        if rasa_failed:
            self.rasa_errors.inc()

    async def refresh(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
        """Read the database-backed metrics (a few indexed counts) for this scrape."""
        since = now - WINDOW
        async with sessions() as session:
            await self._by_status(session, since)
            failures = await session.scalar(
                select(func.count(VerificationAttempt.id)).where(
                    VerificationAttempt.success.is_(False), VerificationAttempt.created_at >= since
                )
            )
            self.verification_failures.set(failures or 0)
            self.locks_active.clear()
            active = await session.execute(
                select(SecurityLock.scope, func.count(SecurityLock.id))
                .where(SecurityLock.until > now)
                .group_by(SecurityLock.scope)
            )
            for scope, n in active:
                self.locks_active.labels(scope=scope).set(n)
            recent = await session.scalar(
                select(func.count(SecurityLock.id)).where(SecurityLock.locked_at >= since)
            )
            self.locks_recent.set(recent or 0)
            self.agents_online.set(await agents_available(session, now))
            await self._handoffs(session, now, since)
            await self._undelivered(session, now)

    async def _by_status(self, session: AsyncSession, since: datetime) -> None:
        """Payments by outcome and texts (SMS) by status: all recorded and the last 15 minutes."""
        sms = OutboxMessage.channel == "sms"
        for gauges, label, model, statuses, where in (
            ((self.payments, self.payments_recent), "outcome", Payment, PAYMENT_OUTCOMES, ()),
            ((self.texts, self.texts_recent), "status", OutboxMessage, TEXT_STATUSES, (sms,)),
        ):
            await _set_by_status(
                session, model, statuses, since, *where, label=label, gauges=gauges
            )

    async def _handoffs(self, session: AsyncSession, now: datetime, since: datetime) -> None:
        waiting = HandoffRequest.status == "waiting"
        count, oldest = (
            await session.execute(
                select(func.count(HandoffRequest.id), func.min(HandoffRequest.created_at)).where(
                    waiting
                )
            )
        ).one()
        self.handoff_waiting.set(count or 0)
        self.handoff_wait_seconds.set(_age(now, oldest))
        assigned = await session.execute(
            select(HandoffRequest.created_at, HandoffRequest.assigned_at).where(
                HandoffRequest.assigned_at >= since
            )
        )
        waits = [_age(done, start) for start, done in assigned if done is not None]
        self.handoff_wait_recent.set(sum(waits) / len(waits) if waits else 0.0)

    async def _undelivered(self, session: AsyncSession, now: datetime) -> None:
        query = (
            select(func.count(ConversationMessage.id), func.min(ConversationMessage.created_at))
            .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
            .where(
                and_(
                    Conversation.channel == "sms",
                    ConversationMessage.direction == "out",
                    ConversationMessage.delivered_at.is_(None),
                    ConversationMessage.created_at >= now - timedelta(days=1),
                )
            )
        )
        count, oldest = (await session.execute(query)).one()
        self.undelivered.set(count or 0)
        self.undelivered_age.set(_age(now, oldest))

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def _set_by_status(
    session: AsyncSession,
    model: type[Payment] | type[OutboxMessage],
    statuses: tuple[str, ...],
    since: datetime,
    *where: Any,
    label: str,
    gauges: tuple[Gauge, Gauge],
) -> None:
    """The rows of `model` by status, all and those created since `since`, on the two `gauges`
    labelled `label`: every one of `statuses` set (0 when none)."""
    total, recent = gauges
    for gauge, conditions in ((total, where), (recent, (*where, model.created_at >= since))):
        counts = dict.fromkeys(statuses, 0)
        rows = await session.execute(
            select(model.status, func.count(model.id)).where(*conditions).group_by(model.status)
        )
        counts.update({status: n for status, n in rows})
        for status, n in counts.items():
            gauge.labels(**{label: status}).set(n)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite hands back naive values on aggregates (min)
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())
