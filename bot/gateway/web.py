"""The web chat channel: the demo page, the widget's files and the WebSocket (`GET /ws`).

Protocol (docs/gateway-protocol.md): the browser says hello with its signed conversation token
and the last sequence number it has; the gateway answers welcome, replays what the browser missed
in order, then streams new messages. Member messages carry a `client_id`, acknowledged with the
stored `seq`, so a re-send after a reconnect is never a second message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.gateway.conversations import ConversationInfo
from bot.gateway.state import GATEWAY, Gateway

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_TEXT = 2000
MAX_FRAME = 16 * 1024


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


class _Socket:
    """One browser connection: sends are serialised, and each seq is sent at most once."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.sent_max_seq = 0
        self._lock = asyncio.Lock()

    async def send(self, event: dict[str, Any]) -> None:
        seq = event.get("seq")
        async with self._lock:
            if event.get("type") == "message" and isinstance(seq, int):
                if seq <= self.sent_max_seq:
                    return
                self.sent_max_seq = seq
            if not self.ws.closed:
                await self.ws.send_json(event)


async def _hello(gw: Gateway, ws: web.WebSocketResponse) -> tuple[ConversationInfo, int] | None:
    try:
        msg = await ws.receive(timeout=gw.options.hello_timeout_seconds)
    except TimeoutError:
        await ws.close(code=4408, message=b"hello expected")
        return None
    if msg.type != WSMsgType.TEXT:
        return None
    try:
        hello = json.loads(msg.data)
    except ValueError:
        hello = None
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        await ws.close(code=4400, message=b"hello expected")
        return None
    conversation_id = gw.tokens.read(hello.get("token"))
    conv = await gw.store.get(conversation_id) if conversation_id else None
    last_seq = hello.get("last_seq")
    if conv is None:  # no token, a forged or expired one: a fresh conversation
        conv = await gw.store.new_web_conversation()
        last_seq = 0
    if not isinstance(last_seq, int) or last_seq < 0:
        last_seq = 0
    return conv, last_seq


async def websocket(request: web.Request) -> web.WebSocketResponse:
    gw = request.app[GATEWAY]
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    greeting = await _hello(gw, ws)
    if greeting is None:
        return ws
    conv, last_seq = greeting
    sock = _Socket(ws)
    sock.sent_max_seq = last_seq
    await ws.send_json(
        {"type": "welcome", "token": gw.tokens.issue(conv.id), "conversation_id": conv.id}
    )
    async with gw.hub.subscribe(conv.id) as queue:
        missed = await gw.store.messages_after(conv.id, last_seq)
        for message in missed:
            await sock.send(message.to_wire())
        await gw.store.mark_delivered(conv.id, [m.seq for m in missed if m.direction == "out"])
        pump = asyncio.create_task(_pump(gw, conv, sock, queue))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await _on_frame(gw, conv, sock, msg.data)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
    return ws


async def _pump(
    gw: Gateway, conv: ConversationInfo, sock: _Socket, queue: asyncio.Queue[dict[str, Any]]
) -> None:
    """Forward published events (bot and agent replies, typing) to this browser."""
    while True:
        event = await queue.get()
        seq = event.get("seq")
        if event.get("type") != "message" or not isinstance(seq, int):
            await sock.send(event)
            continue
        if seq <= sock.sent_max_seq:
            continue
        if seq == sock.sent_max_seq + 1:
            batch = [event]
        else:  # published out of order by concurrent tasks: fill the gap from the database
            batch = [m.to_wire() for m in await gw.store.messages_after(conv.id, sock.sent_max_seq)]
        sent: list[int] = []
        for item in batch:
            before = sock.sent_max_seq
            await sock.send(item)
            if sock.sent_max_seq > before and item.get("sender") != "member":
                sent.append(item["seq"])
        await gw.store.mark_delivered(conv.id, sent)


async def _on_frame(gw: Gateway, conv: ConversationInfo, sock: _Socket, data: str) -> None:
    try:
        frame = json.loads(data)
    except ValueError:
        await sock.send({"type": "error", "error": "bad_json"})
        return
    if not isinstance(frame, dict):
        return
    if frame.get("type") == "ping":
        await sock.send({"type": "pong"})
        return
    if frame.get("type") != "message":
        await sock.send({"type": "error", "error": "unknown_type"})
        return
    text = frame.get("text")
    client_id = frame.get("client_id")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        await sock.send({"type": "error", "error": "bad_text", "client_id": client_id})
        return
    if not isinstance(client_id, str) or not (1 <= len(client_id) <= 64):
        client_id = None
    button_payload = frame.get("payload") if isinstance(frame.get("payload"), str) else None
    accepted = await gw.service.accept_member_message(
        conv,
        text.strip(),
        client_id=client_id,
        payload={"button_payload": button_payload} if button_payload else None,
    )
    await sock.send({"type": "ack", "client_id": client_id, "seq": accepted.message.seq})
    if not accepted.created:
        return  # a re-send after a reconnect: the first copy already had its turn
    metadata: dict[str, Any] = {"channel": "web"}
    if accepted.masked.found_any:
        metadata["masked"] = [
            k
            for k, v in (("card", accepted.masked.found_card), ("bank", accepted.masked.found_bank))
            if v
        ]
    # A button's payload (e.g. "/pay_bill") is an intent for Rasa; typed text is masked first.
    rasa_text = (
        button_payload
        if button_payload and not accepted.masked.found_any
        else accepted.message.text
    )
    gw.tasks.spawn(gw.service.bot_turn(conv, rasa_text, metadata), name=f"web-turn-{conv.id}")
