"""The web chat WebSocket protocol (docs/gateway-protocol.md), the page and /health."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.gateway.state import GATEWAY
from bot.store.models import ConversationMessage
from gateway.helpers import count, eventually, rows


async def receive_until(ws: Any, predicate, limit: int = 20) -> list[dict[str, Any]]:
    """Frames received up to and including the first one matching `predicate`."""
    frames: list[dict[str, Any]] = []
    for _ in range(limit):
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"no matching frame in {frames}")


def is_bot_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["sender"] in ("bot", "system", "agent")


async def hello(client, token: str | None = None, last_seq: int = 0):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": token, "last_seq": last_seq})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def test_hello_without_a_token_starts_a_conversation_and_gets_a_token(client):
    ws, welcome = await hello(client)
    assert welcome["conversation_id"].startswith("web-")
    assert welcome["token"]
    await ws.close()
    # the token resumes the same conversation
    ws, again = await hello(client, welcome["token"])
    assert again["conversation_id"] == welcome["conversation_id"]
    await ws.close()


async def test_a_forged_token_gets_a_fresh_conversation(client):
    ws, first = await hello(client)
    await ws.close()
    ws, forged = await hello(client, first["token"][:-3] + "xyz")
    assert forged["conversation_id"] != first["conversation_id"]
    await ws.close()


async def test_member_message_is_acknowledged_and_the_bot_reply_is_pushed(client, fake_rasa, db):
    fake_rasa.reply = lambda body: [
        {
            "text": "Hi! How can I help?",
            "buttons": [{"title": "Check balance", "payload": "/check_balance"}],
        }
    ]
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "hello", "client_id": "c-1"})
    frames = await receive_until(ws, is_bot_message)
    types = [f["type"] for f in frames]
    assert {"type": "ack", "client_id": "c-1", "seq": 1} in frames
    assert "typing" in types
    reply = frames[-1]
    assert reply["seq"] == 2 and reply["sender"] == "bot" and reply["text"] == "Hi! How can I help?"
    assert reply["buttons"] == [{"title": "Check balance", "payload": "/check_balance"}]
    assert reply["at"].endswith("+00:00")
    assert fake_rasa.calls == [
        {
            "sender": welcome["conversation_id"],
            "message": "hello",
            "metadata": {"channel": "web", "client_ip": "127.0.0.1"},
        }
    ]
    await ws.close()


async def test_quick_reply_button_sends_its_payload_to_rasa_and_its_title_to_the_transcript(
    client, fake_rasa, db
):
    fake_rasa.reply = lambda body: [
        {"text": "Hi!", "buttons": [{"title": "Check balance", "payload": "/check_balance"}]}
    ]
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "hi", "client_id": "b0"})
    await receive_until(ws, is_bot_message)  # the assistant offers the button
    await ws.send_json(
        {"type": "message", "text": "Check balance", "payload": "/check_balance", "client_id": "b1"}
    )
    await receive_until(ws, lambda f: is_bot_message(f) and f["seq"] > 2)
    assert fake_rasa.messages == ["hi", "/check_balance"]
    [_, inbound] = await rows(
        db,
        ConversationMessage,
        ConversationMessage.direction == "in",
        order_by=ConversationMessage.seq,
    )
    assert inbound.text == "Check balance"
    await ws.close()


async def test_reconnect_replays_missed_replies_in_order_exactly_once(client, fake_rasa):
    fake_rasa.delay = 0.3
    fake_rasa.reply = lambda body: [{"text": "first"}, {"text": "second"}, {"text": "third"}]
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "tell me three things", "client_id": "c-1"})
    await receive_until(ws, lambda f: f["type"] == "ack")
    await ws.close()  # connection drops before the bot answers
    gw = client.app[GATEWAY]
    conv_id = welcome["conversation_id"]
    await eventually(lambda: _outbound_count(gw, conv_id, 3))

    ws, _again = await hello(client, welcome["token"], last_seq=1)
    replayed = await receive_until(ws, lambda f: f.get("text") == "third")
    assert [(f["seq"], f["text"]) for f in replayed] == [(2, "first"), (3, "second"), (4, "third")]
    # nothing is sent twice: the next frame is the answer to a new message, not a repeat
    fake_rasa.delay = 0
    fake_rasa.reply = lambda body: [{"text": "fourth"}]
    await ws.send_json({"type": "message", "text": "more", "client_id": "c-2"})
    later = await receive_until(ws, lambda f: f.get("text") == "fourth")
    assert [f["seq"] for f in later if f["type"] == "message"] == [5, 6]
    await ws.close()


async def _outbound_count(gw, conv_id: str, n: int) -> bool:
    return len([m for m in await gw.store.messages_after(conv_id, 0) if m.direction == "out"]) >= n


async def test_reload_with_last_seq_zero_replays_the_whole_transcript(client, fake_rasa):
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "hi", "client_id": "a"})
    await receive_until(ws, is_bot_message)
    await ws.close()
    ws, _ = await hello(client, welcome["token"], last_seq=0)
    frames = await receive_until(ws, is_bot_message)
    assert [(f["sender"], f["text"], f.get("client_id")) for f in frames] == [
        ("member", "hi", "a"),
        ("bot", "You said: hi", None),
    ]
    await ws.close()


async def test_resend_with_the_same_client_id_after_reconnect_is_not_duplicated(
    client, fake_rasa, db
):
    ws, welcome = await hello(client)
    await ws.send_json({"type": "message", "text": "pay my bill", "client_id": "same-id"})
    first = await receive_until(ws, lambda f: f["type"] == "ack")
    await ws.close()
    ws, _ = await hello(client, welcome["token"], last_seq=first[-1]["seq"])
    await ws.send_json({"type": "message", "text": "pay my bill", "client_id": "same-id"})
    again = await receive_until(ws, lambda f: f["type"] == "ack")
    assert again[-1]["seq"] == first[-1]["seq"]
    await asyncio.sleep(0.2)
    assert fake_rasa.messages == ["pay my bill"]
    assert await count(db, ConversationMessage, ConversationMessage.direction == "in") == 1
    await ws.close()


async def test_assistant_down_gets_a_friendly_reply_and_the_message_is_stored(
    client, fake_rasa, db
):
    fake_rasa.fail = True
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "is there an outage in Wrens", "client_id": "x"})
    reply = (await receive_until(ws, is_bot_message))[-1]
    assert reply["sender"] == "system"
    assert (
        reply["text"].startswith("Sorry, I'm having trouble right now.")
        and "1-800-262-5131" in reply["text"]
    )
    [inbound] = await rows(db, ConversationMessage, ConversationMessage.direction == "in")
    assert inbound.text == "is there an outage in Wrens"
    await ws.close()


async def test_card_number_in_web_chat_is_masked_before_rasa_and_the_database(
    client, fake_rasa, db
):
    ws, _ = await hello(client)
    await ws.send_json(
        {"type": "message", "text": "card 5555-5555-5555-4444 please", "client_id": "m"}
    )
    frames = await receive_until(ws, lambda f: f.get("sender") == "bot")
    echoed = [f for f in frames if f["type"] == "message" and f["sender"] == "member"]
    notice = [f for f in frames if f["type"] == "message" and f["sender"] == "system"]
    assert "5555-5555-5555-4444" not in echoed[0]["text"] and echoed[0]["text"].endswith(
        "4444 please"
    )
    assert (
        "didn't keep that card number" in notice[0]["text"] and "secure page" in notice[0]["text"]
    )
    assert "5555-5555-5555" not in str(fake_rasa.calls) and "5555555555554444" not in str(
        fake_rasa.calls
    )
    for message in await rows(db, ConversationMessage):
        assert "5555-5555-5555" not in message.text
    await ws.close()


async def test_agent_mode_keeps_the_assistant_silent_and_agent_replies_reach_the_widget(
    client, fake_rasa, db
):
    ws, welcome = await hello(client)
    gw = client.app[GATEWAY]
    conv_id = welcome["conversation_id"]
    await gw.store.set_mode(conv_id, "agent")
    await ws.send_json({"type": "message", "text": "are you a person?", "client_id": "p"})
    await receive_until(ws, lambda f: f["type"] == "ack")
    conv = await gw.store.get(conv_id)
    await gw.service.post_outbound(conv, "agent", "Yes, this is Maria.", {"agent_name": "Maria"})
    frame = (await receive_until(ws, lambda f: f.get("sender") == "agent"))[-1]
    assert frame["text"] == "Yes, this is Maria." and frame["agent_name"] == "Maria"
    assert fake_rasa.calls == []
    await ws.close()


async def test_health_reports_database_and_rasa(client, fake_rasa):
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok", "rasa": "ok"}
    await fake_rasa.server.close()
    body = await (await client.get("/health")).json()
    assert body == {"status": "degraded", "database": "ok", "rasa": "unreachable"}


async def test_demo_page_and_widget_files_are_served(client):
    page = await client.get("/")
    assert page.status == 200
    html = await page.text()
    assert 'src="/static/widget.js"' in html and "data-gateway" in html
    for path in ("/static/widget.js", "/static/widget.css"):
        assert (await client.get(path)).status == 200
