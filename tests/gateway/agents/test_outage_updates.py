"""Power is back, through the gateway: the outage system's signed endpoint and the console's
outage page mark an outage restored and the worker's job texts the member exactly once; a bad or
replayed signature changes nothing (attack tests); a reply of OUT reopens a report; the console
lists hazards first."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.gateway.keywords import classify, is_still_out
from bot.gateway.outage_updates import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.gateway.state import GATEWAY, Gateway
from bot.services.notify import DeliveryResult
from bot.services.outage import OutageService
from bot.store.db import session_scope
from bot.store.models import AuditEntry, Outage, OutageArea, OutageReport
from bot.worker import outage_notices
from bot.worker.base import JobContext
from gateway.agent_fixtures import console_settings
from gateway.agent_helpers import Clock, ControlledRasa, add_member, sign_in, text_in

SECRET = "outage-system-shared-secret"
DANA = "+17065550101"


class SentSms:
    """The notifier the worker would have: records every text and says it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.sent.append((to_e164, body))
        return DeliveryResult("sent", provider_id=f"SM{len(self.sent)}")

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.sent.append((to, body))
        return DeliveryResult("sent")


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: ControlledRasa, tmp_path: Any) -> Settings:
    return console_settings(sqlite_url, fake_rasa, tmp_path, outage_updates_secret=SECRET)


@pytest.fixture
def worker_sms() -> SentSms:
    return SentSms()


@pytest.fixture
def job(gw: Gateway, worker_sms: SentSms, clock: Clock) -> JobContext:
    return JobContext(gw.settings, gw.profile, gw.sessions, worker_sms, gw.http, clock)


async def known_outage(gw: Gateway, reference: str = "OMS-88", town: str = "Wrens") -> int:
    async with session_scope(gw.sessions) as s:
        outage = Outage(
            reference=reference,
            started_at=gw.clock() - timedelta(hours=1),
            customers_affected=120,
            crew_status="assessing",
        )
        s.add(outage)
        await s.flush()
        s.add(OutageArea(outage_id=outage.id, town=town))
        return outage.id


async def report(
    gw: Gateway,
    account_id: int | None,
    *,
    address: str = "412 Mill St, Wrens",
    hazard: bool = False,
    phone: str | None = DANA,
    minutes_ago: int = 30,
) -> str:
    service = OutageService(gw.sessions, gw.profile.outages.report_prefix, gw.profile.timezone)
    result = await service.report(
        account_id=account_id,
        address=address,
        town="Wrens",
        zip="30833",
        hazard=hazard,
        hazard_description="line down on the road" if hazard else None,
        notify_on_restore=phone is not None,
        notify_phone=phone,
        channel="sms",
        conversation_id=None,
        idempotency_key=None,
        now=gw.clock() - timedelta(minutes=minutes_ago),
    )
    return result.reference


async def post_update(
    client: TestClient,
    payload: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    body = json.dumps(payload).encode()
    ts = str(timestamp if timestamp is not None else int(client.app[GATEWAY].clock().timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: signature if signature is not None else sign(secret, ts, body),
    }
    return await client.post("/integrations/outages", data=body, headers=headers)


async def outage_row(gw: Gateway, reference: str) -> Outage | None:
    async with gw.sessions() as s:
        return await s.scalar(select(Outage).where(Outage.reference == reference))


async def test_restored_through_the_endpoint_texts_the_member_exactly_once(
    client: TestClient, gw: Gateway, clock: Clock, job: JobContext, worker_sms: SentSms
) -> None:
    _member, account = await add_member(gw.sessions)
    await known_outage(gw)
    await report(gw, account)
    assert await outage_notices.run(job) == 0

    resp = await post_update(
        client,
        {"event": "restored", "reference": "OMS-88", "restored_at": "2026-11-30T10:00:00-05:00"},
    )
    assert resp.status == 200, await resp.text()
    assert (await outage_row(gw, "OMS-88")).status == "restored"
    clock.advance(seconds=10)
    assert await outage_notices.run(job) == 1
    again = await post_update(client, {"event": "restored", "reference": "OMS-88"})
    assert again.status == 200  # the outage system retrying: harmless
    assert await outage_notices.run(job) == 0
    assert worker_sms.sent == [
        (DANA, "Power is back on near Wrens as of 10:00 AM. If you're still out, reply OUT.")
    ]


async def test_the_endpoint_creates_and_updates_an_outage(client: TestClient, gw: Gateway) -> None:
    resp = await post_update(
        client,
        {
            "event": "new",
            "reference": "OMS-90",
            "started_at": "2026-11-30T09:40:00-05:00",
            "towns": ["Louisville"],
            "zips": ["30434"],
            "customers_affected": 35,
            "cause": "tree on line",
        },
    )
    assert resp.status == 200 and (await resp.json())["created"] is True
    found = await OutageService(gw.sessions).find_by_town("Louisville")
    assert [o.reference for o in found] == ["OMS-90"]
    resp = await post_update(
        client,
        {
            "event": "estimate_changed",
            "reference": "OMS-90",
            "estimated_restoration_at": "2026-11-30T13:00:00-05:00",
        },
    )
    assert resp.status == 200
    (o,) = await OutageService(gw.sessions).find_by_zip("30434")
    assert o.estimated_restoration_at is not None and o.estimated_restoration_at.hour == 18
    bad = await post_update(client, {"event": "restored", "reference": "NOPE-1"})
    assert bad.status == 422


async def test_the_endpoint_refuses_bad_old_or_missing_signatures(
    client: TestClient, gw: Gateway, clock: Clock
) -> None:
    """Attack: anyone who can reach the gateway tries to mark an outage restored (so that members
    are told their power is back when it isn't)."""
    await known_outage(gw)
    payload = {"event": "restored", "reference": "OMS-88"}
    now = int(clock().timestamp())
    attempts = [
        await post_update(client, payload, secret="guessed-secret"),
        await post_update(client, payload, signature="sha256=" + "0" * 64),
        await post_update(client, payload, signature=""),
        # a genuine request captured and replayed ten minutes later
        await post_update(client, payload, timestamp=now - 600),
        await post_update(client, payload, timestamp=now + 600),
    ]
    body = json.dumps(payload).encode()
    ts = str(now)
    tampered = await client.post(
        "/integrations/outages",
        data=json.dumps({"event": "restored", "reference": "OMS-88", "x": 1}).encode(),
        headers={TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(SECRET, ts, body)},
    )
    attempts.append(tampered)
    assert [r.status for r in attempts] == [401] * 6
    outage = await outage_row(gw, "OMS-88")
    assert outage.status == "active" and outage.restored_at is None


async def test_out_reopens_a_report_after_a_restore_text(
    client: TestClient,
    gw: Gateway,
    settings: Settings,
    clock: Clock,
    job: JobContext,
    fake_rasa: ControlledRasa,
) -> None:
    _member, account = await add_member(gw.sessions)
    outage_id = await known_outage(gw)
    first = await report(gw, account)
    async with session_scope(gw.sessions) as s:
        (await s.get(Outage, outage_id)).restored_at = clock()
        (await s.get(Outage, outage_id)).status = "restored"
    assert await outage_notices.run(job) == 1

    clock.advance(minutes=20)
    resp = await text_in(client, settings, "still out", sid="SM-out-1")
    body = await resp.text()
    assert "I reopened your outage report as R-2026-" in body and "412 Mill St, Wrens" in body
    async with gw.sessions() as s:
        reports = (await s.scalars(select(OutageReport).order_by(OutageReport.id))).all()
    assert [r.reference for r in reports][0] == first and len(reports) == 2
    reopened = reports[1]
    assert (reopened.address, reopened.account_id, reopened.notify_phone) == (
        "412 Mill St, Wrens",
        account,
        DANA,
    )
    assert reopened.notify_on_restore and reopened.channel == "sms"
    again = await text_in(client, settings, "OUT", sid="SM-out-2")
    assert f"Your outage report {reopened.reference} is already reopened" in await again.text()
    assert fake_rasa.messages == []  # both were answered by the gateway, not the assistant

    # a day later OUT is an ordinary message again (the assistant gets it)
    clock.advance(hours=25)
    await text_in(client, settings, "out", sid="SM-out-3")
    assert fake_rasa.messages == ["out"]


async def test_out_without_a_restore_text_is_an_ordinary_message(
    client: TestClient, settings: Settings, fake_rasa: ControlledRasa, gw: Gateway
) -> None:
    await text_in(client, settings, "OUT", from_number="+17065550188", sid="SM-x")
    assert fake_rasa.messages == ["OUT"]
    async with gw.sessions() as s:
        assert (await s.scalars(select(OutageReport))).all() == []


async def test_console_lists_hazards_first_and_the_restore_button_texts_once(
    client: TestClient,
    gw: Gateway,
    agents: dict[str, int],
    clock: Clock,
    job: JobContext,
    worker_sms: SentSms,
) -> None:
    _member, account = await add_member(gw.sessions)
    outage_id = await known_outage(gw)
    plain = await report(gw, account, minutes_ago=5)  # the newest, but no hazard
    hazard = await report(
        gw, None, address="9 Railroad Ave, Wrens", hazard=True, phone=None, minutes_ago=50
    )
    csrf = await sign_in(client, "maria")
    page = await client.get("/console/outages")
    html = await page.text()
    assert page.status == 200
    assert html.index(hazard) < html.index(plain)  # hazards first
    assert "line down on the road" in html and "OMS-88 (out)" in html

    refused = await client.post(f"/console/outages/{outage_id}/restore", allow_redirects=False)
    assert refused.status == 403  # no CSRF token: nothing changes
    assert (await outage_row(gw, "OMS-88")).restored_at is None

    done = await client.post(
        f"/console/outages/{outage_id}/restore", data={"csrf": csrf}, allow_redirects=False
    )
    assert done.status == 303 and done.headers["Location"] == "/console/outages?m=restored"
    outage = await outage_row(gw, "OMS-88")
    assert outage.status == "restored" and outage.restored_at == clock()
    async with gw.sessions() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "outage.restored"))
    assert entry is not None and entry.actor == "agent:maria"
    clock.advance(seconds=5)
    assert await asyncio_gather_two(job) == 1
    assert worker_sms.sent == [
        (DANA, "Power is back on near Wrens as of 10:00 AM. If you're still out, reply OUT.")
    ]
    again = await client.post(
        f"/console/outages/{outage_id}/restore", data={"csrf": csrf}, allow_redirects=False
    )
    assert again.headers["Location"] == "/console/outages?m=not_active"
    listed = await (await client.get("/console/outages")).text()
    assert "1 text sent" in listed


async def asyncio_gather_two(job: JobContext) -> int:
    import asyncio

    return sum(await asyncio.gather(outage_notices.run(job), outage_notices.run(job)))


async def test_the_endpoint_is_off_without_a_secret(
    aiohttp_client: Any, settings: Settings
) -> None:
    from dataclasses import replace

    from bot.gateway.app import create_app

    off = await aiohttp_client(create_app(replace(settings, outage_updates_secret="")))
    resp = await off.post("/integrations/outages", data=b"{}")
    assert resp.status == 404


@pytest.mark.parametrize(
    "text",
    [
        "OUT",
        "out",
        "Out.",
        "still out",
        "Still out!",
        "power's still out",
        "we're still out",
        "my lights are still out",
        "I'm still out",
    ],
)
def test_still_out_replies_are_recognised(text: str) -> None:
    assert is_still_out(text)
    assert classify(text, opted_out=False) is None  # not an opt-out or opt-in keyword


@pytest.mark.parametrize(
    "text",
    [
        "opt out",
        "OPT OUT",
        "I went out",
        "out of town till monday",
        "outage",
        "whats out there",
        "my power is out, 412 mill st wrens, and a line is down",
    ],
)
def test_other_texts_with_out_are_not_still_out(text: str) -> None:
    assert not is_still_out(text)
