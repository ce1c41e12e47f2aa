"""Handoff routing: queued on the assistant's signal, "never mind", hand back, closing time."""

from __future__ import annotations

import asyncio

from bot.store.models import CallbackRequest, HandoffRequest
from gateway.agent_helpers import (
    MONDAY_10AM,
    MONDAY_AFTER_HOURS,
    add_handoff,
    add_member,
    sign_in,
    text_in,
)
from gateway.helpers import eventually, rows


def queue_reply(handoff_id: int):
    def reply(body):
        if body["message"] == "talk to a person":
            return [
                {"text": "You're number 1 in line, usually about 4 minutes."},
                {"custom": {"handoff": {"status": "queued", "handoff_id": handoff_id}}},
            ]
        return [{"text": f"You said: {body['message']}"}]

    return reply


async def test_the_assistants_handoff_signal_queues_the_conversation_and_silences_the_bot(
    client, gw, router, fake_rasa, sms
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    fake_rasa.reply = queue_reply(handoff_id)
    async with gw.hub.subscribe("console:queue") as console:
        resp = await text_in(client, gw.settings, "talk to a person", sid="SM1")
        assert "number 1 in line" in await resp.text()
        assert (await gw.store.get(conv.id)).mode == "queued"
        event = await asyncio.wait_for(console.get(), 5)
        assert event == {"type": "queue", "reason": "queued", "handoff_id": handoff_id}
        resp = await text_in(client, gw.settings, "hello? anyone there", sid="SM2")
        assert "<Message>" not in await resp.text()
        assert (await asyncio.wait_for(console.get(), 5))["type"] == "member_message"
    assert fake_rasa.messages == ["talk to a person"]


async def test_never_mind_on_the_web_leaves_the_queue_and_the_assistant_answers_again(
    client, gw, router, fake_rasa, db
):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    await gw.store.set_mode(conv.id, "queued")
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": gw.tokens.issue(conv.id), "last_seq": 0})
    await ws.receive_json()
    await ws.send_json({"type": "message", "text": "never mind", "client_id": "n1"})
    for _ in range(10):
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        if frame.get("sender") == "bot":
            break
    assert frame["text"] == "You said: never mind"
    [row] = await rows(db, HandoffRequest)
    assert row.id == handoff_id and row.status == "abandoned"
    assert (await gw.store.get(conv.id)).mode == "bot"
    [resume] = fake_rasa.calls_of("events")
    assert resume == {
        "call": "events",
        "conversation": conv.id,
        "token": "rasa-secret",
        "body": [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
    }
    await ws.close()


async def test_never_mind_by_text_leaves_the_queue_and_the_reply_is_texted(
    client, gw, router, fake_rasa, sms, db
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    await add_handoff(gw.sessions, conv.id, "sms")
    await gw.store.set_mode(conv.id, "queued")
    await text_in(client, gw.settings, "Never mind.", sid="SM9")
    assert await eventually(lambda: _sent(sms, "You said: Never mind."))
    [row] = await rows(db, HandoffRequest)
    assert row.status == "abandoned"
    assert len(fake_rasa.calls_of("events")) == 1


async def _sent(sms, body):
    return any(b == body for _to, b in sms.sent)


async def test_agent_hand_back_resumes_rasa_and_the_bot_speaks_on_sms(
    client, gw, router, agents, fake_rasa, sms, db
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    # while the agent has it, the member's texts reach the agent, not the assistant
    await text_in(client, gw.settings, "my bill doubled", sid="SM3")
    assert fake_rasa.calls == []
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/end", data={"csrf": csrf}, allow_redirects=False
    )
    assert resp.headers["Location"] == "/console?m=ended"
    assert [c["body"] for c in fake_rasa.control] == [
        [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        {"name": "EXTERNAL_agent_handback", "entities": {"agent_name": "Maria"}},
    ]
    assert {c["token"] for c in fake_rasa.control} == {"rasa-secret"}
    assert sms.sent[-2:] == [
        ("+17065550101", "Maria has left the chat."),
        (
            "+17065550101",
            "You're back with the automated assistant. Anything else I can help with?",
        ),
    ]
    [row] = await rows(db, HandoffRequest)
    assert row.status == "ended" and row.ended_at is not None
    # and the assistant answers the next text again
    resp = await text_in(client, gw.settings, "thanks", sid="SM4")
    assert "You said: thanks" in await resp.text()


async def test_hand_back_on_the_web_reaches_the_widget(client, gw, router, agents, fake_rasa):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    maria = await router.agent(agents["maria"])
    assert await router.take(handoff_id, maria)
    async with gw.hub.subscribe(conv.id) as queue:
        assert await router.hand_back(handoff_id, maria)
        texts = [(await asyncio.wait_for(queue.get(), 5))["text"] for _ in range(2)]
    assert texts == [
        "Maria has left the chat.",
        "You're back with the automated assistant. Anything else I can help with?",
    ]
    assert (await gw.store.get(conv.id)).mode == "bot"
    assert not await router.hand_back(handoff_id, maria)  # ending twice does nothing


async def test_hand_back_with_rasa_down_still_returns_the_conversation_to_the_bot(
    client, gw, router, agents, fake_rasa
):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    maria = await router.agent(agents["maria"])
    await router.take(handoff_id, maria)
    await fake_rasa.server.close()
    assert await router.hand_back(handoff_id, maria)
    assert (await gw.store.get(conv.id)).mode == "bot"


async def test_waiting_at_closing_time_gets_an_honest_message_and_a_callback_once(
    client, gw, router, sms, db, clock
):
    sms_conv = await gw.store.get_or_create("sms", "+17065550104")
    await gw.store.set_mode(sms_conv.id, "queued")
    await add_handoff(gw.sessions, sms_conv.id, "sms", topic="payment arrangement")
    _member_id, account_id = await add_member(gw.sessions, phone="+17065550101")
    web_conv = await gw.store.new_web_conversation()
    await add_handoff(gw.sessions, web_conv.id, "web", account_id=account_id)
    anonymous = await gw.store.new_web_conversation()
    await add_handoff(gw.sessions, anonymous.id, "web", tier="public", how=None)

    assert await router.sweep_after_hours(MONDAY_10AM) == 0  # agents are working: nothing happens
    clock.now = MONDAY_AFTER_HOURS
    first, second = await asyncio.gather(router.sweep_after_hours(), router.sweep_after_hours())
    assert first + second == 3  # two sweeps at once handle each conversation once
    assert await router.sweep_after_hours() == 0

    callbacks = await rows(db, CallbackRequest, order_by=CallbackRequest.id)
    assert sorted(c.phone for c in callbacks) == ["+17065550101", "+17065550104"]
    assert {c.topic for c in callbacks} == {"payment arrangement", "high bill"}
    assert all(c.best_time == "tomorrow after 8 AM" for c in callbacks)
    [(to, text)] = sms.sent
    assert to == "+17065550104"
    assert (
        "finished for today" in text and "(706) 555-0104" in text and "tomorrow after 8 AM" in text
    )
    anon_text = (await gw.store.messages_after(anonymous.id, 0))[-1].text
    assert "We open tomorrow at 8 AM" in anon_text and "callback once you've verified" in anon_text
    for conv in (sms_conv, web_conv, anonymous):
        assert (await gw.store.get(conv.id)).mode == "bot"
    assert {r.status for r in await rows(db, HandoffRequest)} == {"abandoned"}
