"""The web chat channel: the demo page, the widget's files and the WebSocket (`GET /ws`).

Protocol (docs/gateway-protocol.md): the browser says hello with its signed conversation token
and the last sequence number it has; the gateway answers welcome, replays what the browser missed
in order, then streams new messages. Member messages carry a `client_id`, acknowledged with the
stored `seq`, so a re-send after a reconnect is never a second message.

On a shared computer (docs/security.md, item 11): a token whose conversation has been silent
for `WEB_TOKEN_IDLE_HOURS` starts a new conversation, and nothing said before a silence longer
than the verified identity lasts (the profile's `session_idle_minutes`) is replayed; in both
cases the welcome says `reset` and the widget clears what it shows.

At the edge (`bot.gateway.edge`, docs/security.md): only allowed origins may connect; connections,
new conversations and messages are rate-limited with a friendly "slow down" message; text is
cleaned and capped; a `payload` counts only when it is a button the assistant just offered, and
typed text never reaches Rasa as a command. Each turn carries the member's address (`client_ip`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.gateway.conversations import ConversationInfo, TurnSpec
from bot.gateway.edge import EDGE, Edge, clean_identifier, clean_text
from bot.gateway.events import MEMBER_LEFT, MemberLeft
from bot.gateway.ratelimits import SLOW_DOWN, STILL_WORKING, too_many_chats
from bot.gateway.state import GATEWAY, Gateway

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_FRAME = 16 * 1024
RATE_LIMITED = 4429  # close code: too many connections or new chats from this address


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


class _Socket:
    """One browser connection: sends are serialised, and each seq is sent at most once."""

    def __init__(self, ws: web.WebSocketResponse, address: str) -> None:
        self.ws = ws
        self.address = address
        self.id = uuid.uuid4().hex  # the message budget is per connection
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


def notice_frame(text: str) -> dict[str, Any]:
    """A system message shown by the widget but not stored (it has no `seq`)."""
    return {"type": "message", "sender": "system", "text": text, "buttons": [], "image": None}


async def _refuse(ws: web.WebSocketResponse, text: str) -> None:
    """Tell the member why, then close with a reason (never a silent drop)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError):  # the client may be gone already
        await ws.send_json(notice_frame(text))
        await ws.send_json({"type": "error", "error": "rate_limited"})
    await ws.close(code=RATE_LIMITED, message=b"rate limited")


@dataclass(frozen=True)
class _Greeting:
    """The conversation a hello opens, the seq to replay after, and whether the browser must
    first clear what it shows (an older conversation, or messages from before a long silence)."""

    conv: ConversationInfo
    last_seq: int
    reset: bool = False


async def _hello(
    gw: Gateway, edge: Edge, ws: web.WebSocketResponse, address: str
) -> _Greeting | None:
    try:
        msg = await ws.receive(timeout=gw.options.hello_timeout_seconds)
    except TimeoutError:
        await ws.close(code=4408, message=b"hello expected")
        return None
    if msg.type != WSMsgType.TEXT:
        if not ws.closed:
            await ws.close(code=4400, message=b"hello expected")
        return None
    try:
        hello = json.loads(msg.data)
    except ValueError:
        hello = None
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        await ws.close(code=4400, message=b"hello expected")
        return None
    token = hello.get("token")
    conversation_id = gw.tokens.read(token) if isinstance(token, str) and token.isascii() else None
    conv = await gw.store.get(conversation_id) if conversation_id else None
    last_seq = hello.get("last_seq")
    if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
        last_seq = 0
    floor = 0
    if conv is not None:
        identity_lasts = timedelta(minutes=gw.profile.verification.session_idle_minutes)
        last_at, floor = await gw.store.quiet_spell(conv.id, identity_lasts, gw.clock())
        if last_at is not None and gw.tokens.idle_too_long(last_at):
            conv = None  # silent for too long: the token no longer opens it
    if conv is None:  # no token, a forged or expired one: a fresh conversation
        if not await edge.limits.new_conversation(address):
            log.warning("refused a new web conversation from %s: too many", address)
            await _refuse(ws, too_many_chats(gw.texts.member_services_phone))
            return None
        conv = await gw.store.new_web_conversation()
        return _Greeting(conv, 0, reset=isinstance(token, str) and bool(token))
    if floor:  # the identity expired in that silence: nothing from before it again
        return _Greeting(conv, floor, reset=True)
    return _Greeting(conv, last_seq)


async def websocket(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    edge = request.app[EDGE]
    origin = request.headers.get("Origin")
    if not edge.origins.allowed(origin):
        log.warning("refused a chat connection from origin %r", origin[:100] if origin else origin)
        return web.Response(status=403, text="origin not allowed")
    address = edge.addresses.of(request)
    with edge.limits.open_connection(address) as admitted:
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        if not admitted or not await edge.limits.connection(address):
            log.warning("refused a chat connection from %s: too many", address)
            await _refuse(ws, too_many_chats(gw.texts.member_services_phone))
            return ws
        greeting = await _hello(gw, edge, ws, address)
        if greeting is None:
            return ws
        await _serve(gw, edge, ws, address, greeting)
    return ws


async def _serve(
    gw: Gateway,
    edge: Edge,
    ws: web.WebSocketResponse,
    address: str,
    greeting: _Greeting,
) -> None:
    conv = greeting.conv
    sock = _Socket(ws, address)
    sock.sent_max_seq = greeting.last_seq
    await ws.send_json(
        {
            "type": "welcome",
            "token": gw.tokens.issue(conv.id),
            "conversation_id": conv.id,
            "reset": greeting.reset,
        }
    )
    async with gw.hub.subscribe(conv.id) as queue:
        missed = await gw.store.messages_after(conv.id, greeting.last_seq)
        for message in missed:
            await sock.send(message.to_wire())
        await gw.store.mark_delivered(conv.id, [m.seq for m in missed if m.direction == "out"])
        pump = asyncio.create_task(_pump(gw, conv, sock, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await _on_frame(gw, edge, conv, sock, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await sock.send({"type": "error", "error": "bad_json"})
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


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


async def _on_frame(
    gw: Gateway, edge: Edge, conv: ConversationInfo, sock: _Socket, data: str
) -> None:
    try:
        frame = json.loads(data)
    except ValueError:
        await sock.send({"type": "error", "error": "bad_json"})
        return
    if not isinstance(frame, dict):
        await sock.send({"type": "error", "error": "bad_json"})
        return
    if frame.get("type") == "ping":
        await sock.send({"type": "pong"})
        return
    if frame.get("type") == "typing":  # shown to the agent on this conversation (console/desk.py)
        gw.hub.publish(f"console:typing:{conv.id}", {"type": "member_typing"})
        return
    if frame.get("type") == "end":  # "End chat": an agent sees that the member left
        await gw.events.emit(MEMBER_LEFT, MemberLeft(conv))
        return
    if frame.get("type") != "message":
        await sock.send({"type": "error", "error": "unknown_type"})
        return
    client_id = clean_identifier(frame.get("client_id"))
    if not await edge.limits.message(sock.id):
        await _slow_down(sock, SLOW_DOWN, client_id)
        return
    raw_text, raw_payload = frame.get("text"), frame.get("payload")
    button = await _offered_button(gw, conv, raw_payload)
    if button is not None:  # a click on a button just offered: its title, its payload
        text = button["title"]
    elif isinstance(raw_text, str) and raw_text.strip():  # typed text; the payload ignored
        text = raw_text
    else:  # no text: a payload not offered is read as typed text
        text = raw_payload if isinstance(raw_payload, str) else None
    text = clean_text(text).strip() if isinstance(text, str) else ""
    if not text:
        await sock.send({"type": "error", "error": "bad_text", "client_id": client_id})
        return
    if await gw.store.pending_count(conv.id) >= edge.limits.max_pending:
        await _slow_down(sock, STILL_WORKING, client_id)
        return
    # An offered button's payload (e.g. "/pay_bill") is an intent for Rasa; typed text is
    # masked, and escaped by the turn so that Rasa never reads it as a command. The message
    # and its turn are stored in one unit of work, acknowledged, then queued.
    turn = TurnSpec(
        key=f"web:{conv.id}:{client_id or uuid.uuid4().hex}",
        metadata={"channel": "web", "client_ip": sock.address},
        rasa_text=button["payload"] if button else None,
        from_button=button is not None,
    )
    accepted = await gw.service.accept_member_message(
        conv,
        text,
        client_id=client_id,
        payload={"button_payload": button["payload"]} if button else None,
        max_chars=edge.max_chars,
        turn=turn,
    )
    await sock.send({"type": "ack", "client_id": client_id, "seq": accepted.message.seq})
    if not accepted.created:
        return  # a re-send after a reconnect: the first copy already has its turn
    if gw.workers is not None:
        await gw.workers.submit(conv.id, turn.key)


async def _offered_button(
    gw: Gateway, conv: ConversationInfo, payload: object
) -> dict[str, str] | None:
    """The offered button whose payload this is, or None (not a string, or not offered)."""
    if not isinstance(payload, str) or not payload or len(payload) > 500:
        return None
    for button in await gw.store.offered_buttons(conv.id):
        if button.get("payload") == payload and isinstance(button.get("title"), str):
            return {"title": button["title"], "payload": payload}
    return None


async def _slow_down(sock: _Socket, text: str, client_id: str | None) -> None:
    """The message is not taken (not acknowledged: the widget keeps it and sends it again
    after a reconnect); the member is told why."""
    await sock.send({"type": "error", "error": "rate_limited", "client_id": client_id})
    await sock.send(notice_frame(text))
