"""Floods at the gateway's edge (docs/security.md, items 12 and 19) and the client's address.

Nothing limited chat messages, new conversations or connections: a script could open thousands
of chats from one address and queue unbounded work. Now each is limited (the `limits` library;
Redis when configured), the member is told to slow down, and the address a turn is counted under
is the trusted proxy's forwarded one.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis
from aiohttp import WSMsgType

from bot.config import Settings
from bot.gateway.ratelimits import EdgeLimits
from tests.security.edge_helpers import Chat, bot_reply, start_gateway


def slow_down_notice(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and "seq" not in frame and frame["sender"] == "system"


async def test_a_connection_over_its_message_budget_is_told_to_slow_down(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, rate_messages_per_connection="5/minute"
    )
    chat = await Chat.open(gw.client)
    for i in range(8):
        # one at a time (each answered or refused before the next), so the budget is what
        # refuses, not the cap on messages still waiting for the assistant
        await chat.send(f"message {i}")
        await chat.until(lambda f: f.get("error") == "rate_limited" or bot_reply(f))
    await asyncio.sleep(1.0)
    await chat.ws.send_json({"type": "ping"})
    await chat.until(lambda f: f["type"] == "pong")
    acks = [f for f in chat.frames if f["type"] == "ack"]
    limited = [f for f in chat.frames if f.get("error") == "rate_limited"]
    notices = [f for f in chat.frames if slow_down_notice(f)]
    assert len(acks) == 5 and len(limited) == 3
    assert len(notices) == 3 and "faster than I can answer" in notices[0]["text"]
    assert len(gw.rasa.calls) == 5
    assert not chat.ws.closed  # told, not dropped
    await chat.close()


async def test_new_conversations_from_one_address_are_capped(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, rate_new_conversations_per_address="3/hour"
    )
    chats = [await Chat.open(gw.client) for _ in range(3)]
    ws = await gw.client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    notice = await asyncio.wait_for(ws.receive_json(), 5)
    assert notice["sender"] == "system" and "Too many chats" in notice["text"]
    assert "(706) 547-2167" in notice["text"]  # member services, from the profile
    while (await asyncio.wait_for(ws.receive(), 5)).type == WSMsgType.TEXT:
        pass
    assert ws.close_code == 4429
    # a member resuming an existing chat is not a new conversation
    again = await Chat.open(gw.client, chats[0].welcome["token"])
    assert again.welcome["conversation_id"] == chats[0].welcome["conversation_id"]
    for chat in (*chats, again):
        await chat.close()


async def test_open_connections_per_address_are_capped(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, max_connections_per_address=2
    )
    first, second = await Chat.open(gw.client), await Chat.open(gw.client)
    ws = await gw.client.ws_connect("/ws")
    notice = await asyncio.wait_for(ws.receive_json(), 5)
    assert "Too many chats" in notice["text"]
    while (await asyncio.wait_for(ws.receive(), 5)).type == WSMsgType.TEXT:
        pass
    assert ws.close_code == 4429
    await first.close()
    await asyncio.sleep(0.1)
    third = await Chat.open(gw.client)  # a place is free again
    await third.send("hello")
    assert (await third.until(bot_reply))["text"] == "You said: hello"
    await second.close()
    await third.close()


async def test_waiting_turns_per_conversation_are_bounded(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(aiohttp_client, aiohttp_server, tmp_path, max_pending_turns=2)
    gw.rasa.delay = 1.0
    chat = await Chat.open(gw.client)
    for i in range(5):
        await chat.send(f"question {i}")
    notice = await chat.until(slow_down_notice)
    assert "still working on your earlier messages" in notice["text"]
    await asyncio.sleep(2.5)
    assert len(gw.rasa.calls) == 2
    gw.rasa.delay = 0
    await chat.send("and now?")  # the slots are free again once the answers are in
    await chat.until(lambda f: bot_reply(f) and f["text"] == "You said: and now?")
    await chat.close()


async def test_a_phone_over_its_text_budget_is_told_to_slow_down(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, rate_texts_per_phone="3/minute"
    )
    answers = [(await gw.texter.text(f"question {i}"))[1] for i in range(5)]
    assert all(a and a[0].startswith("You said:") for a in answers[:3])
    assert all(a and "faster than I can answer" in a[-1] for a in answers[3:])
    assert len(gw.rasa.calls) == 3
    status, other = await gw.texter.text("hello", from_number="+17065550102")
    assert other == ["You said: hello"]  # another member is not affected


async def test_the_client_address_is_the_trusted_proxys_forwarded_one(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client,
        aiohttp_server,
        tmp_path,
        trusted_proxies=("127.0.0.1",),
        rate_new_conversations_per_address="1/hour",
    )
    # The left entry is the client's to forge; the proxy appends the address it saw.
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    chat = await Chat.open(gw.client, headers=headers)
    await chat.send("hello")
    await chat.until(bot_reply)
    assert gw.rasa.calls[0]["metadata"]["client_ip"] == "203.0.113.9"
    # another forwarded address has its own budget; the same one has used its budget up
    other = await Chat.open(gw.client, headers={"X-Forwarded-For": "203.0.113.10"})
    ws = await gw.client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    assert "Too many chats" in (await asyncio.wait_for(ws.receive_json(), 5))["text"]
    await ws.close()
    await chat.close()
    await other.close()


async def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(aiohttp_client, aiohttp_server, tmp_path)
    chat = await Chat.open(gw.client, headers={"X-Forwarded-For": "203.0.113.9"})
    await chat.send("hello")
    await chat.until(bot_reply)
    assert gw.rasa.calls[0]["metadata"]["client_ip"] == "127.0.0.1"
    await chat.close()


async def test_limits_are_shared_through_redis_where_configured(redis_url: str) -> None:
    prefix = f"jec-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=redis_url, rate_messages_per_connection="3/hour")
    replica_a = EdgeLimits(settings, key_prefix=prefix)
    replica_b = EdgeLimits(settings, key_prefix=prefix)
    try:
        hits = [await (replica_a if i % 2 else replica_b).message("conn-1") for i in range(5)]
        assert hits == [True, True, True, False, False]
    finally:
        client = aioredis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_a_storm_of_numbers_does_not_set_the_limiter_spinning_on_the_event_loop(
    monkeypatch: Any,
) -> None:
    """A storm night: 2,000 phones text once each. The moving-window memory storage kept every
    hit and expired them with one thread hop per phone, pass after pass, for as long as any hit
    was recent: the event loop spent its time there and webhooks waited seconds. The limits
    still refuse the 11th text in a minute, and the loop stays free."""
    hops = 0
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)
    limits = EdgeLimits(Settings(redis_url="", rate_texts_per_phone="10/minute"))
    try:
        for i in range(2000):
            assert await limits.text(f"+1706{i:07d}")
        hops_after_the_burst = hops
        await asyncio.sleep(0.5)  # the storm goes on: the storage's own timer runs meanwhile
        assert hops - hops_after_the_burst < 50, f"{hops - hops_after_the_burst} thread hops"
        assert [await limits.text("+17060000001") for _ in range(10)].count(False) == 1
    finally:
        await limits.close()
