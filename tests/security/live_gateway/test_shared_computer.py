"""Item 11, as the attack: the next person at a shared computer reopens the chat the previous
member left in the browser, with the token the widget stored, a day or more later."""

from __future__ import annotations

import asyncio

from bot.gateway.tokens import ConversationTokens


async def _hello(client, token: str | None = None):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": token, "last_seq": 0})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def _replayed(ws) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await asyncio.wait_for(ws.receive_json(), 0.5))
    except TimeoutError:
        return frames


async def test_a_token_left_for_a_day_no_longer_opens_the_chat(client, gw, clock):
    ws, first = await _hello(client)
    await ws.close()
    conv = await gw.store.get(first["conversation_id"])
    await gw.service.accept_member_message(conv, "my balance please")
    await gw.service.post_outbound(conv, "bot", "Dana, your balance is $142.87.")

    clock.advance(minutes=10)  # a short absence: the member's chat comes back
    ws, same = await _hello(client, first["token"])
    assert same["conversation_id"] == first["conversation_id"]
    assert any("142.87" in f.get("text", "") for f in await _replayed(ws))
    await ws.close()

    # Within a day the token still opens the same conversation (what was shown before a silence
    # longer than the identity lasts is not replayed: test_replay_after_silence.py).
    clock.advance(hours=23)
    ws, same = await _hello(client, same["token"])
    assert same["conversation_id"] == first["conversation_id"]
    await ws.close()

    clock.advance(hours=24, minutes=1)  # a day after that visit: the next person
    ws, fresh = await _hello(client, same["token"])
    assert fresh["conversation_id"] != first["conversation_id"]
    assert not any("142.87" in f.get("text", "") for f in await _replayed(ws))
    await ws.close()


def test_a_token_without_an_issue_time_or_from_the_future_is_refused(settings, clock):
    tokens = ConversationTokens(settings.secret_key, clock=clock)
    old_format = tokens._serializer.dumps({"c": "web-old"})  # a 30-day token from before
    assert tokens.read(old_format) is None
    clock.advance(hours=2)
    ahead = tokens.issue("web-ahead")
    clock.advance(hours=-2)
    assert tokens.read(ahead) is None
    assert tokens.read(tokens.issue("web-now")) == "web-now"
