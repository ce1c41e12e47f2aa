"""Hostile text at every channel's edge (docs/security.md, items 18 and 23).

A web frame with a lone surrogate raised while storing it, dropped the member's socket and left a
traceback; NUL and control characters were stored as sent; empty texts reached the assistant and
a 200 kB text was stored and forwarded whole. Now text is validated, normalised and capped first.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.gateway.simulate import simulate_sms
from bot.store.db import async_session_factory, make_async_engine
from bot.store.models import ConversationMessage
from tests.security.edge_helpers import Chat, EdgeGateway, bot_reply, start_gateway


@pytest.fixture
async def gw(aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any) -> EdgeGateway:
    return await start_gateway(aiohttp_client, aiohttp_server, tmp_path)


async def member_texts(gw: EdgeGateway) -> list[str]:
    engine = make_async_engine(gw.url)
    try:
        async with async_session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(ConversationMessage)
                    .where(ConversationMessage.direction == "in")
                    .order_by(ConversationMessage.id)
                )
            ).scalars()
            return [r.text for r in rows]
    finally:
        await engine.dispose()


async def test_a_lone_surrogate_gets_an_answer_and_keeps_the_socket(
    gw: EdgeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    chat = await Chat.open(gw.client)
    await chat.send_raw('{"type": "message", "text": "balance \\ud800 please", "client_id": "s1"}')
    answer = await chat.until(bot_reply)
    assert answer["text"] == "You said: balance \ufffd please"
    await chat.send_raw('{"type": "message", "text": "hi", "client_id": "\\udfff\\ud800"}')
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 2)
    await chat.ws.send_json({"type": "ping"})
    assert (await chat.until(lambda f: f["type"] == "pong"))["type"] == "pong"
    assert not chat.ws.closed
    assert await member_texts(gw) == ["balance \ufffd please", "hi"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    await chat.close()


async def test_a_surrogate_in_the_hello_token_starts_a_fresh_chat(gw: EdgeGateway) -> None:
    ws = await gw.client.ws_connect("/ws")
    await ws.send_str('{"type": "hello", "token": "\\ud800abc", "last_seq": true}')
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    assert welcome["type"] == "welcome" and welcome["conversation_id"].startswith("web-")
    await ws.close()


async def test_nul_and_control_characters_are_removed_before_anything_sees_them(
    gw: EdgeGateway,
) -> None:
    chat = await Chat.open(gw.client)
    await chat.send("bal\x00ance\x1b[31m\x7f\u0085 due\tdate")
    await chat.until(bot_reply)
    assert gw.rasa.messages == ["balance[31m due date"]
    assert await member_texts(gw) == ["balance[31m due date"]
    await chat.send("\x00\x01\x02 ")  # nothing left: a clear error, not a turn
    error = await chat.until(lambda f: f["type"] == "error")
    assert error["error"] == "bad_text"
    await chat.close()


async def test_nul_and_controls_in_a_text_message_are_removed(gw: EdgeGateway) -> None:
    status, replies = await gw.texter.text("out\x00age in\x07 Wrens")
    assert status == 200 and replies == ["You said: outage in Wrens"]


async def test_the_simulator_cleans_its_text_too(gw: EdgeGateway) -> None:
    out = io.StringIO()
    code = await asyncio.to_thread(
        simulate_sms,
        gw.settings,
        "+17065550101",
        "hi \ud800\x00there",
        gateway_url=str(gw.client.make_url("")),
        wait_seconds=0,
        out=out,
    )
    assert code == 0 and "< You said: hi" in out.getvalue()  # (texts are GSM-7: no U+FFFD)
    assert (await member_texts(gw)) == ["hi \ufffdthere"]
    assert (
        await asyncio.to_thread(
            simulate_sms,
            gw.settings,
            "+17065550101",
            "\x00 \x01",
            wait_seconds=0,
            out=io.StringIO(),
        )
        == 2
    )  # nothing to send


async def test_an_empty_text_is_not_forwarded(gw: EdgeGateway) -> None:
    for body in ("", "   ", "\x00\n"):
        status, replies = await gw.texter.text(body)
        assert status == 200 and replies == []
    assert gw.rasa.calls == []


async def test_a_picture_without_text_gets_a_short_reply(gw: EdgeGateway) -> None:
    form = gw.texter.form("")
    form.update(NumMedia="1", MediaUrl0="https://api.twilio.com/x.jpg")
    resp = await gw.texter.post("/sms/twilio", form)
    from bot.gateway.simulate import twiml_bodies

    replies = twiml_bodies(await resp.text())
    assert resp.status == 200 and len(replies) == 1 and "only read text" in replies[0]
    assert gw.rasa.calls == []


async def test_a_200_kb_text_is_cut_before_rasa_and_the_member_is_told(gw: EdgeGateway) -> None:
    body = "word " * 40_000  # 200,000 characters
    status, replies = await gw.texter.text(body)
    assert status == 200
    assert any("only read the first 1,600 characters" in r for r in replies)
    [sent] = gw.rasa.messages
    assert len(sent) <= 1600
    [kept] = await member_texts(gw)
    assert len(kept) <= 1600


async def test_a_card_number_across_the_cut_is_masked_whole(gw: EdgeGateway) -> None:
    body = "x" * 1590 + " 4111 1111 1111 1111 thanks"
    await gw.texter.text(body)
    [kept] = await member_texts(gw)
    assert "4111 1111" not in kept and "1111 1111" not in gw.rasa.messages[0]


async def test_a_long_web_message_is_cut_with_a_note(gw: EdgeGateway) -> None:
    chat = await Chat.open(gw.client)
    await chat.send("tell me " * 1000)  # 8,000 characters, within one frame
    note = await chat.until(lambda f: f.get("sender") == "system")
    assert "only read the first 1,600 characters" in note["text"]
    await chat.until(bot_reply)
    assert len(gw.rasa.messages[0]) <= 1600
    await chat.close()


async def test_an_oversized_frame_is_closed_with_a_reason(gw: EdgeGateway) -> None:
    chat = await Chat.open(gw.client)
    await chat.send("x" * 20_000)
    msg = await asyncio.wait_for(chat.ws.receive(), 5)
    while msg.type.name == "TEXT":
        msg = await asyncio.wait_for(chat.ws.receive(), 5)
    assert chat.ws.close_code == 1009  # "message too big", a protocol close with a reason
    again = await Chat.open(gw.client)  # and the gateway keeps answering
    await again.send("hello")
    assert (await again.until(bot_reply))["text"] == "You said: hello"
    await again.close()
