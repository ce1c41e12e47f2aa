"""Handoff, talking to a person: the queue for an agent, callback requests and when either applies.

Why this lives here and not in an action: the gateway (queue, agent console) and the assistant
(the member asking) both read and write the same queue, so the rules sit in one plain, typed module
with no Rasa types. Every function that depends on the time takes `now` (aware) so tests fix it.

The rules, in the member's words:
- A person can take the chat only during agent hours (`agent_hours` in the profile, co-op holidays
  closed) and only when at least one agent is online and was seen in the last two minutes (the
  console bumps `last_seen_at`; a closed laptop stops counting). Otherwise the member is offered a
  callback and the 24/7 line for outages.
- The queue is first come, first served: a member's place is 1 + the number of waiting requests
  made before theirs. A request already assigned to an agent has place 0.
- The wait estimate is deliberately simple and said as "usually about N minutes": every member in
  line up to and including this one takes about `MINUTES_PER_MEMBER` minutes of one agent, shared
  among the agents online, rounded up to whole members per agent.
- Asking twice never queues twice: an open (waiting or assigned) request for the conversation is
  returned as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.masking import mask_sensitive
from bot.core.phones import normalize_phone
from bot.services import events
from bot.services.office_hours import OfficeHours, format_clock
from bot.store.models import Agent, CallbackRequest, HandoffRequest

Decision = Literal["queue", "closed", "no_agents"]

MINUTES_PER_MEMBER = 4
STALE_AFTER = timedelta(minutes=2)
OPEN_STATUSES = ("waiting", "assigned")
SUMMARY_MAX_CHARS = 600
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the handoff service needs a timezone-aware `now`")
    return now


@dataclass(frozen=True)
class HandoffTicket:
    """What the member is told after asking for a person."""

    handoff_id: int
    status: str  # waiting|assigned
    position: int  # 1 = next in line; 0 = already with an agent
    estimated_wait: timedelta
    created: bool  # False when an open request already existed (asked twice)


# -- availability ---------------------------------------------------------------------------------


async def agents_available(
    session: AsyncSession, now: datetime, stale_after: timedelta = STALE_AFTER
) -> int:
    """Agents whose presence is `online` and whose console was seen within `stale_after`."""
    since = _aware(now) - stale_after
    count = await session.scalar(
        select(func.count(Agent.id)).where(Agent.presence == "online", Agent.last_seen_at >= since)
    )
    return int(count or 0)


async def least_loaded_agent(
    session: AsyncSession, now: datetime, limit: int, stale_after: timedelta = STALE_AFTER
) -> int | None:
    """The agent to give the next waiting conversation to: online, seen within `stale_after`,
    not disabled, with fewer than `limit` open conversations; the fewest first, then the one
    whose last conversation was given longest ago, then the lowest id. None when nobody fits."""
    since = _aware(now) - stale_after
    load = (
        select(
            HandoffRequest.agent_id.label("agent_id"),
            func.count(HandoffRequest.id).label("open"),
            func.max(HandoffRequest.assigned_at).label("last"),
        )
        .where(HandoffRequest.status == "assigned")
        .group_by(HandoffRequest.agent_id)
        .subquery()
    )
    open_count = func.coalesce(load.c.open, 0)
    row = (
        await session.execute(
            select(Agent.id, open_count)
            .outerjoin(load, load.c.agent_id == Agent.id)
            .where(
                Agent.presence == "online",
                Agent.last_seen_at >= since,
                Agent.disabled_at.is_(None),
                open_count < limit,
            )
            .order_by(open_count, load.c.last.is_not(None), load.c.last, Agent.id)
            .limit(1)
        )
    ).first()
    return int(row[0]) if row else None


def handoff_decision(now: datetime, office_hours: OfficeHours, agents_online: int) -> Decision:
    """`queue` in agent hours with someone online, `closed` outside agent hours or on a holiday,
    `no_agents` in hours with nobody online."""
    if not office_hours.is_open(_aware(now), schedule="agents"):
        return "closed"
    return "queue" if agents_online > 0 else "no_agents"


# -- the queue ------------------------------------------------------------------------------------


async def queue_position(session: AsyncSession, handoff_id: int) -> int:
    """1 + waiting requests made before this one; 0 when assigned. LookupError if unknown or
    closed."""
    request = await session.get(HandoffRequest, handoff_id)
    if request is None or request.status not in OPEN_STATUSES:
        raise LookupError(f"no open handoff request {handoff_id}")
    if request.status == "assigned":
        return 0
    ahead = await session.scalar(
        select(func.count(HandoffRequest.id)).where(
            HandoffRequest.status == "waiting",
            or_(
                HandoffRequest.created_at < request.created_at,
                and_(
                    HandoffRequest.created_at == request.created_at, HandoffRequest.id < request.id
                ),
            ),
        )
    )
    return int(ahead or 0) + 1


def estimated_wait(
    position: int, agents_online: int = 1, minutes_per_member: int = MINUTES_PER_MEMBER
) -> timedelta:
    """About `minutes_per_member` per member in line up to this one, shared among the agents.

    Number 1 with one agent: 4 minutes; number 2: 8; number 3 with two agents: 8. Already with an
    agent (position 0): no wait.
    """
    if position <= 0:
        return timedelta(0)
    rounds = math.ceil(position / max(agents_online, 1))
    return timedelta(minutes=rounds * minutes_per_member)


async def _open_request(session: AsyncSession, conversation_id: str) -> HandoffRequest | None:
    return await session.scalar(
        select(HandoffRequest)
        .where(
            HandoffRequest.conversation_id == conversation_id,
            HandoffRequest.status.in_(OPEN_STATUSES),
        )
        .order_by(HandoffRequest.id)
        .limit(1)
    )


async def request_handoff(
    session: AsyncSession,
    *,
    conversation_id: str,
    channel: str,
    topic: str | None,
    summary: str | None,
    verified_tier: str,
    verified_how: str | None,
    account_id: int | None,
    member_id: int | None,
    now: datetime,
    agents_online: int = 1,
) -> HandoffTicket:
    """Put the conversation in the queue (or return its open request) and say where it stands.

    Topic and summary are masked (card and bank numbers) and trimmed before they are stored, so
    the agent console never shows a number the member should not have typed.
    """
    now = _aware(now)
    request = await _open_request(session, conversation_id)
    created = request is None
    if request is None:
        request = HandoffRequest(
            conversation_id=conversation_id,
            channel=channel,
            status="waiting",
            topic=_clean(topic, 200),
            summary=_clean(summary, SUMMARY_MAX_CHARS),
            verified_tier=verified_tier or "public",
            verified_how=verified_how,
            account_id=account_id,
            member_id=member_id,
            created_at=now,
        )
        session.add(request)
        await session.flush()
    position = await queue_position(session, request.id)
    return HandoffTicket(
        handoff_id=request.id,
        status=request.status,
        position=position,
        estimated_wait=estimated_wait(position, agents_online),
        created=created,
    )


async def cancel_handoff(session: AsyncSession, conversation_id: str, now: datetime) -> bool:
    """The member leaves the queue: a waiting request becomes `abandoned`. True if one was waiting.

    A request an agent already took is left alone: the agent ends it from the console.
    """
    now = _aware(now)
    request = await _open_request(session, conversation_id)
    if request is None or request.status != "waiting":
        return False
    request.status = "abandoned"
    request.ended_at = now
    await session.flush()
    return True


def _clean(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    masked = mask_sensitive(" ".join(text.split())).text
    if len(masked) > limit:
        masked = masked[: limit - 3].rstrip() + "..."
    return masked or None


# -- callbacks ------------------------------------------------------------------------------------


async def create_callback(
    session: AsyncSession,
    *,
    conversation_id: str | None,
    channel: str,
    name: str | None,
    phone: str,
    best_time: str | None,
    topic: str | None,
    account_id: int | None,
    verified_tier: str,
    now: datetime,
) -> CallbackRequest:
    """Record a callback request for staff. `phone` must be E.164 (see `normalize_phone`).

    Submitting the same number twice from one conversation returns the open request instead of
    making staff call twice.
    """
    now = _aware(now)
    if normalize_phone(phone) != phone:
        raise ValueError("callback phone must be a valid E.164 number")
    if conversation_id is not None:
        existing = await session.scalar(
            select(CallbackRequest).where(
                CallbackRequest.conversation_id == conversation_id,
                CallbackRequest.phone == phone,
                CallbackRequest.status == "open",
            )
        )
        if existing is not None:
            return existing
    request = CallbackRequest(
        conversation_id=conversation_id,
        channel=channel,
        name=_clean(name, 120),
        phone=phone,
        best_time=_clean(best_time, 120),
        topic=_clean(topic, 200),
        account_id=account_id,
        verified_tier=verified_tier or "public",
        status="open",
        created_at=now,
    )
    session.add(request)
    await session.flush()
    await events.publish(
        session,
        "callback_request.created",
        occurred_at=now,
        data={
            "callback_request_id": request.id,
            "name": request.name,
            "phone": phone,
            "best_time": request.best_time,
            "topic": request.topic,
            "verified_tier": request.verified_tier,
        },
        account_id=account_id,
        channel=channel,
        conversation_id=conversation_id,
    )
    return request


# -- member-facing wording -------------------------------------------------------------------


def _day_phrase(moment: datetime, local_now: datetime) -> str:
    days = (moment.date() - local_now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    name = _DAY_NAMES[moment.weekday()]
    if days < 7:
        return f"on {name}"
    return f"on {name}, {moment:%b} {moment.day}"


def callback_when(now: datetime, office_hours: OfficeHours) -> str:
    """When staff will call: "today before 5 PM", "on Monday after 8 AM", "tomorrow after 8 AM"."""
    local = _aware(now).astimezone(office_hours.tz)
    closes = office_hours.closes_at(now, schedule="agents")
    if closes is not None:
        return f"today before {format_clock(closes.time())}"
    opening = office_hours.next_opening(now, schedule="agents")
    return f"{_day_phrase(opening, local)} after {format_clock(opening.time())}"


def closed_sentence(now: datetime, office_hours: OfficeHours) -> str:
    """ "Our office is closed now. We open Monday at 8 AM." (agent hours; names a holiday)."""
    local = _aware(now).astimezone(office_hours.tz)
    opening = office_hours.next_opening(now, schedule="agents")
    holiday = office_hours.profile.holiday_on(local.date())
    closed = (
        f"Our office is closed today for {holiday.name}."
        if holiday
        else "Our office is closed now."
    )
    when = _day_phrase(opening, local)
    when = when[3:] if when.startswith("on ") else when
    return f"{closed} We open {when} at {format_clock(opening.time())}."


def wait_phrase(ticket: HandoffTicket) -> str:
    """ "You're number 2 in line, usually about 8 minutes." or the assigned case."""
    if ticket.position <= 0:
        return "A member of our team has your chat now."
    minutes = max(1, round(ticket.estimated_wait.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"You're number {ticket.position} in line, usually about {minutes} {unit}."
