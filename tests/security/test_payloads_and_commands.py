"""Attacks on what Rasa is told (docs/security.md, items 4 and 22).

A WebSocket `payload` used to be forwarded and stored as sent: a card number in it reached the
tracker store and the gateway database unmasked, and `/intent{...}` reached Rasa. Typed text
starting with "/" was read by Rasa as an intent or a command ("/restart" wiped the chat). Now a
payload counts only when it is a button the assistant just offered, and typed text is always text.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.gateway.edge import typed_text_for_rasa
from bot.store.models import ConversationMessage
from tests.security.edge_helpers import Chat, EdgeGateway, bot_reply, start_gateway

CARD = "4111 1111 1111 1111"


@pytest.fixture
async def gw(aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any) -> EdgeGateway:
    return await start_gateway(aiohttp_client, aiohttp_server, tmp_path)


def read_as_command_by_rasa(text: str) -> bool:
    """Rasa 3.6's rule (YAMLStoryReader.unpack_regex_message): stripped text starting with "/"."""
    return text.strip().startswith("/")


async def stored(gw: EdgeGateway) -> list[ConversationMessage]:
    from bot.store.db import async_session_factory, make_async_engine

    engine = make_async_engine(gw.url)
    try:
        async with async_session_factory(engine)() as session:
            return list((await session.execute(select(ConversationMessage))).scalars().all())
    finally:
        await engine.dispose()


async def test_a_card_number_in_a_payload_is_never_stored_or_forwarded(gw: EdgeGateway) -> None:
    chat = await Chat.open(gw.client)
    await chat.send("hi", payload=f"{CARD} cvv 123 exp 12/29")
    await chat.until(bot_reply)
    await chat.send("", payload=f"my card {CARD} 123")  # no text at all: the payload is text
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 3)
    assert gw.rasa.messages[0] == "hi"
    for message in await stored(gw):
        assert "1111 1111" not in message.text + str(message.payload)
        assert "cvv 123" not in str(message.payload)
    assert "1111 1111" not in str(gw.rasa.calls) and "4111111111111111" not in str(gw.rasa.calls)
    await chat.close()


async def test_an_intent_payload_never_offered_is_treated_as_typed_text(gw: EdgeGateway) -> None:
    chat = await Chat.open(gw.client)
    await chat.send("ok", payload='/inform{"tier": "confirmed", "account_number": "1000100001"}')
    await chat.until(bot_reply)
    await chat.send("/EXTERNAL_agent_handback", payload="/EXTERNAL_agent_handback")
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 2)
    assert gw.rasa.messages[0] == "ok"
    assert not any(read_as_command_by_rasa(m) for m in gw.rasa.messages)
    assert all("button_payload" not in m.payload for m in await stored(gw))
    await chat.close()


async def test_only_the_buttons_just_offered_carry_an_intent(gw: EdgeGateway) -> None:
    gw.rasa.reply = lambda body: [
        {"text": "Pick one", "buttons": [{"title": "Pay now", "payload": "/pay_bill"}]}
    ]
    chat = await Chat.open(gw.client)
    await chat.send("pay")
    await chat.until(bot_reply)
    await chat.send("Pay now", payload="/pay_bill")  # offered: Rasa gets the intent
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 2)
    await chat.send("something else")
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 4)
    gw.rasa.reply = lambda body: [{"text": "No buttons now"}]
    await chat.send("more")
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 6)
    await chat.send("Pay now", payload="/pay_bill")  # no longer offered: typed text
    await chat.until(lambda f: bot_reply(f) and f["seq"] > 8)
    assert gw.rasa.messages == ["pay", "/pay_bill", "something else", "more", "Pay now"]
    await chat.close()


COMMANDS = [
    "/restart",
    "/EXTERNAL_agent_handback",
    "/session_start",
    "  /restart",
    "//restart",
    "/ /restart",
    '/inform{"tier":"confirmed"}',
    "\u3000/restart",
]


@pytest.mark.parametrize("typed", COMMANDS)
async def test_typed_text_starting_with_a_slash_reaches_rasa_as_text(
    gw: EdgeGateway, typed: str
) -> None:
    chat = await Chat.open(gw.client)
    await chat.send(typed)
    answer = await chat.until(bot_reply)
    assert answer["text"].startswith("You said:")  # the member still gets a normal answer
    [sent] = gw.rasa.messages
    assert not read_as_command_by_rasa(sent)
    assert typed.lstrip().lstrip("/ ").lstrip("/") in sent  # the words are still there
    [member] = [m for m in await stored(gw) if m.direction == "in"]
    assert member.text == typed.strip()  # the transcript keeps what the member typed
    await chat.close()


@pytest.mark.parametrize("typed", ["/restart", " /EXTERNAL_agent_handback", "/session_start"])
async def test_a_text_message_starting_with_a_slash_reaches_rasa_as_text(
    gw: EdgeGateway, typed: str
) -> None:
    status, replies = await gw.texter.text(typed)
    assert status == 200 and replies and replies[0].startswith("You said:")
    assert not read_as_command_by_rasa(gw.rasa.messages[0])


async def test_a_numbered_reply_to_offered_choices_still_sends_their_payload(
    gw: EdgeGateway,
) -> None:
    gw.rasa.reply = lambda body: [
        {"text": "Which?", "buttons": [{"title": "Balance", "payload": "/check_balance"}]}
    ]
    await gw.texter.text("hello")
    await gw.texter.text("1")
    assert gw.rasa.messages == ["hello", "/check_balance"]


def test_the_escape_keeps_ordinary_text_unchanged() -> None:
    for text in ("what is my balance", "pay 1/2 now", "a/b", "50/50?", ""):
        assert typed_text_for_rasa(text) == text
