"""A queue that runs itself: auto-assignment to the least-loaded online agent, the per-agent limit,
"member left" and "member quiet", waiting time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.config import Settings
from bot.store.db import session_scope
from bot.store.models import Agent, HandoffRequest
from gateway.agent_helpers import MONDAY_10AM, add_handoff, sign_in
from gateway.helpers import rows


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, console_auto_assign="on", console_agent_limit=2)


async def online(gw, *agent_ids: int, presence: str = "online", seen=MONDAY_10AM) -> None:
    async with session_scope(gw.sessions) as session:
        await session.execute(
            update(Agent)
            .where(Agent.id.in_(agent_ids))
            .values(presence=presence, last_seen_at=seen)
        )


async def status_of(db, handoff_id: int) -> HandoffRequest:
    [row] = await rows(db, HandoffRequest, HandoffRequest.id == handoff_id)
    return row


async def test_auto_assignment_picks_the_online_agent_with_the_fewest_open_conversations(
    agents, router, gw, db
):
    await online(gw, agents["maria"], agents["tom"])
    busy = await add_handoff(gw.sessions, "web-busy", "web")
    assert await router.take(busy, await router.agent(agents["maria"]))
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    assert await router.auto_assign() == 1
    row = await status_of(db, handoff_id)
    assert row.status == "assigned" and row.agent_id == agents["tom"]  # Maria had one already
    texts = [m.text for m in await gw.store.messages_after(conv.id, 0)]
    assert "Tom from member services has joined the chat." in texts


async def test_away_stale_and_disabled_agents_get_nothing_and_the_limit_holds(
    settings, agents, router, gw, db
):
    from bot.gateway.agents_cli import create_agent

    ann = create_agent(settings, "ann", "Ann Parks", "correct horse battery")
    ben = create_agent(settings, "ben", "Ben Ortiz", "correct horse battery")
    await online(gw, agents["maria"])
    await online(gw, agents["tom"], presence="away")
    await online(gw, ann, seen=MONDAY_10AM - timedelta(minutes=10))  # laptop closed
    await online(gw, ben)
    async with session_scope(gw.sessions) as session:
        await session.execute(update(Agent).where(Agent.id == ben).values(disabled_at=MONDAY_10AM))
    ids = [await add_handoff(gw.sessions, f"web-{i}", "web") for i in range(3)]
    assert await router.auto_assign() == 2  # Maria's limit is 2
    given = [await status_of(db, i) for i in ids]
    assert [r.agent_id for r in given[:2]] == [agents["maria"]] * 2
    assert given[2].status == "waiting"  # oldest first; the third waits for room
    # Maria hands one back: the third is hers now
    await router.hand_back(ids[0], await router.agent(agents["maria"]))
    assert (await status_of(db, ids[2])).agent_id == agents["maria"]


async def test_a_new_queued_conversation_is_given_out_at_once(client, agents, gw, db, fake_rasa):
    await online(gw, agents["tom"])
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    fake_rasa.reply = lambda body: [
        {"text": "Connecting you."},
        {"custom": {"handoff": {"status": "queued", "handoff_id": handoff_id}}},
    ]
    await gw.service.bot_turn(conv, "talk to a person", {"channel": "web"})
    row = await status_of(db, handoff_id)
    assert row.status == "assigned" and row.agent_id == agents["tom"]


async def test_off_by_default(agents, router, gw, db):
    gw_settings = replace(gw.settings, console_auto_assign="off")
    object.__setattr__(gw, "settings", gw_settings)
    await online(gw, agents["tom"])
    handoff_id = await add_handoff(gw.sessions, "web-x", "web")
    assert await router.auto_assign() == 0
    assert (await status_of(db, handoff_id)).status == "waiting"


async def test_end_chat_while_waiting_leaves_the_queue_and_with_an_agent_shows_member_left(
    client, agents, router, gw, db
):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    handoff_id = await add_handoff(gw.sessions, welcome["conversation_id"], "web")
    await router.take(handoff_id, await router.agent(agents["maria"]))
    await ws.send_json({"type": "end"})
    await ws.close()
    for _ in range(50):
        if (await status_of(db, handoff_id)).member_left_at is not None:
            break
        await asyncio.sleep(0.05)
    assert (await status_of(db, handoff_id)).status == "assigned"
    await sign_in(client, "maria")
    home = await (await client.get("/console")).text()
    assert "Member left" in home
    page = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    assert 'id="member-left" class="notice" role="status">' in page  # shown, not hidden

    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    other = await asyncio.wait_for(ws.receive_json(), 5)
    waiting_id = await add_handoff(gw.sessions, other["conversation_id"], "web")
    await ws.send_json({"type": "end"})
    await ws.close()
    for _ in range(50):
        if (await status_of(db, waiting_id)).status != "waiting":
            break
        await asyncio.sleep(0.05)
    assert (await status_of(db, waiting_id)).status == "abandoned"


async def test_queue_shows_a_member_gone_quiet(client, agents, gw, clock):
    conv = await gw.store.new_web_conversation()
    await add_handoff(gw.sessions, conv.id, "web")
    await online(gw, agents["maria"], presence="away")
    await sign_in(client, "maria")
    clock.advance(minutes=12)
    html = await (await client.get("/console/queue")).text()
    assert "Member quiet for 12 min" in html and "12 min" in html
