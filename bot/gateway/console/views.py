"""Handlers of the agent console (`/console`). Every POST checks the session's CSRF token.

Sign-in state is a server-side session named by a signed cookie (`console.sessions`,
`console.auth`); each page load or form post re-issues the cookie and records activity, so 30
minutes without one signs the agent out. The presence heartbeat and the live event stream do not
count as activity: an unattended console times out. The event stream re-checks its session every
few seconds and closes once it is revoked or expired.

Who sees what: an agent sees the waiting handoffs and their own; an admin sees every handoff, but
read-only unless it is theirs. Every view of a transcript or account summary (page or live
stream) writes an audit entry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update

from bot.core.dates import local_date
from bot.core.money import format_cents
from bot.gateway.console import desk, insights, pages, search, sessions, team
from bot.gateway.console.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    ConsoleSession,
    SessionCodec,
    csrf_ok,
    hash_password,
    new_session,
    totp_required,
    totp_step,
    verify_password,
)
from bot.gateway.console.sessions import HashingPool, PoolBusy
from bot.gateway.handoff import CONSOLE_CHANNEL, HANDOFF, AgentInfo, HandoffRouter
from bot.gateway.state import GATEWAY, Gateway
from bot.services import audit
from bot.store.db import session_scope
from bot.store.models import (
    Agent,
    CallbackRequest,
    ConversationMessage,
    HandoffRequest,
    ServiceRequest,
)

log = logging.getLogger(__name__)

CODEC = web.AppKey("console_codec", SessionCodec)
HASHING = web.AppKey("console_hashing", HashingPool)
# How often the live event stream re-checks its session (seconds).
STREAM_RECHECK_SECONDS = 10.0
REFUSED = "That username and password don't match. Please try again."
REFUSED_TOTP = "That username, password and code don't match. Please try again."


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
        live = await sessions.live_session(gw.sessions, session.sid, now) if session else None
        if session is not None and (
            live is None or live.agent_id != session.agent_id or not csrf_ok(session, live.csrf)
        ):
            session = None
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
            await sessions.touch(gw.sessions, session.sid, now)
            codec.write(response, ConsoleSession(session.agent_id, session.csrf, now, session.sid))
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
    response.text = pages.login_page(
        token, notice=notice, totp=totp_required(request.app[GATEWAY].settings)
    )
    return response


def _refused(
    codec: SessionCodec, status: int, error: str, totp: bool, retry_after: int | None = None
) -> web.Response:
    response = _html("", status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    token = codec.new_login_token(response)
    response.text = pages.login_page(token, error=error, totp=totp)
    return response


async def login(request: web.Request) -> web.Response:
    """Sign in: throttle, password (in the hashing pool), second factor, a new session."""
    gw = request.app[GATEWAY]
    codec = request.app[CODEC]
    form = await request.post()
    if not codec.login_token_ok(request, form.get(CSRF_FIELD)):
        return web.Response(
            status=403, text="Missing or wrong CSRF token. Reload the sign-in page and try again."
        )
    username = str(form.get("username") or "").strip().lower()[:200]
    password = str(form.get("password") or "")[:1000]
    needs_totp = totp_required(gw.settings)
    refused = REFUSED_TOTP if needs_totp else REFUSED
    now = gw.clock()
    keys = sessions.throttle_keys(gw.settings.secret_key, username, request.remote)
    until = await sessions.locked_until(gw.sessions, keys, now)
    if until is not None:
        wait = max(1, int((until - now).total_seconds()))
        minutes = max(1, -(-wait // 60))
        log.warning("console sign-in refused while locked")
        return _refused(
            codec,
            429,
            f"Too many sign-in attempts. Please wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again.",
            needs_totp,
            retry_after=wait,
        )
    async with session_scope(gw.sessions) as session:
        agent = (
            await session.execute(select(Agent).where(Agent.username == username))
        ).scalar_one_or_none()
    try:
        ok = await request.app[HASHING].run(
            verify_password, agent.password_hash if agent else None, password
        )
    except PoolBusy:
        return _refused(codec, 503, "Sign-in is busy. Please try again in a moment.", needs_totp)
    step: int | None = None
    if ok and agent is not None and needs_totp:
        step = totp_step(agent.totp_secret, form.get("code"), now, agent.totp_last_step)
        if agent.totp_secret is None:
            log.warning("agent %s has no second factor enrolled (jecbot agents)", agent.username)
    if not ok or agent is None or agent.disabled_at is not None or (needs_totp and step is None):
        log.info("console sign-in refused")
        await sessions.record_failure(gw.sessions, keys, now)
        return _refused(codec, 401, refused, needs_totp)
    async with session_scope(gw.sessions) as session:
        values: dict[str, Any] = {"presence": "online", "last_seen_at": now}
        if step is not None:
            values["totp_last_step"] = step
        await session.execute(update(Agent).where(Agent.id == agent.id).values(**values))
    lifetime = timedelta(hours=gw.settings.console_session_hours)
    sid, csrf = await sessions.create_session(gw.sessions, agent.id, now, lifetime)
    response = _redirect("/console")
    codec.write(response, new_session(agent.id, now, sid=sid, csrf=csrf))
    log.info("agent %s signed in", agent.username)
    return response


async def _logout(ctx: Ctx) -> web.StreamResponse:
    now = ctx.gw.clock()
    async with session_scope(ctx.gw.sessions) as session:
        await session.execute(
            update(Agent).where(Agent.id == ctx.agent.id).values(presence="offline")
        )
    await sessions.revoke(ctx.gw.sessions, ctx.session.sid, "logout", now)
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
        found = result.all()
        ids = [h.conversation_id for h, _ in found]
        last_member = dict(
            (
                await session.execute(
                    select(
                        ConversationMessage.conversation_id,
                        func.max(ConversationMessage.created_at),
                    )
                    .where(
                        ConversationMessage.conversation_id.in_(ids or [""]),
                        ConversationMessage.sender == "member",
                    )
                    .group_by(ConversationMessage.conversation_id)
                )
            ).all()
        )
    return [_row(h, name, last_member.get(h.conversation_id)) for h, name in found]


def _row(h: HandoffRequest, agent_name: str | None, last_member_at: Any = None) -> pages.QueueRow:
    heard = max((t for t in (h.created_at, last_member_at) if t is not None), default=None)
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
        member_left=h.member_left_at is not None,
        member_heard_at=heard,
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
    # Other agents' conversations are listed for admins only (read-only).
    others = [
        r
        for r in rows
        if ctx.agent.supervises
        and r.status == "assigned"
        and agent_ids.get(r.handoff_id) != ctx.agent.id
    ]
    return pages.queue_region(waiting, mine, others, ctx.session.csrf, ctx.gw.clock())


async def _home(ctx: Ctx) -> web.StreamResponse:
    tz = ctx.gw.profile.timezone
    async with session_scope(ctx.gw.sessions) as session:
        callbacks = (
            await session.scalars(
                select(CallbackRequest)
                .where(CallbackRequest.status == "open")
                .order_by(CallbackRequest.created_at)
            )
        ).all()
        requests = (
            await session.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.status == "open")
                .order_by(ServiceRequest.created_at)
            )
        ).all()
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


def may_view(agent: AgentInfo, row: HandoffRequest) -> bool:
    """A waiting handoff (to decide whether to take it), one's own, or any for an admin."""
    return agent.supervises or row.status == "waiting" or row.agent_id == agent.id


async def _audit_view(
    ctx: Ctx, row: HandoffRequest, action: str, details: dict[str, Any] | None = None
) -> None:
    async with session_scope(ctx.gw.sessions) as session:
        await audit.record(
            session,
            actor=f"agent:{ctx.agent.username}",
            action=action,
            account_id=row.account_id,
            conversation_id=row.conversation_id,
            channel="console",
            details={"handoff_id": row.id, **(details or {})},
            now=ctx.gw.clock(),
        )


async def _conversation(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    row = await ctx.router.handoff(handoff_id)
    if row is None or not may_view(ctx.agent, row):
        if row is not None:
            log.warning("agent %s refused handoff %s", ctx.agent.username, handoff_id)
        return _html(pages.message_page("Not found", "There is no such conversation."), 404)
    await _audit_view(
        ctx,
        row,
        "console.transcript_viewed",
        {"account_summary": row.account_id is not None},
    )
    agent = await ctx.router.agent(row.agent_id) if row.agent_id else None
    messages = await ctx.gw.store.messages_after(row.conversation_id, 0)
    account, balance = await _account_and_balance(ctx, row.account_id)
    account_html = pages.account_summary(account, balance, format_cents)
    conv = await ctx.gw.store.get(row.conversation_id)
    context = await desk.handover_context(
        ctx.gw, row, messages, account, conv.external_id if conv else None
    )
    mine = row.agent_id == ctx.agent.id
    canned = desk.canned_replies(
        ctx.gw.profile,
        desk.placeholder_values(ctx.gw.profile, ctx.agent.first_name, account, balance),
    )
    notes = await desk.notes_of(ctx.gw, row.conversation_id)
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
        "noted": "Note saved (staff only).",
    }.get(ctx.request.query.get("m", ""))
    return _html(
        pages.conversation_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            row=_row(row, agent.display_name if agent else None),
            mine=mine,
            messages=messages,
            tz=ctx.gw.profile.timezone,
            account_html=account_html,
            agents=[(a, n) for a, n in others],
            reply_label=(
                f"Reply as {ctx.agent.first_name} "
                f"(sent on the member's {row.channel.upper()} channel)"
            ),
            flash=flash,
            context_html=pages.context_panel(
                context,
                ctx.gw.profile.timezone,
                lambda c: ctx.agent.supervises or c.status == "waiting",
            ),
            canned=canned,
            notes_html=pages.notes_section(
                notes,
                ctx.gw.profile.timezone,
                ctx.session.csrf,
                row.id,
                can_add=mine or ctx.agent.supervises,
            ),
            sms_alphabets=desk.gsm7_alphabets() if row.channel == "sms" else None,
        )
    )


async def _account_and_balance(ctx: Ctx, account_id: int | None) -> tuple[Any, Any]:
    if account_id is None:
        return None, None
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
    return account, balance


async def _take(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    if await ctx.router.take(handoff_id, ctx.agent):
        return _redirect(f"/console/handoffs/{handoff_id}?m=taken")
    return _redirect("/console?m=lost")


async def _is_mine(ctx: Ctx, handoff_id: int) -> bool:
    row = await ctx.router.handoff(handoff_id)
    return row is not None and row.agent_id == ctx.agent.id


async def _reply(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    if not await _is_mine(ctx, handoff_id):
        return web.Response(
            status=409, text="This conversation is not yours to answer (or the reply was empty)."
        )
    text = str(ctx.form.get("text") or "")
    if not text.strip() and ctx.form.get("canned"):
        text = await _canned_text(ctx, handoff_id, str(ctx.form.get("canned")))
    sent = await ctx.router.reply(handoff_id, ctx.agent, text)
    if sent is None:
        return web.Response(
            status=409, text="This conversation is not yours to answer (or the reply was empty)."
        )
    return _redirect(f"/console/handoffs/{handoff_id}#reply")


async def _canned_text(ctx: Ctx, handoff_id: int, canned_id: str) -> str:
    """The chosen canned reply filled from the account; "" when it cannot be filled."""
    row = await ctx.router.handoff(handoff_id)
    account, balance = await _account_and_balance(ctx, row.account_id if row else None)
    values = desk.placeholder_values(ctx.gw.profile, ctx.agent.first_name, account, balance)
    for reply in desk.canned_replies(ctx.gw.profile, values):
        if reply.id == canned_id:
            return reply.text or ""
    return ""


async def _add_note(ctx: Ctx) -> web.StreamResponse:
    """A private note: staff only, stored apart from the conversation's messages."""
    handoff_id = _handoff_id(ctx)
    row = await ctx.router.handoff(handoff_id)
    if row is None or not (ctx.agent.supervises or row.agent_id == ctx.agent.id):
        return web.Response(status=409, text="This conversation is not yours to note.")
    note = await desk.add_note(ctx.gw, row, ctx.agent.id, str(ctx.form.get("text") or ""))
    if note is None:
        return web.Response(status=400, text="The note was empty.")
    await _audit_view(ctx, row, "console.note_added", {"note_id": note.id})
    return _redirect(f"/console/handoffs/{handoff_id}?m=noted#notes")


async def _typing(ctx: Ctx) -> web.StreamResponse:
    """The agent is typing: the member sees "Maria is typing" (their conversation channel)."""
    handoff_id = _handoff_id(ctx)
    row = await ctx.router.handoff(handoff_id)
    if row is None or row.status != "assigned" or row.agent_id != ctx.agent.id:
        return web.json_response({"ok": False}, status=409)
    active = str(ctx.form.get("active") or "1") != "0"
    if row.channel == "web":
        ctx.gw.hub.publish(
            row.conversation_id,
            {"type": "typing", "active": active, "name": ctx.agent.first_name},
        )
    return web.json_response({"ok": True})


async def _transfer(ctx: Ctx) -> web.StreamResponse:
    handoff_id = _handoff_id(ctx)
    if not await _is_mine(ctx, handoff_id):
        return _redirect(f"/console/handoffs/{handoff_id}?m=transfer_failed")
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
    if not await _is_mine(ctx, handoff_id) or not await ctx.router.hand_back(handoff_id, ctx.agent):
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
    if presence == "online":
        await ctx.router.auto_assign()
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
    if waiting and ctx.agent.presence == "online":
        await ctx.router.auto_assign()  # someone may have room again
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
    if conversation_id:
        row = await _viewable_handoff(ctx, conversation_id)
        if row is None:
            log.warning("agent %s refused a live stream", ctx.agent.username)
            return web.json_response({"error": "not_yours"}, status=403)
        await _audit_view(ctx, row, "console.transcript_streamed")
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
                async with (
                    hub.subscribe(conversation_id) as conv_events,
                    hub.subscribe(desk.typing_channel(conversation_id)) as typing_events,
                ):
                    tasks.append(asyncio.create_task(forward(conv_events)))
                    tasks.append(asyncio.create_task(forward(typing_events)))
                    await _stream(ctx, response, merged, conversation_id)
            else:
                await _stream(ctx, response, merged, None)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return response


async def _viewable_handoff(ctx: Ctx, conversation_id: str) -> HandoffRequest | None:
    """The newest handoff of `conversation_id` that this agent may view, if any."""
    async with session_scope(ctx.gw.sessions) as session:
        rows = (
            await session.scalars(
                select(HandoffRequest)
                .where(HandoffRequest.conversation_id == conversation_id)
                .order_by(HandoffRequest.id.desc())
            )
        ).all()
    return next((r for r in rows if may_view(ctx.agent, r)), None)


async def _still_allowed(ctx: Ctx, conversation_id: str | None) -> bool:
    """The stream's session is still live (and, for a conversation, still viewable)."""
    live = await sessions.live_session(ctx.gw.sessions, ctx.session.sid, ctx.gw.clock())
    if live is None or live.agent_id != ctx.agent.id:
        return False
    agent = await ctx.router.agent(ctx.agent.id)
    if agent is None:
        return False
    if conversation_id is None:
        return True
    ctx.agent = agent
    return await _viewable_handoff(ctx, conversation_id) is not None


async def _stream(
    ctx: Ctx,
    response: web.StreamResponse,
    merged: asyncio.Queue[dict[str, Any]],
    conversation_id: str | None,
) -> None:
    """Forward events; every `STREAM_RECHECK_SECONDS` re-check the session and, once it is
    revoked, expired or the conversation no longer viewable, say so and close."""
    await response.write(b": connected\n\n")
    loop = asyncio.get_running_loop()
    last_write = last_check = loop.time()
    while True:
        recheck = STREAM_RECHECK_SECONDS
        try:
            event = await asyncio.wait_for(merged.get(), timeout=min(recheck, 20))
        except TimeoutError:
            event = None
        if loop.time() - last_check >= recheck:
            last_check = loop.time()
            if not await _still_allowed(ctx, conversation_id):
                await response.write(b'event: signed_out\ndata: {"error": "signed_out"}\n\n')
                return
        if event is None:
            if loop.time() - last_write >= 20:
                await response.write(b": keep-alive\n\n")
                last_write = loop.time()
            continue
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
        last_write = loop.time()


async def _search(ctx: Ctx) -> web.StreamResponse:
    """Closed conversations: an agent's own; everyone's for an admin."""
    criteria = search.Criteria.from_query(ctx.request.query)
    results = None
    if not criteria.empty:
        results = await search.search_closed(
            ctx.gw, criteria, agent_id=None if ctx.agent.supervises else ctx.agent.id
        )
        async with session_scope(ctx.gw.sessions) as session:
            await audit.record(
                session,
                actor=f"agent:{ctx.agent.username}",
                action="console.search",
                account_id=None,
                conversation_id=None,
                channel="console",
                details={**criteria.audit(), "results": len(results)},
                now=ctx.gw.clock(),
            )
    return _html(
        search.search_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            criteria=criteria,
            results=results,
            tz=ctx.gw.profile.timezone,
            everyone=ctx.agent.supervises,
        )
    )


def _forbidden() -> web.Response:
    return _html(pages.message_page("Not allowed", "That page is for supervisors."), 403)


async def _team(ctx: Ctx) -> web.StreamResponse:
    if not ctx.agent.supervises:
        return _forbidden()
    flash = ctx.request.query.get("m")
    return _html(
        team.team_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            team=await team.team(ctx.gw),
            now=ctx.gw.clock(),
            limit=ctx.gw.settings.console_agent_limit,
            admin=ctx.agent.is_admin,
            me=ctx.agent.id,
            tz=ctx.gw.profile.timezone,
            flash={
                "reassigned": "Reassigned; the member has been told.",
                "failed": "That didn't work (the conversation may have closed).",
            }.get(flash or "", None),
        )
    )


async def _reassign(ctx: Ctx) -> web.StreamResponse:
    if not ctx.agent.supervises:
        return _forbidden()
    handoff_id = _handoff_id(ctx)
    try:
        target_id = int(str(ctx.form.get("agent_id") or ""))
    except ValueError:
        target_id = 0
    target = await ctx.router.reassign(handoff_id, ctx.agent, target_id)
    if target is None:
        return _redirect("/console/team?m=failed")
    row = await ctx.router.handoff(handoff_id)
    if row is not None:
        await _audit_view(ctx, row, "console.reassigned", {"to": target.username})
    return _redirect("/console/team?m=reassigned")


async def _administer(ctx: Ctx) -> web.StreamResponse:
    """Admins only: disable, enable, reset a password, change a role."""
    if not ctx.agent.is_admin:
        return _forbidden()
    try:
        agent_id = int(ctx.request.match_info["agent_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    action = ctx.request.match_info["action"]
    password_hash = None
    if action == "password":
        password = str(ctx.form.get("password") or "")
        if len(password) < team.MIN_PASSWORD_LENGTH:
            return web.Response(
                status=400, text=f"A password is at least {team.MIN_PASSWORD_LENGTH} characters."
            )
        try:
            password_hash = await ctx.request.app[HASHING].run(hash_password, password)
        except PoolBusy:
            return web.Response(status=503, text="Busy; please try again in a moment.")
    if agent_id == ctx.agent.id and action in ("disable", "role"):
        return web.Response(status=409, text="Ask another admin to change your own account.")
    message = await team.administer(
        ctx.gw,
        f"agent:{ctx.agent.username}",
        agent_id,
        action,
        role=str(ctx.form.get("role") or "") or None,
        password_hash=password_hash,
    )
    if message is None:
        return web.Response(status=400, text="No such agent, or that change is not possible.")
    return _html(pages.message_page("Done", message))


def _days(ctx: Ctx) -> int:
    try:
        days = int(ctx.request.query.get("days", "30"))
    except ValueError:
        days = 30
    return days if days in insights.PERIODS else 30


async def _insights(ctx: Ctx) -> web.StreamResponse:
    if not ctx.agent.supervises:
        return _forbidden()
    days = _days(ctx)
    return _html(
        insights.insights_page(
            agent_name=ctx.agent.display_name,
            presence=ctx.agent.presence,
            csrf=ctx.session.csrf,
            ins=await insights.compute(ctx.gw, days),
            days=days,
            tz=ctx.gw.profile.timezone,
        )
    )


async def _insights_csv(ctx: Ctx) -> web.StreamResponse:
    if not ctx.agent.supervises:
        return _forbidden()
    days = _days(ctx)
    ins = await insights.compute(ctx.gw, days)
    return web.Response(
        text=insights.insights_csv(ins),
        content_type="text/csv",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="jec-insights-{ins.end}-{days}d.csv"',
        },
    )


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
add_note = route(_add_note)
search_closed = route(_search)
team_view = route(_team)
insights_view = route(_insights)
insights_csv = route(_insights_csv)
reassign = route(_reassign)
administer = route(_administer)
typing = route(_typing, refresh=False)
presence = route(_presence)
heartbeat = route(_heartbeat, refresh=False)
callback_done = route(_callback_done)
service_request_done = route(_service_request_done)
events = route(_events, refresh=False)
