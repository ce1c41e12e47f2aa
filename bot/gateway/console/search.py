"""Closed conversations, searchable by member, account, date, agent and text (`/console/search`).

A closed conversation is a handoff that ended (handed back) or was abandoned. An agent finds
their own; an admin or supervisor finds everyone's. Every search writes an audit entry (the
criteria, never a result's text), since it reads member transcripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select

from bot.gateway.console.pages import e, layout
from bot.gateway.state import Gateway
from bot.store.db import session_scope
from bot.store.models import Account, Agent, ConversationMessage, HandoffRequest, Member

CLOSED = ("ended", "abandoned")
MAX_RESULTS = 50


@dataclass(frozen=True)
class Criteria:
    member: str = ""
    account: str = ""
    agent: str = ""
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_query(cls, query: Any) -> Criteria:
        def day(key: str) -> date | None:
            try:
                return date.fromisoformat(str(query.get(key) or ""))
            except ValueError:
                return None

        def text(key: str) -> str:
            return " ".join(str(query.get(key) or "").split())[:100]

        return cls(
            text("member"), text("account"), text("agent"), text("text"), day("from"), day("to")
        )

    @property
    def empty(self) -> bool:
        return not any(
            (self.member, self.account, self.agent, self.text, self.date_from, self.date_to)
        )

    def audit(self) -> dict[str, Any]:
        """What the audit log keeps: which fields were used, and the dates."""
        return {
            "fields": [
                k
                for k, v in (
                    ("member", self.member),
                    ("account", self.account),
                    ("agent", self.agent),
                    ("text", self.text),
                )
                if v
            ],
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }


@dataclass(frozen=True)
class Found:
    handoff_id: int
    created_at: datetime
    channel: str
    topic: str | None
    status: str
    member: str | None
    account_last4: str | None
    agent: str | None
    score: int | None


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"


async def search_closed(gw: Gateway, criteria: Criteria, *, agent_id: int | None) -> list[Found]:
    """Closed conversations matching every given criterion, newest first. `agent_id`: only that
    agent's (None: everyone's, for admins and supervisors)."""
    tz = gw.profile.timezone
    query = (
        select(HandoffRequest, Agent.display_name, Member, Account.account_number)
        .outerjoin(Agent, Agent.id == HandoffRequest.agent_id)
        .outerjoin(Account, Account.id == HandoffRequest.account_id)
        .outerjoin(Member, Member.id == func.coalesce(HandoffRequest.member_id, Account.member_id))
        .where(HandoffRequest.status.in_(CLOSED))
    )
    if agent_id is not None:
        query = query.where(HandoffRequest.agent_id == agent_id)
    if criteria.member:
        like = _like(criteria.member)
        full = func.lower(Member.first_name + " " + Member.last_name)
        query = query.where(
            or_(
                full.like(like, escape="\\"),
                func.lower(Member.member_number).like(like, escape="\\"),
            )
        )
    if criteria.account:
        digits = "".join(ch for ch in criteria.account if ch.isdigit())
        query = query.where(Account.account_number.like(f"%{digits or '-'}", escape="\\"))
    if criteria.agent:
        like = _like(criteria.agent)
        query = query.where(
            or_(
                func.lower(Agent.display_name).like(like, escape="\\"),
                func.lower(Agent.username).like(like, escape="\\"),
            )
        )
    if criteria.text:
        like = _like(criteria.text)
        query = query.where(
            exists().where(
                ConversationMessage.conversation_id == HandoffRequest.conversation_id,
                func.lower(ConversationMessage.text).like(like, escape="\\"),
            )
        )
    if criteria.date_from:
        query = query.where(
            HandoffRequest.created_at >= datetime.combine(criteria.date_from, time(), tz)
        )
    if criteria.date_to:
        query = query.where(
            HandoffRequest.created_at
            < datetime.combine(criteria.date_to + timedelta(days=1), time(), tz)
        )
    query = query.order_by(HandoffRequest.created_at.desc(), HandoffRequest.id.desc()).limit(
        MAX_RESULTS
    )
    async with session_scope(gw.sessions) as session:
        result = (await session.execute(query)).all()
    return [
        Found(
            h.id,
            h.created_at,
            h.channel,
            h.topic,
            h.status,
            f"{m.first_name} {m.last_name}".strip() if m else None,
            number[-4:] if number else None,
            name,
            h.survey_score,
        )
        for h, name, m, number in result
    ]


def search_page(
    *,
    agent_name: str,
    presence: str,
    csrf: str,
    criteria: Criteria,
    results: list[Found] | None,
    tz: Any,
    everyone: bool,
) -> str:
    def field(name: str, label: str, value: Any, kind: str = "text") -> str:
        return (
            f'<label for="s-{name}">{e(label)}</label>'
            f'<input id="s-{name}" name="{name}" type="{kind}" value="{e(value or "")}">'
        )

    form = f"""
    <form method="get" action="/console/search" class="search-form" role="search"
      aria-label="Closed conversations">
      {field("member", "Member name or number", criteria.member)}
      {field("account", "Account number (or its last digits)", criteria.account)}
      {field("agent", "Agent", criteria.agent)}
      {field("text", "Words in the conversation", criteria.text)}
      {field("from", "From", criteria.date_from, "date")}
      {field("to", "To", criteria.date_to, "date")}
      <button type="submit">Search</button>
    </form>"""
    if results is None:
        listing = '<p class="muted">Enter at least one thing to search for.</p>'
    elif not results:
        listing = '<p role="status">No closed conversations match.</p>'
    else:
        rows = "".join(
            f"""<tr><td><a href="/console/handoffs/{r.handoff_id}">{
                e(r.created_at.astimezone(tz).strftime("%b %-d, %Y %-I:%M %p"))
            }</a></td><td>{e(r.channel.upper())}</td><td>{e(r.member or "-")}</td>
            <td>{e("ending " + r.account_last4 if r.account_last4 else "-")}</td>
            <td>{e(r.topic or "-")}</td><td>{e(r.agent or "-")}</td><td>{e(r.status)}</td>
            <td>{e(r.score if r.score is not None else "-")}</td></tr>"""
            for r in results
        )
        listing = f"""<table id="search-results"><caption>{len(results)} closed conversation{
            "" if len(results) == 1 else "s"
        }, newest first</caption><thead><tr><th scope="col">When</th><th scope="col">Channel</th>
        <th scope="col">Member</th><th scope="col">Account</th><th scope="col">Topic</th>
        <th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Rating</th></tr>
        </thead><tbody>{rows}</tbody></table>"""
    scope = "everyone's" if everyone else "yours"
    body = f"""
    <p><a href="/console">Back to the queue</a></p>
    <h1>Closed conversations</h1>
    <p class="muted">Searching {scope}; every search is audit-logged.</p>{form}{listing}"""
    return layout(
        "Closed conversations",
        body,
        agent_name=agent_name,
        csrf=csrf,
        presence=presence,
        page="search",
    )
