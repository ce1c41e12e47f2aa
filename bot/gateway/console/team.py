"""The supervisor view (`/console/team`) and agent administration in the console.

Supervisors and admins see every agent (online, away or offline; "not seen" when an online
agent's console went quiet), their open conversations against the per-agent limit, the queue's
length and longest wait, the phones and emails our messages kept failing to reach (last 30 days),
and may reassign a conversation. Admins also disable and enable agents,
reset a password and change a role. Every change is audit-logged (`agents.*`,
`console.reassigned`); a password reset, a disable and a role change end the agent's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.gateway.console.pages import e, layout, waited
from bot.gateway.state import Gateway
from bot.ops.integration import UNDELIVERABLE, summarise_undeliverable
from bot.services import audit
from bot.services.handoff import STALE_AFTER
from bot.store.db import session_scope
from bot.store.models import Agent, ConsoleSessionRow, HandoffRequest, OutboxMessage

ROLES = ("agent", "supervisor", "admin")
MIN_PASSWORD_LENGTH = 12
UNDELIVERABLE_DAYS = timedelta(days=30)  # the team page lists contacts given up on since then


@dataclass(frozen=True)
class AgentLoad:
    id: int
    username: str
    display_name: str
    role: str
    presence: str  # online | away | offline | not seen
    open: int
    disabled: bool


@dataclass(frozen=True)
class Assigned:
    handoff_id: int
    channel: str
    topic: str | None
    agent_id: int | None
    agent_name: str | None
    since: datetime | None


@dataclass(frozen=True)
class Team:
    agents: list[AgentLoad]
    waiting: int
    longest_wait_since: datetime | None
    assigned: list[Assigned]
    # phones and emails our texts and emails kept failing to reach (bot/adapters/delivery.py)
    undeliverable: list[dict[str, Any]] = field(default_factory=list)


def role_of(agent: Agent) -> str:
    return "admin" if agent.is_admin else (agent.role or "agent")


async def team(gw: Gateway) -> Team:
    now = gw.clock()
    async with session_scope(gw.sessions) as session:
        load = dict(
            (
                await session.execute(
                    select(HandoffRequest.agent_id, func.count(HandoffRequest.id))
                    .where(HandoffRequest.status == "assigned")
                    .group_by(HandoffRequest.agent_id)
                )
            ).all()
        )
        agents = (await session.execute(select(Agent).order_by(Agent.display_name))).scalars()
        loads = []
        for a in agents:
            presence = a.presence
            if presence == "online" and (
                a.last_seen_at is None or a.last_seen_at < now - STALE_AFTER
            ):
                presence = "not seen"
            loads.append(
                AgentLoad(
                    a.id,
                    a.username,
                    a.display_name,
                    role_of(a),
                    presence,
                    int(load.get(a.id, 0)),
                    a.disabled_at is not None,
                )
            )
        waiting, oldest = (
            await session.execute(
                select(func.count(HandoffRequest.id), func.min(HandoffRequest.created_at)).where(
                    HandoffRequest.status == "waiting"
                )
            )
        ).one()
        assigned = [
            Assigned(h.id, h.channel, h.topic, h.agent_id, name, h.assigned_at or h.created_at)
            for h, name in (
                await session.execute(
                    select(HandoffRequest, Agent.display_name)
                    .outerjoin(Agent, Agent.id == HandoffRequest.agent_id)
                    .where(HandoffRequest.status == "assigned")
                    .order_by(HandoffRequest.created_at)
                )
            ).all()
        ]
        recent = UNDELIVERABLE.where(OutboxMessage.gave_up_at >= now - UNDELIVERABLE_DAYS)
        undeliverable = summarise_undeliverable((await session.scalars(recent)).all())
    return Team(loads, int(waiting or 0), oldest, assigned, undeliverable)


async def _revoke_all(session: AsyncSession, agent_id: int, reason: str, now: datetime) -> None:
    await session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.agent_id == agent_id, ConsoleSessionRow.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


async def administer(
    gw: Gateway,
    actor: str,
    agent_id: int,
    action: str,
    *,
    role: str | None = None,
    password_hash: str | None = None,
) -> str | None:
    """Disable, enable, reset the password (an argon2 hash) or change the role of an agent.
    Returns the flash message, or None when the agent does not exist or the request is wrong."""
    now = gw.clock()
    async with session_scope(gw.sessions) as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            return None
        details: dict[str, Any] = {"agent": agent.username}
        audited = {
            "disable": "agents.disabled",
            "enable": "agents.enabled",
            "password": "agents.password_reset",
            "role": "agents.role_changed",
        }.get(action, "")
        if action == "disable":
            agent.disabled_at = agent.disabled_at or now
            agent.presence = "offline"
            await _revoke_all(session, agent.id, "agent_disabled", now)
            message = f"{agent.display_name} is disabled; their sessions ended."
        elif action == "enable":
            agent.disabled_at = None
            message = f"{agent.display_name} may sign in again."
        elif action == "password" and password_hash:
            agent.password_hash = password_hash
            await _revoke_all(session, agent.id, "password_changed", now)
            message = f"New password set for {agent.display_name}; their sessions ended."
        elif action == "role" and role in ROLES:
            details.update({"from": role_of(agent), "to": role})
            agent.role, agent.is_admin = role, role == "admin"
            await _revoke_all(session, agent.id, "role_changed", now)
            message = f"{agent.display_name} is now {role}; they sign in again."
        else:
            return None
        await audit.record(
            session,
            actor=actor,
            action=audited,
            channel="console",
            details=details,
            now=now,
        )
    return message


def _local(when: Any, tz: tzinfo) -> str:
    """A stored time as the co-op's local date and time ("Dec 1, 4:05 PM")."""
    if not isinstance(when, datetime):
        return "-"
    local = when.astimezone(tz)
    return f"{local:%b} {local.day}, {local:%I:%M %p}".replace(" 0", " ")


def team_page(
    *,
    agent_name: str,
    presence: str,
    csrf: str,
    team: Team,
    now: datetime,
    limit: int,
    admin: bool,
    me: int,
    flash: str | None = None,
    tz: tzinfo = UTC,
) -> str:
    note = f'<p class="notice" role="status">{e(flash)}</p>' if flash else ""
    hidden = f'<input type="hidden" name="csrf" value="{e(csrf)}">'
    rows = []
    for a in team.agents:
        admin_cells = ""
        if admin:
            toggle = "enable" if a.disabled else "disable"
            role_options = "".join(
                f'<option value="{r}"{" selected" if r == a.role else ""}>{r}</option>'
                for r in ROLES
            )
            admin_cells = f"""<td>
              <form method="post" action="/console/agents/{a.id}/{toggle}" class="inline">{hidden}
                <button type="submit" class="secondary"
                  aria-label="{toggle.title()} {e(a.display_name)}">{toggle.title()}</button>
              </form>
              <form method="post" action="/console/agents/{a.id}/role" class="inline">{hidden}
                <label for="role-{a.id}" class="sr">Role of {e(a.display_name)}</label>
                <select id="role-{a.id}" name="role">{role_options}</select>
                <button type="submit" class="secondary"
                  aria-label="Change the role of {e(a.display_name)}">Change role</button>
              </form>
              <form method="post" action="/console/agents/{a.id}/password" class="inline">{hidden}
                <label for="pw-{a.id}" class="sr">New password for {e(a.display_name)}</label>
                <input id="pw-{a.id}" name="password" type="password" minlength="12"
                  autocomplete="new-password" placeholder="New password (12+)">
                <button type="submit" class="secondary"
                  aria-label="Reset the password of {e(a.display_name)}">Reset password</button>
              </form></td>"""
        rows.append(
            f"""<tr><td>{e(a.display_name)} <span class="muted">({e(a.username)})</span></td>
            <td>{e(a.role)}</td><td>{e("disabled" if a.disabled else a.presence)}</td>
            <td>{a.open} of {limit}</td>{admin_cells}</tr>"""
        )
    admin_head = '<th scope="col">Administer</th>' if admin else ""
    agents_table = f"""<table id="team"><caption>Agents</caption><thead><tr>
      <th scope="col">Agent</th><th scope="col">Role</th><th scope="col">Presence</th>
      <th scope="col">Open conversations</th>{admin_head}</tr></thead>
      <tbody>{"".join(rows)}</tbody></table>"""
    choices = [(a.id, a.display_name) for a in team.agents if not a.disabled]
    assigned_rows = "".join(
        f"""<tr><td><a href="/console/handoffs/{c.handoff_id}">{e(c.channel.upper())} - {
            e(c.topic or "conversation")
        }</a></td><td>{e(c.agent_name or "-")}</td><td>{e(waited(c.since, now))}</td><td>
        <form method="post" action="/console/handoffs/{c.handoff_id}/reassign" class="inline">
          {hidden}<label for="to-{c.handoff_id}" class="sr">Reassign {
            e(c.topic or "conversation")
        } to</label><select id="to-{c.handoff_id}" name="agent_id">{
            "".join(f'<option value="{i}">{e(n)}</option>' for i, n in choices if i != c.agent_id)
        }</select><button type="submit">Reassign</button></form></td></tr>"""
        for c in team.assigned
    )
    assigned_table = (
        f"""<table id="assigned"><caption>Conversations with agents</caption><thead><tr>
        <th scope="col">Conversation</th><th scope="col">Agent</th><th scope="col">For</th>
        <th scope="col"><span class="sr">Reassign</span></th></tr></thead>
        <tbody>{assigned_rows}</tbody></table>"""
        if team.assigned
        else '<p class="muted">No conversation is with an agent.</p>'
    )
    longest = waited(team.longest_wait_since, now) if team.longest_wait_since else "-"
    undeliverable_rows = "".join(
        f"""<tr><td>{e("Text" if u["channel"] == "sms" else "Email")}</td>
        <td>{e(u["to"])}</td><td>{u["messages"]}</td><td>{u["email_copies"]}</td>
        <td>{e(_local(u["last_failed_at"], tz))}</td>
        <td>{e(u["last_error"] or "-")}</td></tr>"""
        for u in team.undeliverable
    )
    undeliverable_table = (
        f"""<table id="undeliverable"><caption>Undeliverable contacts, last 30 days
        (correct them in the billing system or with the member)</caption><thead><tr>
        <th scope="col">Channel</th><th scope="col">Contact</th>
        <th scope="col">Messages given up</th><th scope="col">Emailed instead</th>
        <th scope="col">Last failed</th><th scope="col">Reason</th></tr></thead>
        <tbody>{undeliverable_rows}</tbody></table>"""
        if team.undeliverable
        else '<p class="muted" id="undeliverable">'
        "No undeliverable contacts in the last 30 days.</p>"
    )
    body = f"""
    <p><a href="/console">Back to the queue</a></p>
    <h1>Team</h1>{note}
    <dl id="queue-stats"><dt>Waiting</dt><dd>{team.waiting}</dd>
      <dt>Longest wait</dt><dd>{e(longest)}</dd></dl>
    {agents_table}{assigned_table}{undeliverable_table}"""
    return layout("Team", body, agent_name=agent_name, csrf=csrf, presence=presence, page="team")
