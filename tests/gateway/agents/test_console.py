"""The agent console: sign-in, CSRF, session expiry, the take race, replies, transfer, presence."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.gateway.agents_cli import AgentError, create_agent
from bot.gateway.console.auth import SESSION_COOKIE
from bot.store.models import Agent, CallbackRequest, HandoffRequest, ServiceRequest
from gateway.agent_helpers import PASSWORD, add_handoff, add_member, hidden_csrf, sign_in
from gateway.helpers import rows

# ------------------------------------------------------------------ sign-in


async def test_agent_password_is_stored_as_an_argon2_hash_only(settings, agents, db):
    [maria] = await rows(db, Agent, Agent.username == "maria")
    assert maria.password_hash.startswith("$argon2id$")
    assert PASSWORD not in maria.password_hash
    with pytest.raises(AgentError):
        create_agent(settings, "maria", "Maria Again", PASSWORD)
    with pytest.raises(AgentError):
        create_agent(settings, "shorty", "Short Password", "abc")


async def test_wrong_password_is_refused_with_the_same_words_as_an_unknown_user(client, agents):
    page = await client.get("/console/login")
    token = hidden_csrf(await page.text())
    wrong = await client.post(
        "/console/login", data={"csrf": token, "username": "maria", "password": "nope"}
    )
    assert wrong.status == 401
    unknown = await client.post(
        "/console/login",
        data={"csrf": hidden_csrf(await wrong.text()), "username": "nobody", "password": "nope"},
    )
    assert unknown.status == 401
    assert "username and password don&#x27;t match" in await wrong.text()
    assert "username and password don&#x27;t match" in await unknown.text()
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_sign_in_without_the_csrf_token_is_forbidden(client, agents):
    await client.get("/console/login")
    resp = await client.post("/console/login", data={"username": "maria", "password": PASSWORD})
    assert resp.status == 403


def test_session_cookie_is_http_only_same_site_and_secure_on_https(settings):
    from dataclasses import replace

    from aiohttp import web

    from bot.gateway.console.auth import SessionCodec, new_session
    from gateway.agent_helpers import MONDAY_10AM

    for base, secure in (("https://chat.jec.example", True), ("http://127.0.0.1:8080", False)):
        response = web.Response()
        SessionCodec(replace(settings, public_base_url=base)).write(
            response, new_session(1, MONDAY_10AM)
        )
        cookie = response.cookies[SESSION_COOKIE]
        assert (
            cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
        )
        assert bool(cookie["secure"]) is secure


async def test_a_post_without_the_session_csrf_token_is_forbidden(client, agents, gw, db):
    await sign_in(client, "maria")
    handoff_id = await add_handoff(gw.sessions, "web-abc", "web")
    resp = await client.post(f"/console/handoffs/{handoff_id}/take", data={})
    assert resp.status == 403
    resp = await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": "forged"})
    assert resp.status == 403
    [row] = await rows(db, HandoffRequest)
    assert row.status == "waiting"


async def test_thirty_minutes_without_activity_signs_the_agent_out(client, agents, clock):
    await sign_in(client, "maria")
    clock.advance(minutes=29)
    assert (await client.get("/console")).status == 200  # activity: the clock restarts
    clock.advance(minutes=29)
    assert (await client.get("/console")).status == 200
    clock.advance(minutes=31)
    resp = await client.get("/console", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/console/login?expired=1"
    page = await client.get("/console/login?expired=1")
    assert "signed out after 30 minutes" in await page.text()


async def test_sign_out_marks_the_agent_offline(client, agents, db):
    csrf = await sign_in(client, "maria")
    [maria] = await rows(db, Agent, Agent.username == "maria")
    assert maria.presence == "online"
    await client.post("/console/logout", data={"csrf": csrf})
    [maria] = await rows(db, Agent, Agent.username == "maria")
    assert maria.presence == "offline"
    assert (await client.get("/console", allow_redirects=False)).status == 303


# ------------------------------------------------------------------ queue and take


async def test_queue_shows_waiting_time_channel_identity_and_topic(
    client, agents, router, clock, gw
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    await add_handoff(
        gw.sessions,
        conv.id,
        "sms",
        topic="high bill",
        tier="verified",
        how="phone on file + ZIP",
    )
    clock.advance(minutes=7)
    await sign_in(client, "maria")
    html = await (await client.get("/console")).text()
    assert "7 min" in html and "SMS" in html and "high bill" in html
    assert "Verified" in html and "phone on file + ZIP" in html


async def test_two_agents_taking_one_conversation_at_once_exactly_one_wins(
    aiohttp_client, client, agents, router, gw, db
):
    conv = await gw.store.new_web_conversation()
    await gw.store.set_mode(conv.id, "queued")
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    other = await aiohttp_client(client.server)  # a second browser: its own cookie jar
    maria_csrf = await sign_in(client, "maria")
    tom_csrf = await sign_in(other, "tom")
    a, b = await asyncio.gather(
        client.post(
            f"/console/handoffs/{handoff_id}/take", data={"csrf": maria_csrf}, allow_redirects=False
        ),
        other.post(
            f"/console/handoffs/{handoff_id}/take", data={"csrf": tom_csrf}, allow_redirects=False
        ),
    )
    assert {a.headers["Location"], b.headers["Location"]} == {
        "/console?m=lost",
        f"/console/handoffs/{handoff_id}?m=taken",
    }
    [row] = await rows(db, HandoffRequest)
    assert row.status == "assigned" and row.agent_id in (agents["maria"], agents["tom"])
    assert (await gw.store.get(conv.id)).mode == "agent"
    joined = [m for m in await gw.store.messages_after(conv.id, 0) if "joined the chat" in m.text]
    assert len(joined) == 1


async def test_take_race_many_times_over(router, agents, gw):
    for _ in range(5):
        conv = await gw.store.new_web_conversation()
        handoff_id = await add_handoff(gw.sessions, conv.id, "web")
        maria, tom = await router.agent(agents["maria"]), await router.agent(agents["tom"])
        results = await asyncio.gather(
            *[router.take(handoff_id, agent) for agent in (maria, tom, maria, tom)]
        )
        assert results.count(True) == 1


# ------------------------------------------------------------------ replies on the member's channel


async def test_agent_reply_reaches_an_sms_member_by_text_labelled_with_the_first_name(
    client, agents, router, gw, sms
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/reply",
        data={"csrf": csrf, "text": "Hi Dana, I can see your bill. One moment."},
    )
    assert resp.status == 200
    assert ("+17065550101", "Maria Lopez from member services has joined the chat.") not in sms.sent
    assert sms.sent[-1] == ("+17065550101", "Hi Dana, I can see your bill. One moment.")
    last = (await gw.store.messages_after(conv.id, 0))[-1]
    assert last.sender == "agent" and last.payload["agent_name"] == "Maria"


async def test_agent_reply_reaches_a_web_member_through_the_hub(client, agents, router, gw):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    csrf = await sign_in(client, "tom")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    async with gw.hub.subscribe(conv.id) as queue:
        await client.post(
            f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "Hello, Tom here."}
        )
        event = await asyncio.wait_for(queue.get(), 5)
    assert (
        event["sender"] == "agent"
        and event["agent_name"] == "Tom"
        and event["text"] == "Hello, Tom here."
    )


async def test_an_agent_cannot_answer_a_conversation_another_agent_has(client, agents, router, gw):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    await router.take(handoff_id, await router.agent(agents["tom"]))
    csrf = await sign_in(client, "maria")
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "me too"}
    )
    assert resp.status == 409
    assert not [m for m in await gw.store.messages_after(conv.id, 0) if m.text == "me too"]


async def test_card_number_typed_by_an_agent_is_masked_too(client, agents, router, gw):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    await client.post(
        f"/console/handoffs/{handoff_id}/reply",
        data={"csrf": csrf, "text": "Is it 4111 1111 1111 1111?"},
    )
    texts = [m.text for m in await gw.store.messages_after(conv.id, 0)]
    assert not any("4111 1111 1111 1111" in t for t in texts)


async def test_conversation_page_shows_the_masked_transcript_and_the_account_summary(
    client, agents, router, gw
):
    member_id, account_id = await add_member(gw.sessions)
    conv = await gw.store.new_web_conversation()
    await gw.service.accept_member_message(conv, "my card is 4111 1111 1111 1111")
    handoff_id = await add_handoff(
        gw.sessions, conv.id, "web", account_id=account_id, member_id=member_id
    )
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    html = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    assert "4111 1111 1111 1111" not in html and "my card is 4111" in html
    assert "ending 4821" in html and "412 Mill St, Wrens" in html and "Dana Whitfield" in html
    assert "Reply as Maria" in html and "End and hand back" in html


async def test_transfer_passes_the_conversation_to_another_agent(client, agents, router, gw, db):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/transfer",
        data={"csrf": csrf, "agent_id": str(agents["tom"])},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/console"
    [row] = await rows(db, HandoffRequest)
    assert row.agent_id == agents["tom"] and row.status == "assigned"
    notice = (await gw.store.messages_after(conv.id, 0))[-1]
    assert "passed your chat to Tom" in notice.text
    # Maria no longer answers it
    bad = await client.post(
        f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "hi"}
    )
    assert bad.status == 409


# ---------------------------------------------- presence, callbacks, service requests


async def test_presence_and_heartbeat_update_the_agent_row(client, agents, clock, db):
    csrf = await sign_in(client, "maria")
    await client.post("/console/presence", data={"csrf": csrf, "presence": "away"})
    [maria] = await rows(db, Agent, Agent.username == "maria")
    assert maria.presence == "away"
    clock.advance(minutes=3)
    resp = await client.post("/console/heartbeat", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    [maria] = await rows(db, Agent, Agent.username == "maria")
    assert maria.last_seen_at == clock.now
    assert (await client.post("/console/heartbeat")).status == 403  # no CSRF header


async def test_callbacks_and_service_requests_are_listed_and_marked_done(
    client, agents, gw, clock, db
):
    from datetime import date

    from bot.store.db import session_scope

    async with session_scope(gw.sessions) as session:
        session.add(
            CallbackRequest(
                channel="web",
                phone="+17065550102",
                name="Earl",
                topic="payment arrangement",
                best_time="after 2 PM",
                verified_tier="verified",
                status="open",
                created_at=clock.now,
            )
        )
        session.add(
            ServiceRequest(
                reference="S-1001",
                kind="stop",
                requested_date=date(2026, 12, 15),
                channel="sms",
                status="open",
                created_at=clock.now,
            )
        )
    csrf = await sign_in(client, "maria")
    html = await (await client.get("/console")).text()
    assert "payment arrangement" in html and "S-1001" in html
    [callback] = await rows(db, CallbackRequest)
    [request] = await rows(db, ServiceRequest)
    await client.post(f"/console/callbacks/{callback.id}/done", data={"csrf": csrf})
    await client.post(f"/console/service-requests/{request.id}/done", data={"csrf": csrf})
    [callback] = await rows(db, CallbackRequest)
    [request] = await rows(db, ServiceRequest)
    assert (callback.status, callback.done_by) == ("done", "maria")
    assert (request.status, request.done_by) == ("done", "maria")
    html = await (await client.get("/console")).text()
    assert "payment arrangement" not in html and "S-1001" not in html


async def test_live_events_stream_tells_the_console_about_the_queue(client, agents, router, gw):
    await sign_in(client, "maria")
    resp = await client.get("/console/events")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert (await resp.content.readline()).startswith(b": connected")
    await resp.content.readline()
    router.queue_changed("queued", 7)
    line = await asyncio.wait_for(resp.content.readline(), 5)
    assert line.startswith(b"data: ") and b'"handoff_id": 7' in line
    resp.close()


def test_create_agent_prompts_for_the_password_when_none_is_given(
    settings: Settings, monkeypatch, sqlite_url
):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    agent_id = create_agent(settings, "Ann.Lee", "Ann Lee", None, admin=True)
    from bot.store.db import make_sync_engine

    engine = make_sync_engine(sqlite_url)
    with engine.connect() as conn:
        row = conn.execute(select(Agent.username, Agent.is_admin).where(Agent.id == agent_id)).one()
    engine.dispose()
    assert tuple(row) == ("ann.lee", True)
