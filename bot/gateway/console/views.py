"""Handlers of the agent console (`/console`). Every POST checks the session's CSRF token.

Sign-in state lives in a signed cookie (`console.auth`); each page load or form post re-issues it,
so 30 minutes without one signs the agent out. The presence heartbeat and the live event stream
do not count as activity: an unattended console times out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update

from bot.core.dates import local_date
from bot.core.money import format_cents
from bot.gateway.console import pages
from bot.gateway.console.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    ConsoleSession,
    SessionCodec,
    csrf_ok,
    new_session,
    verify_password,
)
from bot.gateway.handoff import CONSOLE_CHANNEL, HANDOFF, AgentInfo, HandoffRouter
from bot.gateway.state import GATEWAY, Gateway
from bot.store.db import session_scope
from bot.store.models import Agent, CallbackRequest, HandoffRequest, ServiceRequest

log = logging.getLogger(__name__)

CODEC = web.AppKey("console_codec", SessionCodec)


@dataclass
class Ctx:
    """A signed-in request: the gateway's container, the handoff router, the agent, the form."""

    request: web.Request
    gw: Gateway
    router: HandoffRouter
    agent: AgentInfo
    session: ConsoleSession
    form: Any


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
        },
    )


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


def signed_in(
    handler: Handler, *, refresh: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Require a live session (and, for POST, its CSRF token); re-issue the cookie after."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        codec = request.app[CODEC]
        now = gw.clock()
        session = codec.read(request, now)
        wants_json = request.method == "POST" and request.headers.get(CSRF_HEADER) is not None
        if session is None:
            if wants_json or request.path.endswith("/events"):
                return web.json_response({"error": "signed_out"}, status=401)
            expired = "?expired=1" if SESSION_COOKIE in request.cookies else ""
            response = _redirect(f"/console/login{expired}")
            codec.clear(response)
            return response
        router = request.app[HANDOFF]
        agent = await router.agent(session.agent_id)
        if agent is None:
            response = _redirect("/console/login")
            codec.clear(response)
            return response
        form = None
        if request.method == "POST":
            form = await request.post()
            if not csrf_ok(session, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)):
                return web.Response(
                    status=403, text="Missing or wrong CSRF token. Reload the page and try again."
                )
        response = await handler(Ctx(request, gw, router, agent, session, form))
        if refresh and not response.prepared:
            codec.write(response, ConsoleSession(session.agent_id, session.csrf, now))
        return response

    return wrapper


# -- sign in / out ---------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    codec = request.app[CODEC]
    response = _html("")
    token = codec.new_login_token(response)
    notice = (
        "You were signed out after 30 minutes without activity."
        if request.query.get("expired")
        else None
    )
    response.text = pages.login_page(token, notice=notice)
    return response


async def login(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    codec = request.app[CODEC]
    form = await request.post()
    if not codec.login_token_ok(request, form.get(CSRF_FIELD)):
        return web.Response(
            status=403, text="Missing or wrong CSRF token. Reload the sign-in page and try again."
        )
    username = str(form.get("username") or "").strip().lower()
    password = str(form.get("password") or "")
    async with session_scope(gw.sessions) as session:
        agent = (
            await session.execute(select(Agent).where(Agent.username == username))
        ).scalar_one_or_none()
    ok = await asyncio.to_thread(verify_password, agent.password_hash if agent else None, password)
    if not ok or agent is None:
        log.info("console sign-in refused")
        response = _html("", status=401)
        token = codec.new_login_token(response)
        response.text = pages.login_page(
            token, error="That username and password don't match. Please try again."
        )
        return response
    now = gw.clock()
    async with session_scope(gw.sessions) as session:
        await session.execute(
            update(Agent).where(Agent.id == agent.id).values(presence="online", last_seen_at=now)
        )
    response = _redirect("/console")
    codec.write(response, new_session(agent.id, now))
    log.info("agent %s signed in", agent.username)
    return response


async def _logout(ctx: Ctx) -> web.StreamResponse:
    async with session_scope(ctx.gw.sessions) as session:
        await session.execute(
            update(Agent).where(Agent.id == ctx.agent.id).values(presence="offline")
        )
    response = _redirect("/console/login")
    ctx.request.app[CODEC].clear(response)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    async def handler(ctx: Ctx) -> web.StreamResponse:
        return await _logout(ctx)

    return await signed_in(handler, refresh=False)(request)


# -- queue -----------------------------------------------------------------------------------------


async def _queue_rows(gw: Gateway) -> list[pages.QueueRow]:
    async with session_scope(gw.sessions) as session:
        result = await session.execute(
            select(HandoffRequest, Agent.display_name)
            .outerjoin(Agent, Agent.id == HandoffRequest.agent_id)
            .where(HandoffRequest.status.in_(("waiting", "assigned")))
            .order_by(HandoffRequest.created_at, HandoffRequest.id)
        )
        return [_row(h, name) for h, name in result.all()]


def _row(h: HandoffRequest, agent_name: str | None) -> pages.QueueRow:
    return pages.QueueRow(
        h.id,
        h.conversation_id,
        h.channel,
        h.created_at,
        h.verified_tier,
        h.verified_how,
        h.topic,
        h.status,
        agent_name,
    )


async def _queue_html(ctx: Ctx) -> str:
    rows = await _queue_rows(ctx.gw)
    ids = {r.handoff_id: r for r in rows}
    async with session_scope(ctx.gw.sessions) as session:
        agent_ids = dict(
            (
                await session.execute(
                    select(HandoffRequest.id, HandoffRequest.agent_id).where(
                        HandoffRequest.id.in_(list(ids) or [0])
                    )
                )
            ).all()
        )
    waiting = [r for r in rows if r.status == "waiting"]
    mine = [
        r for r in rows if r.status == "assigned" and agent_ids.get(r.handoff_id) == ctx.agent.id
    ]
    others = [
        r for r in rows if r.status == "assigned" and agent_ids.get(r.handoff_id) != ctx.agent.id
    ]
    return pages.queue_region(waiting, mine, others, ctx.session.csrf, ctx.gw.clock())


async def _home(ctx: Ctx) -> web.StreamResponse:
    tz = ctx.gw.profile.timezone
    async with session_scope(ctx.gw.sessions) as session:
        callbacks = (
            (
                await session.execute(
                    select(CallbackRequest)
                    .where(CallbackRequest.status == "open")
                    .order_by(CallbackRequest.created_at)
                )
            )
            .scalars()
            .all()
        )
        requests = (
            (
                await session.execute(
                    select(ServiceRequest)
                    .where(ServiceRequest.status == "open")
                    .order_by(ServiceRequest.created_at)
                )
            )
            .scalars()
            .all()
        )
    cb_rows = [
        {
            "id": c.id,
            "created": c.created_at.astimezone(tz).strftime("%a %-I:%M %p"),
            "name": c.name,
            "phone": c.phone,
            "best_time": c.best_time,
            "topic": c.topic,
            "tier": pages.TIER_LABELS.get(c.verified_tier, c.verified_tier),
        }
        for c in callbacks
    ]
    sr_rows = [
        {
            "id": r.id,
            "reference": r.reference,
            "kind": r.kind,
            "requested_date": r.requested_date,
            "channel": r.channel,
            "created": r.created_at.astimezone(tz).strftime("%a %-I:%M %p"),
        }
        for r in requests
    ]
    flash = {
        "lost": "Another agent took that conversation first.",
        "ended": "Handed back to the assistant.",
        "done": "Marked done.",
    }.get(ctx.request.query.get("m", ""))
    return _html(
        pages.home_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            queue_html=await _queue_html(ctx),
            callbacks=cb_rows,
            service_requests=sr_rows,
            flash=flash,
        )
    )


async def _queue_fragment(ctx: Ctx) -> web.StreamResponse:
    return _html(await _queue_html(ctx))


# -- one conversation ------------------------------------------------------------------------------


def _handoff_id(ctx: Ctx) -> int:
    try:
        return int(ctx.request.match_info["handoff_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _conversation(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    row = await ctx.router.handoff(handoff_id)
    if row is None:
        return _html(pages.message_page("Not found", "There is no such conversation."), 404)
    agent = await ctx.router.agent(row.agent_id) if row.agent_id else None
    messages = await ctx.gw.store.messages_after(row.conversation_id, 0)
    account_html = await _account_html(ctx, row.account_id)
    async with session_scope(ctx.gw.sessions) as session:
        others = (
            await session.execute(
                select(Agent.id, Agent.display_name)
                .where(Agent.id != ctx.agent.id)
                .order_by(Agent.display_name)
            )
        ).all()
    flash = {
        "sent": None,
        "taken": "You have this conversation. The member has been told you joined.",
        "transfer_failed": "That transfer didn't work; the conversation is still yours.",
    }.get(ctx.request.query.get("m", ""))
    return _html(
        pages.conversation_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            row=_row(row, agent.display_name if agent else None),
            mine=row.agent_id == ctx.agent.id or ctx.agent.is_admin,
            messages=messages,
            tz=ctx.gw.profile.timezone,
            account_html=account_html,
            agents=[(a, n) for a, n in others],
            reply_label=(
                f"Reply as {ctx.agent.first_name} "
                f"(sent on the member's {row.channel.upper()} channel)"
            ),
            flash=flash,
        )
    )


async def _account_html(ctx: Ctx, account_id: int | None) -> str:
    if account_id is None:
        return pages.account_summary(None, None, format_cents)
    services = ctx.gw.members
    account = await services.account(account_id)
    balance = None
    if account is not None:
        try:
            balance = await services.balance(
                account_id, local_date(ctx.gw.clock(), ctx.gw.profile.timezone)
            )
        except LookupError:
            balance = None
    return pages.account_summary(account, balance, format_cents)


async def _take(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    if await ctx.router.take(handoff_id, ctx.agent):
        return _redirect(f"/console/handoffs/{handoff_id}?m=taken")
    return _redirect("/console?m=lost")


async def _reply(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    sent = await ctx.router.reply(handoff_id, ctx.agent, str(ctx.form.get("text") or ""))
    if sent is None:
        return web.Response(
            status=409, text="This conversation is not yours to answer (or the reply was empty)."
        )
    return _redirect(f"/console/handoffs/{handoff_id}#reply")


async def _transfer(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    try:
        target_id = int(str(ctx.form.get("agent_id") or ""))
    except ValueError:
        target_id = 0
    target = await ctx.router.transfer(handoff_id, ctx.agent, target_id)
    if target is None:
        return _redirect(f"/console/handoffs/{handoff_id}?m=transfer_failed")
    return _redirect("/console")


async def _end(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    if not await ctx.router.hand_back(handoff_id, ctx.agent):
        return web.Response(status=409, text="This conversation is not yours to end.")
    return _redirect("/console?m=ended")


# -- presence, heartbeat, callbacks and service requests -------------------------------------------


async def _presence(ctx: Ctx) -> web.StreamResponse:
    presence = str(ctx.form.get("presence") or "")
    if presence not in ("online", "away"):
        return web.Response(status=400, text="presence must be online or away")
    async with session_scope(ctx.gw.sessions) as session:
        await session.execute(
            update(Agent)
            .where(Agent.id == ctx.agent.id)
            .values(presence=presence, last_seen_at=ctx.gw.clock())
        )
    return _redirect("/console")


async def _heartbeat(ctx: Ctx) -> web.StreamResponse:
    """The open console says it's alive; the assistant counts only recently seen online agents."""
    async with session_scope(ctx.gw.sessions) as session:
        await session.execute(
            update(Agent).where(Agent.id == ctx.agent.id).values(last_seen_at=ctx.gw.clock())
        )
        waiting = (
            await session.execute(
                select(func.count())
                .select_from(HandoffRequest)
                .where(HandoffRequest.status == "waiting")
            )
        ).scalar_one()
    return web.json_response({"ok": True, "presence": ctx.agent.presence, "waiting": waiting})


async def _mark_done(ctx: Ctx, model: Any) -> web.StreamResponse:
    try:
        item_id = int(ctx.request.match_info["item_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with session_scope(ctx.gw.sessions) as session:
        await session.execute(
            update(model)
            .where(model.id == item_id, model.status == "open")
            .values(status="done", done_at=ctx.gw.clock(), done_by=ctx.agent.username[:80])
        )
    return _redirect("/console?m=done")


async def _callback_done(ctx: Ctx) -> web.StreamResponse:
    return await _mark_done(ctx, CallbackRequest)


async def _service_request_done(ctx: Ctx) -> web.StreamResponse:
    return await _mark_done(ctx, ServiceRequest)


# -- live events (Server-Sent Events) --------------------------------------------------------------


async def _events(ctx: Ctx) -> web.StreamResponse:
    """Queue changes for every console page; the conversation's messages for a conversation page."""
    request = ctx.request
    hub = ctx.gw.hub
    conversation_id = request.query.get("conversation") or None
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    merged: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def forward(queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            await merged.put(await queue.get())

    async with hub.subscribe(CONSOLE_CHANNEL) as queue_events:
        tasks = [asyncio.create_task(forward(queue_events))]
        try:
            if conversation_id:
                async with hub.subscribe(conversation_id) as conv_events:
                    tasks.append(asyncio.create_task(forward(conv_events)))
                    await _stream(response, merged)
            else:
                await _stream(response, merged)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return response


async def _stream(response: web.StreamResponse, merged: asyncio.Queue[dict[str, Any]]) -> None:
    await response.write(b": connected\n\n")
    while True:
        try:
            event = await asyncio.wait_for(merged.get(), timeout=20)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        await response.write(f"data: {json.dumps(event)}\n\n".encode())


def route(
    handler: Handler, *, refresh: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    return signed_in(handler, refresh=refresh)


home = route(_home)
queue_fragment = route(_queue_fragment)
conversation = route(_conversation)
take = route(_take)
reply = route(_reply)
transfer = route(_transfer)
end = route(_end)
presence = route(_presence)
heartbeat = route(_heartbeat, refresh=False)
callback_done = route(_callback_done)
service_request_done = route(_service_request_done)
events = route(_events, refresh=False)
