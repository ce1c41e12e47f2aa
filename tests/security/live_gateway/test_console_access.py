"""Item 10, as the attack: an agent opening or live-streaming conversations not handed to them.

An agent sees the waiting handoffs and their own; an admin sees every one, read-only; every view
of a transcript or an account summary leaves an audit entry."""

from __future__ import annotations

import asyncio

from gateway.agent_helpers import add_handoff, add_member, sign_in

from bot.services import audit
from bot.store.db import session_scope


async def _toms_conversation(gw, router, agents) -> tuple[int, str]:
    member_id, account_id = await add_member(gw.sessions)
    conv = await gw.store.new_web_conversation()
    await gw.service.accept_member_message(conv, "my neighbour's bill is wrong")
    handoff_id = await add_handoff(
        gw.sessions, conv.id, "web", account_id=account_id, member_id=member_id
    )
    assert await router.take(handoff_id, await router.agent(agents["tom"]))
    return handoff_id, conv.id


async def test_an_agent_cannot_open_a_conversation_another_agent_has(client, agents, router, gw):
    handoff_id, _ = await _toms_conversation(gw, router, agents)
    await sign_in(client, "maria")
    resp = await client.get(f"/console/handoffs/{handoff_id}")
    html = await resp.text()
    assert resp.status == 404
    assert "neighbour" not in html and "Dana Whitfield" not in html and "4821" not in html


async def test_an_agent_cannot_stream_a_conversation_never_escalated(client, agents, gw):
    conv = await gw.store.new_web_conversation()  # a member chatting with the bot, no handoff
    await sign_in(client, "maria")
    resp = await client.get(f"/console/events?conversation={conv.id}")
    assert resp.status == 403
    assert not resp.headers["Content-Type"].startswith("text/event-stream")


async def test_an_agent_cannot_stream_another_agents_conversation(client, agents, router, gw):
    _, conversation_id = await _toms_conversation(gw, router, agents)
    await sign_in(client, "maria")
    resp = await client.get(f"/console/events?conversation={conversation_id}")
    assert resp.status == 403


async def test_the_queue_lists_other_agents_conversations_to_admins_only(
    client, agents, router, gw
):
    await _toms_conversation(gw, router, agents)
    await sign_in(client, "maria")
    html = await (await client.get("/console")).text()
    assert "with Tom" not in html
    client.session.cookie_jar.clear()
    await sign_in(client, "ann")
    assert "with Tom" in await (await client.get("/console")).text()


async def test_an_admin_sees_every_conversation_but_read_only(client, agents, router, gw):
    handoff_id, conversation_id = await _toms_conversation(gw, router, agents)
    csrf = await sign_in(client, "ann")
    resp = await client.get(f"/console/handoffs/{handoff_id}")
    html = await resp.text()
    assert resp.status == 200 and "neighbour" in html
    assert 'id="reply-form"' not in html and "End and hand back" not in html
    reply = await client.post(
        f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "Ann here"}
    )
    assert reply.status == 409
    end = await client.post(f"/console/handoffs/{handoff_id}/end", data={"csrf": csrf})
    assert end.status == 409
    texts = [m.text for m in await gw.store.messages_after(conversation_id, 0)]
    assert "Ann here" not in texts
    assert (await router.handoff(handoff_id)).status == "assigned"


async def test_every_view_of_a_transcript_and_account_summary_is_audit_logged(
    client, agents, router, gw
):
    handoff_id, conversation_id = await _toms_conversation(gw, router, agents)
    await sign_in(client, "tom")
    await client.get(f"/console/handoffs/{handoff_id}")
    await client.get(f"/console/handoffs/{handoff_id}")
    stream = await client.get(f"/console/events?conversation={conversation_id}")
    assert stream.status == 200
    await asyncio.wait_for(stream.content.readline(), 5)
    stream.close()
    async with session_scope(gw.sessions) as session:
        entries = await audit.entries(session, conversation_id=conversation_id)
    seen = [(e.actor, e.action, e.details.get("handoff_id")) for e in entries]
    assert seen.count(("agent:tom", "console.transcript_viewed", handoff_id)) == 2
    assert ("agent:tom", "console.transcript_streamed", handoff_id) in seen
    viewed = next(e for e in entries if e.action == "console.transcript_viewed")
    assert viewed.account_id is not None and viewed.details["account_summary"] is True


async def test_a_waiting_conversation_may_be_read_before_taking_it(client, agents, gw):
    conv = await gw.store.new_web_conversation()
    await gw.service.accept_member_message(conv, "question about my bill")
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    await sign_in(client, "maria")
    resp = await client.get(f"/console/handoffs/{handoff_id}")
    assert resp.status == 200 and "question about my bill" in await resp.text()
