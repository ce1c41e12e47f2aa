"""Liveness, readiness and Prometheus metrics on the gateway, as an orchestrator and Prometheus
see them (docs/operations.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.gateway.state import GATEWAY
from bot.store.db import session_scope
from bot.store.models import (
    Account,
    HandoffRequest,
    Member,
    OutboxMessage,
    Payment,
    SecurityLock,
    VerificationAttempt,
)


async def test_livez_answers_even_with_every_dependency_down(client, fake_rasa, fake_actions):
    await fake_rasa.server.close()
    await fake_actions.close()
    resp = await client.get("/livez")
    assert resp.status == 200
    assert await resp.json() == {"status": "alive"}


async def test_readyz_is_ready_when_database_rasa_and_actions_answer(client):
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ready" and body["down"] == []
    assert body["checks"] == {"database": "ok", "rasa": "ok", "actions": "ok"}


async def test_readyz_is_503_naming_rasa_when_rasa_is_down(client, fake_rasa):
    await fake_rasa.server.close()
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "not ready"
    assert body["down"] == ["rasa"]
    assert body["checks"]["database"] == "ok"
    # the old combined view keeps its meaning: messages are still stored, so 200 "degraded"
    health = await client.get("/health")
    assert health.status == 200 and (await health.json())["status"] == "degraded"


async def test_readyz_names_the_action_server_when_it_is_down(client, fake_actions):
    await fake_actions.close()
    body = await (await client.get("/readyz")).json()
    assert body["down"] == ["actions"]


async def test_readyz_checks_redis_only_when_configured_and_names_it_down(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["down"] == ["redis"]


async def test_readyz_with_a_working_redis(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:6379/0")
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["redis"] == "ok"


async def test_ready_checks_setting_drops_the_action_server_check(make_client, fake_actions):
    await fake_actions.close()
    client = await make_client(ready_checks=("database", "rasa"))
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert set((await resp.json())["checks"]) == {"database", "rasa"}


async def _ws_turn(client, text: str) -> None:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    await asyncio.wait_for(ws.receive_json(), 5)
    await ws.send_json({"type": "message", "text": text, "client_id": "c1"})
    for _ in range(10):
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        if frame["type"] == "message" and frame["sender"] in ("bot", "system"):
            break
    await ws.close()


def _sample(text: str, metric: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format."""
    wanted = metric + (
        "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
    )
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return None


async def test_metrics_count_turns_by_channel_and_rasa_errors(client, fake_rasa):
    await _ws_turn(client, "hello")
    fake_rasa.fail = True
    await _ws_turn(client, "hello again")
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert _sample(text, "jec_turn_seconds_count", channel="web") == 2
    assert _sample(text, "jec_rasa_errors_total") == 1
    assert _sample(text, "jec_dependency_up", name="rasa") == 1
    await fake_rasa.server.close()
    text = await (await client.get("/metrics")).text()
    assert _sample(text, "jec_dependency_up", name="rasa") == 0


async def test_metrics_read_payments_texts_locks_and_queues_from_the_database(client):
    gw = client.app[GATEWAY]
    now = datetime.now(UTC)
    async with session_scope(gw.sessions) as s:
        s.add(Member(id=1, member_number="M1", first_name="Dana", last_name="Whitfield"))
        s.add(
            Account(
                id=1,
                account_number="1000004821",
                member_id=1,
                service_street="1 Main St",
                service_town="Wrens",
                service_zip="30833",
            )
        )
        await s.flush()
        s.add_all(
            [
                _payment(1, "succeeded", now),
                _payment(2, "succeeded", now),
                _payment(3, "declined", now),
                OutboxMessage(channel="sms", to="+17065550101", body="x", status="sent"),
                OutboxMessage(channel="sms", to="+17065550101", body="x", status="failed"),
                VerificationAttempt(
                    conversation_id="c", account_key="k", method="zip", success=False
                ),
                SecurityLock(
                    scope="account",
                    key="k",
                    reason="verify",
                    locked_at=now,
                    until=now + timedelta(minutes=30),
                ),
                HandoffRequest(
                    conversation_id="c", channel="web", created_at=now - timedelta(minutes=4)
                ),
                HandoffRequest(
                    conversation_id="d",
                    channel="sms",
                    status="assigned",
                    created_at=now - timedelta(minutes=3),
                    assigned_at=now - timedelta(minutes=1),
                ),
            ]
        )
    text = await (await client.get("/metrics")).text()
    assert _sample(text, "jec_payments", outcome="succeeded") == 2
    assert _sample(text, "jec_payments", outcome="declined") == 1
    assert _sample(text, "jec_texts_15m", status="failed") == 1
    assert _sample(text, "jec_texts", status="sent") == 1
    assert _sample(text, "jec_verification_failures_15m") == 1
    assert _sample(text, "jec_security_locks_active", scope="account") == 1
    assert _sample(text, "jec_security_locks_15m") == 1
    assert _sample(text, "jec_handoff_waiting") == 1
    assert 230 < (_sample(text, "jec_handoff_oldest_wait_seconds") or 0) < 300
    assert _sample(text, "jec_handoff_wait_seconds_avg_15m") == 120
    assert _sample(text, "jec_agents_online") == 0
    assert _sample(text, "jec_sms_undelivered") == 0


def _payment(n: int, status: str, now: datetime) -> Payment:
    return Payment(
        account_id=1,
        amount_cents=1000,
        method_label="Visa ending 4242",
        status=status,
        idempotency_key=f"k{n}",
        channel="web",
        created_at=now,
    )


async def test_metrics_refuse_a_request_through_a_proxy(client):
    # behind the TLS proxy every caller's peer address is the proxy's loopback address
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 403
    assert "jec_" not in await resp.text()


async def test_metrics_token_is_required_when_set(make_client):
    client = await make_client(metrics_token="m" * 40)
    assert (await client.get("/metrics")).status == 403
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
    assert wrong.status == 403
    right = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert right.status == 200


async def test_metrics_refuse_peers_outside_the_allowed_networks(make_client):
    client = await make_client(metrics_allow=("10.0.0.0/8",))
    assert (await client.get("/metrics")).status == 403


async def test_every_response_carries_a_request_id(client):
    resp = await client.get("/livez")
    assert len(resp.headers["X-Request-ID"]) == 32
    given = await client.get("/livez", headers={"X-Request-ID": "proxy-req-12345678"})
    assert given.headers["X-Request-ID"] == "proxy-req-12345678"
    # a caller cannot put spaces or quotes into every log line's request id
    forged = await client.get("/livez", headers={"X-Request-ID": 'x" level="ERROR'})
    assert len(forged.headers["X-Request-ID"]) == 32
