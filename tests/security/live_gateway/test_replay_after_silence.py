"""Item 11, as the attack: the next person at a shared computer reopens the chat the previous
member left in the browser, with the token the widget stored, after the member's verified
identity has expired (a quarter of an hour), or a day after the last message while the page kept
reconnecting (each connection renewing the token)."""

from __future__ import annotations

import asyncio

BALANCE = "Dana, your balance is $142.87."


async def _hello(client, token: str | None = None, last_seq: int = 0):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": token, "last_seq": last_seq})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def _frames(ws, wait: float = 0.5) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await asyncio.wait_for(ws.receive_json(), wait))
    except TimeoutError:
        return frames


def _texts(frames: list[dict]) -> list[str]:
    return [f.get("text", "") for f in frames if f.get("type") == "message"]


async def _verified_chat(client, gw) -> dict:
    """A member's chat whose last reply showed what only a verified member may see."""
    ws, welcome = await _hello(client)
    await ws.close()
    conv = await gw.store.get(welcome["conversation_id"])
    await gw.service.accept_member_message(conv, "my balance please")
    await gw.service.post_outbound(conv, "bot", BALANCE)
    return welcome


async def test_a_verified_members_replies_are_not_replayed_once_the_identity_expired(
    client, gw, clock
):
    first = await _verified_chat(client, gw)
    identity_lasts = gw.profile.verification.session_idle_minutes

    clock.advance(minutes=identity_lasts - 1)  # the member stepped away briefly: all comes back
    ws, same = await _hello(client, first["token"])
    assert same["conversation_id"] == first["conversation_id"]
    assert same["reset"] is False
    assert BALANCE in _texts(await _frames(ws))
    await ws.close()

    clock.advance(minutes=2)  # longer than the identity lasts: the next person at the computer
    for last_seq in (0, 1, 2, 99):  # whatever the browser claims to have shown
        ws, later = await _hello(client, same["token"], last_seq)
        assert later["conversation_id"] == first["conversation_id"]
        assert later["reset"] is True  # the widget clears what it shows and stores
        assert _texts(await _frames(ws)) == []
        await ws.close()

    # The same conversation goes on (the assistant will ask to verify again).
    ws, later = await _hello(client, later["token"])
    await ws.send_json({"type": "message", "text": "hi again", "client_id": "c-1"})
    live = await _frames(ws, 1.0)
    assert {"type": "ack", "client_id": "c-1", "seq": 3} in live
    assert "You said: hi again" in _texts(live)
    await ws.close()

    clock.advance(minutes=1)  # a reload: what was said since the silence, never what came before
    ws, again = await _hello(client, later["token"])
    assert again["conversation_id"] == first["conversation_id"]
    replayed = _texts(await _frames(ws))
    assert replayed == ["hi again", "You said: hi again"]
    assert not any("142.87" in text for text in replayed)
    await ws.close()


async def test_a_token_is_refused_a_day_after_the_last_message_however_often_it_reconnected(
    client, gw, clock
):
    first = await _verified_chat(client, gw)
    token = first["token"]
    for _ in range(2):  # the page left open reconnects now and then, renewing its token
        clock.advance(hours=12)
        ws, welcome = await _hello(client, token)
        assert welcome["conversation_id"] == first["conversation_id"]
        token = welcome["token"]
        await ws.close()

    clock.advance(minutes=1)  # a day and a minute after the last message
    ws, fresh = await _hello(client, token)
    assert fresh["conversation_id"] != first["conversation_id"]
    assert fresh["reset"] is True  # the widget drops the old conversation from the page
    assert _texts(await _frames(ws)) == []
    await ws.close()

    ws, new_visitor = await _hello(client)  # no token: nothing to clear
    assert new_visitor["reset"] is False
    await ws.close()
