"""Inbound from the co-op's systems: draft results through the signed `POST /integrations/drafts`
(forgeries refused: attack tests), and Twilio's status reports recorded against the sent text."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import pytest

from bot.config import Settings
from bot.core.webhook_signature import signed_headers
from bot.store.db import session_scope
from bot.store.models import (
    DraftEnrollment,
    InboundDraftResult,
    OutboxMessage,
    Payment,
    ScheduledDraft,
)
from gateway.helpers import count, gateway_settings, rows
from tests.store import rows as seed_rows

SECRET = "inbound-secret-for-tests-0123456789abcdef"
RESULT = {
    "id": "drf-2026-12-18-0001",
    "account_number": "1000007315",
    "draft_date": "2026-12-18",
    "amount_cents": 14287,
    "status": "paid",
}


@pytest.fixture
def settings(sqlite_url: str, fake_rasa: Any, tmp_path: Any) -> Settings:
    return gateway_settings(sqlite_url, fake_rasa, tmp_path, integration_inbound_secret=SECRET)


@pytest.fixture
async def enrolled(db) -> int:
    async with session_scope(db) as s:
        earl = await seed_rows.member(s, "M2", "Earl", "Hardeman")
        account = seed_rows.account(earl, "1000007315")
        checking = seed_rows.bank(earl, "tok_chk", "6120")
        s.add_all([account, checking])
        await s.flush()
        enrollment = DraftEnrollment(
            account_id=account.id,
            payment_method_id=checking.id,
            draft_day=18,
            amount_rule="full_balance",
            status="active",
            starts_on=date(2026, 12, 18),
        )
        s.add(enrollment)
        await s.flush()
        return enrollment.id


async def post_signed(client, payload: Any, *, secret: str = SECRET, at: float | None = None):
    body = json.dumps(payload).encode()
    headers = signed_headers(secret, int(at if at is not None else time.time()), body)
    return await client.post(
        "/integrations/drafts", data=body, headers={"Content-Type": "application/json", **headers}
    )


async def test_a_signed_draft_result_writes_the_run_and_the_payment_once(client, db, enrolled):
    resp = await post_signed(client, {"results": [RESULT]})
    assert resp.status == 200 and await resp.json() == {"applied": 1, "already_recorded": 0}
    [run] = await rows(db, ScheduledDraft)
    assert (run.enrollment_id, run.draft_date, run.status) == (
        enrolled,
        date(2026, 12, 18),
        "succeeded",
    )
    [payment] = await rows(db, Payment)
    assert (payment.status, payment.channel, payment.amount_cents) == ("succeeded", "draft", 14287)
    # the billing system resends it: nothing changes
    resp = await post_signed(client, {"results": [RESULT]})
    assert await resp.json() == {"applied": 0, "already_recorded": 1}
    assert await count(db, Payment) == 1 and await count(db, InboundDraftResult) == 1
    # later the bank returns it (a new result for the same draft run)
    returned = RESULT | {"id": "drf-2026-12-18-0001-r", "status": "returned", "return_code": "R01"}
    assert (await post_signed(client, {"results": [returned]})).status == 200
    [run] = await rows(db, ScheduledDraft)
    [payment] = await rows(db, Payment)
    assert run.status == "returned" and payment.status == "declined"
    assert "R01" in payment.failure_reason


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "tampered body", "stale timestamp", "no signature", "future timestamp"],
)
async def test_a_forged_draft_result_is_refused_and_changes_nothing(client, db, enrolled, forgery):
    """An attacker who can reach the gateway tries to mark a draft paid (so the member's balance
    shows paid) without the co-op's secret, or by replaying or editing a real request."""
    body = json.dumps({"results": [RESULT]}).encode()
    now = int(time.time())
    headers = signed_headers(SECRET, now, body)
    if forgery == "wrong secret":
        headers = signed_headers("attacker-guess-" + "x" * 30, now, body)
    elif forgery == "tampered body":
        body = json.dumps({"results": [RESULT | {"amount_cents": 999999}]}).encode()
    elif forgery == "stale timestamp":  # a captured request replayed 10 minutes later
        headers = signed_headers(SECRET, now - 600, body)
    elif forgery == "future timestamp":
        headers = signed_headers(SECRET, now + 600, body)
    else:
        headers = {}
    resp = await client.post("/integrations/drafts", data=body, headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"error": "invalid signature"}  # no hint which part was wrong
    assert await count(db, ScheduledDraft) == 0
    assert await count(db, Payment) == 0
    assert await count(db, InboundDraftResult) == 0


async def test_a_bad_result_applies_none_of_the_batch(client, db, enrolled):
    bad = RESULT | {"id": "drf-2", "status": "returned"}  # no return code
    resp = await post_signed(client, {"results": [RESULT, bad]})
    assert resp.status == 422
    assert (await resp.json())["problems"] == [
        {"index": 1, "error": "a returned draft needs its NACHA return_code (R01, R02, ...)"}
    ]
    unknown = RESULT | {"id": "drf-3", "account_number": "1000000000"}
    assert (await post_signed(client, {"results": [RESULT, unknown]})).status == 422
    assert await count(db, Payment) == 0 and await count(db, InboundDraftResult) == 0


async def test_without_a_secret_the_endpoint_does_not_exist(
    aiohttp_client, sqlite_url, fake_rasa, tmp_path
):
    from bot.gateway.app import create_app

    client = await aiohttp_client(create_app(gateway_settings(sqlite_url, fake_rasa, tmp_path)))
    assert (await post_signed(client, {"results": [RESULT]}, secret="")).status == 404


async def test_twilio_status_report_is_recorded_against_the_text_we_sent(texter, db):
    async with session_scope(db) as s:
        row = OutboxMessage(
            channel="sms",
            to="+17065550101",
            body="JEC: hello",
            status="failed",
            retryable=True,
            attempts=1,
            error="timed out",
        )
        s.add(row)
        await s.flush()
        oid = row.id
    form = {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered", "To": "+17065550101"}
    resp = await texter.post(f"/sms/twilio/status?outbox={oid}", form)
    assert resp.status == 204
    [row] = await rows(db, OutboxMessage)
    # Twilio had it after all (our call timed out): sent, with its SID and status, never resent
    assert (row.status, row.provider_id, row.delivery_status) == (
        "sent",
        "SM" + "7" * 32,
        "delivered",
    )
    # a later report for the same SID, without the row in the URL, still finds it
    form["MessageStatus"] = "undelivered"
    form["ErrorCode"] = "30003"
    assert (await texter.post("/sms/twilio/status", form)).status == 204
    [row] = await rows(db, OutboxMessage)
    assert (row.delivery_status, row.delivery_error_code) == ("undelivered", "30003")
