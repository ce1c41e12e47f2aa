"""The two-way link (issue 8 item 4): every change made in chat becomes one signed webhook
delivery (retried after the receiver's 500) and one row in the export, even with two workers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.sandbox_processor import SandboxProcessor
from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import PROJECT_ROOT, Settings
from bot.core.webhook_signature import EVENT_ID_HEADER, signature_problem
from bot.ops.integration import export_events, replay_events
from bot.profile import load_profile
from bot.services import draft_authorizations as records
from bot.services.audit import SensitiveDataError
from bot.services.balance import BillingRules
from bot.services.events import publish
from bot.services.handoff import create_callback
from bot.services.notify import DeliveryResult
from bot.services.otp import OtpRules, OtpService
from bot.services.outage.service import OutageService
from bot.services.payment_rules import PaymentRules
from bot.services.payments import PaymentService
from bot.services.service_request import create_request
from bot.services.settings import AccountSettings, Actor
from bot.store.db import async_session_factory, make_async_engine, session_scope
from bot.store.models import (
    Contact,
    DraftAuthorization,
    IntegrationDelivery,
    IntegrationEvent,
)
from bot.worker import registry
from bot.worker.base import JobContext
from bot.worker.integration import deliver_events
from tests.store import rows
from tests.store.sessions import open_sessions

PROFILE_PATH = PROJECT_ROOT / "profiles" / "jec.yml"
PROFILE = load_profile(PROFILE_PATH)
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Saturday 10 AM in Wrens
SECRET = "webhook-secret-for-tests-0123456789abcdef"
PHONE = "+17065550102"
EMAIL = "earl.hardeman@example.com"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Receiver:
    """The co-op's webhook receiver: verifies each signature the way docs/integration.md says,
    answers 500 to the first `fail_first` requests, then 200."""

    clock: Clock
    fail_first: int = 0
    requests: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused_signatures: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if signature_problem([SECRET], request.headers, body, self.clock().timestamp()):
            self.refused_signatures += 1
            return web.Response(status=401)
        if self.requests <= self.fail_first:
            return web.Response(status=500)
        event = json.loads(body)
        assert request.headers[EVENT_ID_HEADER] == event["id"]
        self.accepted.append(event)
        return web.Response(status=204)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_sessions(db_url) as factory:
        yield factory


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def receiver(aiohttp_server: Any, clock: Clock) -> Receiver:
    rec = Receiver(clock)
    app = web.Application()
    app.router.add_post("/hooks/jec", rec.handle)
    server = await aiohttp_server(app)
    rec.url = str(server.make_url("/hooks/jec"))
    return rec


class Quiet:
    """A notifier that accepts everything (codes are read back from `sent`)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.sent.append((to_e164, str(body)))
        return DeliveryResult("sent")

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.sent.append((to, str(body)))
        return DeliveryResult("sent")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def job_context(
    db_url: str, sessions, http, clock: Clock, url: str, secret: str = SECRET
) -> JobContext:
    settings = Settings(
        database_url=db_url,
        integration_webhook_url=url,
        integration_webhook_secret=secret,
        http_timeout_seconds=5.0,
    )
    return JobContext(settings, PROFILE, sessions, Quiet(), http, clock)


@dataclass(frozen=True)
class Earl:
    member_id: int
    account_id: int
    checking_id: int
    card_id: int


async def seed(sessions) -> Earl:
    async with session_scope(sessions) as s:
        member = await rows.member(s, "M7315", "Earl", "Hardeman")
        account = rows.account(member, "1000007315")
        checking = rows.bank(member, "tok_sandbox_chk_6120", "6120")
        card = rows.card(member, "tok_sandbox_visa4242")
        s.add_all(
            [
                account,
                checking,
                card,
                Contact(
                    member_id=member.id,
                    kind="phone",
                    value=PHONE,
                    is_primary=True,
                    is_verified=True,
                ),
                Contact(member_id=member.id, kind="email", value=EMAIL, is_verified=True),
            ]
        )
        await s.flush()
        return Earl(member.id, account.id, checking.id, card.id)


async def make_every_chat_change(sessions, earl: Earl) -> list[str]:
    """Each kind of change a member makes in chat, through the service that makes it."""
    actor = Actor(earl.member_id, earl.account_id, "conv-1", "web", "zip+otp")
    notifier = Quiet()
    settings = AccountSettings(sessions, OtpService(sessions, OtpRules(), notifier))
    await settings.set_paperless(actor, True, now=NOW)
    await settings.set_preference(actor, "outage", "sms", True, now=NOW)
    await settings.start_contact_change(actor, "email", "earl.new@example.com", now=NOW)
    code = notifier.sent[-1][1].split("code: ")[1][:6]
    await settings.confirm_contact_change(actor, "email", "earl.new@example.com", code, now=NOW)
    members = SqlMemberServices(sessions, BillingRules.from_profile(PROFILE))
    agreement = records.Agreement(earl.member_id, earl.account_id, NOW, "web", "zip+otp", "conv-1")
    await records.record_enrollment(
        sessions,
        members,
        notifier,
        PROFILE,
        agreement,
        payment_method_id=earl.checking_id,
        draft_day=18,
        amount_rule="full_balance",
        fixed_amount_cents=None,
        today=date(2026, 11, 28),
    )
    await records.record_change(
        sessions, members, notifier, PROFILE, agreement, today=date(2026, 11, 28), draft_day=3
    )
    await records.record_cancellation(sessions, members, notifier, PROFILE, agreement)
    payments = PaymentService(
        sessions,
        SandboxProcessor(),
        PaymentRules(minimum_cents=100, maximum_cents=500_000, timezone=PROFILE.timezone),
    )
    await payments.pay(
        account_id=earl.account_id,
        member_id=earl.member_id,
        payment_method_id=earl.card_id,
        amount_cents=5000,
        idempotency_key="conv-1:pay:1",
        channel="web",
        actor=f"member:{earl.member_id}",
        verified_how="zip+otp",
        conversation_id="conv-1",
        now=NOW,
    )
    await create_request(
        sessions,
        kind="stop",
        member_id=earl.member_id,
        account_id=earl.account_id,
        requested_date=date(2026, 12, 8),
        details={"contact_phone": PHONE},
        channel="web",
        conversation_id="conv-1",
        now=NOW,
        tz=PROFILE.timezone,
    )
    async with session_scope(sessions) as s:
        await create_callback(
            s,
            conversation_id="conv-1",
            channel="web",
            name="Earl",
            phone=PHONE,
            best_time="after 5",
            topic="billing question",
            account_id=earl.account_id,
            verified_tier="verified",
            now=NOW,
        )
    await OutageService(sessions).report(
        account_id=earl.account_id,
        address="88 Church St",
        town="Louisville",
        zip="30434",
        hazard=True,
        hazard_description="line down across the driveway",
        notify_on_restore=True,
        notify_phone=PHONE,
        channel="web",
        conversation_id="conv-1",
        idempotency_key="conv-1:outage:1",
        now=NOW,
    )
    return [
        "paperless.changed",
        "notification_preference.changed",
        "contact.changed",
        "draft.enrolled",
        "draft.changed",
        "draft.cancelled",
        "payment.succeeded",
        "service_request.created",
        "callback_request.created",
        "outage_report.created",
    ]


async def test_every_chat_change_is_one_signed_delivery_retried_after_a_500_and_one_export_row(
    db_url, sessions, http, clock, receiver
) -> None:
    earl = await seed(sessions)
    kinds = await make_every_chat_change(sessions, earl)
    ctx = job_context(db_url, sessions, http, clock, receiver.url)
    receiver.fail_first = 1  # the receiver is down for the first request

    assert await deliver_events(ctx) == len(kinds) - 1  # the first got a 500
    clock.advance(seconds=29)
    assert await deliver_events(ctx) == 0  # not due yet (30 s backoff)
    clock.advance(seconds=2)
    assert await deliver_events(ctx) == 1  # retried and accepted
    assert await deliver_events(ctx) == 0  # nothing twice

    assert receiver.refused_signatures == 0
    assert sorted(e["type"] for e in receiver.accepted) == sorted(kinds)
    assert len({e["id"] for e in receiver.accepted}) == len(kinds)
    by_type = {e["type"]: e for e in receiver.accepted}
    assert {e["account_number"] for e in receiver.accepted} == {"1000007315"}
    assert by_type["contact.changed"]["data"]["new_value"] == "earl.new@example.com"
    enrolled = by_type["draft.enrolled"]["data"]
    async with sessions() as s:
        texts = (
            await s.scalars(select(DraftAuthorization.text).order_by(DraftAuthorization.id))
        ).all()
    # the exact wording the member agreed to, for each of enrol, change and cancel
    assert [by_type[k]["data"]["authorization_text"] for k in kinds[3:6]] == list(texts)
    assert enrolled["authorized_at"] == NOW.isoformat() and enrolled["draft_day"] == 18
    assert by_type["draft.cancelled"]["data"]["status"] == "cancelled"
    outage = by_type["outage_report.created"]["data"]
    assert (outage["address"], outage["hazard"], outage["callback_number"]) == (
        "88 Church St",
        True,
        PHONE,
    )
    assert by_type["payment.succeeded"]["data"]["amount_cents"] == 5000
    # no card or bank number, no processor token anywhere in what left
    everything = json.dumps(receiver.accepted)
    assert "tok_sandbox" not in everything and "4242424242424242" not in everything

    out = io.StringIO()
    assert export_events(db_url, NOW - timedelta(days=1), "csv", out) == len(kinds)
    exported = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["type"] for r in exported] == kinds  # in the order they happened
    assert [r["id"] for r in exported] == [by_type[k]["id"] for k in kinds]
    again = io.StringIO()
    export_events(db_url, NOW - timedelta(days=1), "json", again)
    assert [e["id"] for e in json.loads(again.getvalue())["events"]] == [r["id"] for r in exported]


async def test_two_workers_at_once_deliver_each_event_once(
    db_url, sessions, http, clock, receiver
) -> None:
    earl = await seed(sessions)
    kinds = await make_every_chat_change(sessions, earl)
    one = job_context(db_url, sessions, http, clock, receiver.url)
    # the second worker: its own database engine, as another process would have
    engine = make_async_engine(db_url)
    try:
        other = job_context(db_url, async_session_factory(engine), http, clock, receiver.url)
        sent = await asyncio.gather(deliver_events(one), deliver_events(other))
        assert sum(sent) == len(kinds)
        sent = await asyncio.gather(deliver_events(one), deliver_events(other))
        assert sum(sent) == 0
    finally:
        await engine.dispose()
    assert receiver.requests == len(kinds)
    assert len({e["id"] for e in receiver.accepted}) == len(kinds)


async def test_a_wrong_secret_is_refused_by_the_receiver_and_retried_until_max_age(
    db_url, sessions, http, clock, receiver
) -> None:
    await seed(sessions)
    async with session_scope(sessions) as s:
        await publish(s, "paperless.changed", occurred_at=NOW, data={"paperless": True})
    ctx = job_context(db_url, sessions, http, clock, receiver.url, secret="x" * 40)
    assert await deliver_events(ctx) == 0
    assert receiver.refused_signatures == 1 and receiver.accepted == []
    for _ in range(200):
        clock.advance(hours=1)
        await deliver_events(ctx)
    async with sessions() as s:
        delivery = await s.scalar(select(IntegrationDelivery))
    assert delivery.status == "expired" and delivery.last_error == "HTTP 401"
    tries = receiver.requests
    assert 70 <= tries <= 80  # hourly after the backoff, for 72 hours, then no more
    # the co-op fixed its secret: replay sends it again, signed right this time
    good = job_context(db_url, sessions, http, clock, receiver.url)
    assert replay_events(db_url, NOW - timedelta(hours=1), clock()) == 1
    assert await deliver_events(good) == 1
    assert [e["type"] for e in receiver.accepted] == ["paperless.changed"]


async def test_webhook_off_when_no_url_and_never_unsigned(
    db_url, sessions, http, clock, receiver
) -> None:
    async with session_scope(sessions) as s:
        await publish(s, "paperless.changed", occurred_at=NOW, data={"paperless": True})
    assert await deliver_events(job_context(db_url, sessions, http, clock, "")) == 0
    no_secret = job_context(db_url, sessions, http, clock, receiver.url, secret="")
    assert await deliver_events(no_secret) == 0
    assert receiver.requests == 0
    async with sessions() as s:
        assert (await s.scalar(select(IntegrationEvent))).kind == "paperless.changed"


async def test_an_event_never_carries_a_card_number_or_token(sessions) -> None:
    async with session_scope(sessions) as s:
        with pytest.raises(SensitiveDataError):
            await publish(s, "payment.failed", occurred_at=NOW, data={"note": "4111111111111111"})
        with pytest.raises(SensitiveDataError):
            await publish(s, "payment.failed", occurred_at=NOW, data={"token": "tok_x"})


def test_the_worker_runs_the_webhook_and_retry_jobs() -> None:
    names = {task.name for task in registry.periodic_tasks()}
    assert {"integration_webhook", "message_retries"} <= names


def test_a_public_installation_refuses_a_weak_or_plain_http_webhook() -> None:
    from bot.config import secret_problems

    base = {"public_base_url": "https://chat.jec.example", "gateway_host": "0.0.0.0"}
    weak = Settings(
        **base,
        integration_webhook_url="http://billing.jec.example/hook",
        integration_webhook_secret="short",
        integration_inbound_secret="change-me",
    )
    problems = secret_problems(weak)
    assert "INTEGRATION_WEBHOOK_URL is not https (events carry member data)" in problems
    assert "INTEGRATION_WEBHOOK_SECRET is shorter than 32 bytes" in problems
    assert "INTEGRATION_INBOUND_SECRET is an example value" in problems
    good = Settings(
        **base,
        integration_webhook_url="https://billing.jec.example/hook",
        integration_webhook_secret=SECRET,
        integration_inbound_secret=SECRET[::-1],
    )
    assert not [p for p in secret_problems(good) if p.startswith("INTEGRATION")]


async def test_the_it_commands_export_replay_and_show_status(
    db_url, sessions, monkeypatch, capsys, tmp_path
) -> None:
    from bot.cli import main

    async with session_scope(sessions) as s:
        await publish(s, "paperless.changed", occurred_at=NOW, data={"paperless": True})
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("JEC_FAKE_NOW", NOW.isoformat())
    out = tmp_path / "events.json"
    args = ["export", "--since", "2026-11-28", "--format", "json", "--output", str(out)]
    assert await asyncio.to_thread(main, args) == 0
    assert [e["type"] for e in json.loads(out.read_text())["events"]] == ["paperless.changed"]
    assert await asyncio.to_thread(main, ["events", "replay", "--since", "2026-11-28"]) == 0
    assert await asyncio.to_thread(main, ["events", "status"]) == 0
    assert await asyncio.to_thread(main, ["undeliverable"]) == 0
    printed = capsys.readouterr().out
    assert "Queued 1 events" in printed
    assert "1 events; webhook: 0 delivered, 1 waiting, 0 given up, 0 not queued" in printed
    assert "No undeliverable contacts." in printed
    assert await asyncio.to_thread(main, ["events", "replay", "--since", "yesterday"]) == 2


async def test_retention_deletes_events_past_the_conversation_period(db_url, sessions) -> None:
    from bot.ops.retention import run_retention

    async with session_scope(sessions) as s:
        await publish(s, "paperless.changed", occurred_at=NOW - timedelta(days=400), data={})
        await publish(s, "paperless.changed", occurred_at=NOW, data={})
    report = await asyncio.to_thread(run_retention, db_url, "", PROFILE, NOW)
    assert report.counts["integration events"] == 1
    async with sessions() as s:
        assert [e.occurred_at for e in await s.scalars(select(IntegrationEvent))] == [NOW]
