"""What an agent sees around a handed-over conversation, and the tools to answer it faster.

- `handover_context`: the summary at the top of a conversation page (who, verified how, what
  they asked, what the assistant already answered, the journey they were in), the member's
  channel and local time, and earlier handoffs of the same member, account or phone.
- `canned_replies`: the profile's ready-made replies (`canned_replies` in profiles/*.yml) with
  `{first_name}`, `{amount_due}`, `{due_date}`, ... filled from the verified account; a reply
  whose placeholder has no value (no verified account) is offered as unavailable, never sent
  with a hole in it.
- private notes (`handoff_notes`): staff only; they are not conversation messages, so no
  delivery path (WebSocket replay, SMS, the outbox) can ever pick one up.
- typing: the agent's typing goes to the member's conversation channel ("Maria is typing"); the
  member's typing goes to `typing_channel(conversation_id)`, which only a console stream of that
  conversation subscribes to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from bot.core.gsm7 import GSM7_BASIC, GSM7_EXTENDED
from bot.core.money import format_cents
from bot.gateway.conversations import StoredMessage
from bot.gateway.masking import mask_inbound
from bot.gateway.state import Gateway
from bot.profile import CoopProfile
from bot.store.db import session_scope
from bot.store.models import Agent, HandoffNote, HandoffRequest

NOTE_MAX_CHARS = 2000
EARLIER_LIMIT = 5
TIER_HOW = {
    "public": "not verified",
    "verified": "verified",
    "confirmed": "confirmed with a one-time code",
}
JOURNEY_NAMES = {
    "pay bill": "making a payment",
    "payment": "making a payment",
    "outage": "reporting an outage",
    "report outage": "reporting an outage",
    "draft": "setting up a bank draft",
    "bank draft": "setting up a bank draft",
}


def typing_channel(conversation_id: str) -> str:
    """The hub channel of the member's typing in one conversation (console streams only)."""
    return f"console:typing:{conversation_id}"


def gsm7_alphabets() -> tuple[str, str]:
    """The GSM-7 basic and extended characters, for the console's SMS length counter."""
    return "".join(sorted(GSM7_BASIC)), "".join(sorted(GSM7_EXTENDED))


@dataclass(frozen=True)
class EarlierConversation:
    handoff_id: int
    created_at: datetime | None
    channel: str
    topic: str | None
    status: str
    agent_name: str | None


@dataclass(frozen=True)
class HandoverContext:
    who: str
    verified: str
    asked: str | None
    assistant_said: tuple[str, ...]
    journey: str | None
    channel: str
    member_time: str
    earlier: tuple[EarlierConversation, ...] = field(default=())


def _who(account: Any | None, conv_channel: str, external_id: str | None) -> str:
    if account is not None:
        name = f"{account.member_first_name} {account.member_last_name}".strip()
        return f"{name or 'Member'}, account ending {account.last4}"
    if conv_channel == "sms" and external_id:
        return f"Texting from ***{external_id[-4:]}, account not verified"
    return "Not identified (no account verified in this chat)"


def _asked(row: HandoffRequest, before: list[StoredMessage]) -> str | None:
    if row.summary:
        return row.summary
    texts = [m.text for m in before if m.sender == "member" and m.text.strip()]
    return " / ".join(f'"{t}"' for t in texts[-3:]) or None


async def handover_context(
    gw: Gateway,
    row: HandoffRequest,
    messages: list[StoredMessage],
    account: Any | None,
    external_id: str | None,
) -> HandoverContext:
    tz = gw.profile.timezone
    now = gw.clock()
    before = [
        m
        for m in messages
        if m.created_at is None or row.created_at is None or m.created_at <= row.created_at
    ]
    bot_said = [
        m.text
        for m in before
        if m.sender == "bot" and m.text.strip() and not m.payload.get("custom")
    ]
    local = now.astimezone(tz)
    topic = (row.topic or "").strip() or None
    journey = JOURNEY_NAMES.get(topic.lower(), topic) if topic else None
    return HandoverContext(
        who=_who(account, row.channel, external_id),
        verified=TIER_HOW.get(row.verified_tier, row.verified_tier)
        + (f" ({row.verified_how})" if row.verified_how else ""),
        asked=_asked(row, before),
        assistant_said=tuple(bot_said[-3:]),
        journey=journey,
        channel="Text message (SMS)" if row.channel == "sms" else "Web chat",
        member_time=f"{local:%-I:%M %p} {local.tzname()} ({local:%A})",
        earlier=tuple(await earlier_conversations(gw, row)),
    )


async def earlier_conversations(gw: Gateway, row: HandoffRequest) -> list[EarlierConversation]:
    """Other handoffs of this member: same member, same account, or the same conversation (an
    SMS conversation is one per phone number), newest first."""
    same = [HandoffRequest.conversation_id == row.conversation_id]
    if row.member_id is not None:
        same.append(HandoffRequest.member_id == row.member_id)
    if row.account_id is not None:
        same.append(HandoffRequest.account_id == row.account_id)
    async with session_scope(gw.sessions) as session:
        result = await session.execute(
            select(HandoffRequest, Agent.display_name)
            .outerjoin(Agent, Agent.id == HandoffRequest.agent_id)
            .where(HandoffRequest.id != row.id, or_(*same))
            .order_by(HandoffRequest.created_at.desc(), HandoffRequest.id.desc())
            .limit(EARLIER_LIMIT)
        )
        return [
            EarlierConversation(h.id, h.created_at, h.channel, h.topic, h.status, name)
            for h, name in result.all()
        ]


# -- canned replies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilledReply:
    id: str
    title: str
    text: str | None  # None: a placeholder has no value in this conversation
    missing: tuple[str, ...] = ()


def placeholder_values(
    profile: CoopProfile, agent_first_name: str, account: Any | None, balance: Any | None
) -> dict[str, str]:
    values = {
        "agent_name": agent_first_name,
        "member_services_phone": profile.phones.member_services,
    }
    if account is not None and account.member_first_name:
        values["first_name"] = account.member_first_name
    if balance is not None:
        values["amount_due"] = format_cents(balance.amount_due_cents)
        if balance.due_date is not None:
            values["due_date"] = f"{balance.due_date:%B} {balance.due_date.day}"
    return values


def canned_replies(profile: CoopProfile, values: dict[str, str]) -> list[FilledReply]:
    out = []
    for reply in profile.canned_replies:
        missing = tuple(sorted(reply.placeholders - values.keys()))
        text = None if missing else reply.text.format(**values)
        out.append(FilledReply(reply.id, reply.title, text, missing))
    return out


# -- private notes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    id: int
    agent_name: str
    text: str
    created_at: datetime


async def add_note(gw: Gateway, row: HandoffRequest, agent_id: int, text: str) -> Note | None:
    text = mask_inbound(text.strip()[:NOTE_MAX_CHARS]).text.strip()
    if not text:
        return None
    now = gw.clock()
    async with session_scope(gw.sessions) as session:
        note = HandoffNote(
            handoff_id=row.id,
            conversation_id=row.conversation_id,
            agent_id=agent_id,
            text=text,
            created_at=now,
        )
        session.add(note)
        await session.flush()
        agent = await session.get(Agent, agent_id)
        return Note(note.id, agent.display_name if agent else "Agent", text, now)


async def notes_of(gw: Gateway, conversation_id: str) -> list[Note]:
    """Every note on this conversation (all its handoffs), oldest first."""
    async with session_scope(gw.sessions) as session:
        result = await session.execute(
            select(HandoffNote, Agent.display_name)
            .outerjoin(Agent, Agent.id == HandoffNote.agent_id)
            .where(HandoffNote.conversation_id == conversation_id)
            .order_by(HandoffNote.id)
        )
        return [Note(n.id, name or "Agent", n.text, n.created_at) for n, name in result.all()]
