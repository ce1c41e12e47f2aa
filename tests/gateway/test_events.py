"""The gateway's events: listeners run in order, and a failing one never breaks a member's turn."""

from __future__ import annotations

import logging

from bot.gateway.conversations import ConversationInfo, StoredMessage
from bot.gateway.events import (
    BOT_REPLIES,
    MEMBER_MESSAGE,
    BotReplies,
    GatewayEvents,
    MemberMessage,
)
from bot.gateway.state import GATEWAY

CONV = ConversationInfo("web-1", "web", "web-1", "bot")
MESSAGE = StoredMessage("web-1", 1, "in", "member", "hello")


async def test_listeners_are_awaited_in_order_and_a_failure_is_logged_not_raised(caplog):
    events = GatewayEvents()
    heard: list[str] = []

    async def first(event: MemberMessage) -> None:
        heard.append(f"first:{event.message.seq}")

    async def broken(event: MemberMessage) -> None:
        raise RuntimeError("listener bug")

    async def last(event: MemberMessage) -> None:
        heard.append("last")

    for listener in (first, broken, last):
        events.subscribe(MEMBER_MESSAGE, listener)
    with caplog.at_level(logging.ERROR, logger="bot.gateway.events"):
        await events.emit(MEMBER_MESSAGE, MemberMessage(CONV, MESSAGE))
        await events.emit(BOT_REPLIES, BotReplies(CONV, [MESSAGE]))  # no listeners: nothing
    assert heard == ["first:1", "last"]
    assert "member_message" in caplog.text and "broken" in caplog.text
    assert "hello" not in caplog.text  # the member's words are never logged


async def test_a_failing_listener_does_not_stop_the_member_getting_a_reply(client, texter):
    gw = client.app[GATEWAY]
    heard: list[str] = []

    async def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    async def replies(event: BotReplies) -> None:
        heard.extend(m.text for m in event.replies)

    gw.events.subscribe(MEMBER_MESSAGE, broken)
    gw.events.subscribe(BOT_REPLIES, broken)
    gw.events.subscribe(BOT_REPLIES, replies)
    status, bodies = await texter.text("what is my balance")
    assert status == 200
    assert bodies == ["You said: what is my balance"]
    assert heard == ["You said: what is my balance"]
