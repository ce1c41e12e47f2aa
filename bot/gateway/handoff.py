"""Handoff routing in the gateway: bot -> queue -> agent -> back to the bot.

The assistant asks for a person with the custom payload `{"handoff": {"status": "queued",
"handoff_id": N}}` and pauses its own conversation (docs/handoff-contract.md). From then on:

- the conversation's mode is `queued`: member messages are stored and shown in the console, the
  assistant stays silent; "never mind" leaves the queue (the handoff is cancelled, Rasa resumed,
  and the message goes to the assistant as an ordinary turn);
- an agent takes it (`take`: one conditional UPDATE, so exactly one of two agents clicking at once
  wins) and the mode is `agent`; agent replies go out on the member's channel, labelled with the
  agent's first name;
- the agent transfers it, or ends it: the mode returns to `bot`, Rasa is resumed through its HTTP
  API (token auth, a timeout) and the hand-back intent is triggered, so the bot says it's back;
- a conversation still waiting when agent hours end gets an honest message and a callback request
  (`sweep_after_hours`, run periodically; every step is a conditional UPDATE, so two sweeps or two
  replicas never handle one conversation twice).

The router learns what happens in a conversation by listening to the conversation service's
events (`bot.gateway.events`: `member_message`, `bot_replies`, `method_saved`); it is subscribed
once at start-up (`HandoffRouter.listen`). Console pages learn about queue changes and member
messages on the hub channel `CONSOLE_CHANNEL`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.phones import display_phone
from bot.gateway.conversations import ConversationInfo, StoredMessage, reply_payload
from bot.gateway.events import (
    BOT_REPLIES,
    MEMBER_LEFT,
    MEMBER_MESSAGE,
    METHOD_SAVED,
    BotReplies,
    GatewayEvents,
    MemberLeft,
    MemberMessage,
    MethodSaved,
)
from bot.gateway.masking import mask_inbound
from bot.gateway.rasa_client import RasaUnavailable, normalise_replies
from bot.gateway.sms_format import last_buttons
from bot.gateway.state import Gateway
from bot.services.handoff import (
    callback_when,
    cancel_handoff,
    closed_sentence,
    create_callback,
    least_loaded_agent,
)
from bot.services.office_hours import OfficeHours
from bot.store.db import session_scope
from bot.store.models import Account, Agent, Contact, HandoffRequest

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = "console:queue"
HANDBACK_INTENT = "EXTERNAL_agent_handback"
METHOD_ADDED_INTENT = "EXTERNAL_method_added"
SWEEP_INTERVAL_SECONDS = 60.0

_LEAVE_QUEUE = re.compile(
    r"^\s*(never ?mind|nvm|forget it|no thanks|no thank you|stop waiting|leave the queue|"
    r"cancel (that|the request|waiting)|i'?ll wait later|don'?t bother)\s*[.!]*\s*$",
    re.IGNORECASE,
)


SURVEY_QUESTION = "How did we do? Reply with a number from 1 (poor) to 5 (great)."
SURVEY_THANKS = "Thank you for your rating. I'm still here if you need anything else."
_SCORE = re.compile(r"^\s*([1-5])\s*(stars?|/\s*5|out of 5)?\s*[.!]*\s*$", re.IGNORECASE)


def survey_score(text: str) -> int | None:
    """A survey answer: "5", "4 stars", "3/5"; None for anything else (the member moved on)."""
    match = _SCORE.match(text)
    return int(match.group(1)) if match else None


def wants_to_leave_queue(text: str) -> bool:
    """A member's "never mind" while waiting. Plain "cancel" is an SMS opt-out word, not this."""
    return bool(_LEAVE_QUEUE.match(text))


def first_name(display_name: str) -> str:
    return (display_name.strip().split() or ["Member services"])[0]


def handoff_payload(message: dict[str, Any] | StoredMessage) -> dict[str, Any] | None:
    """The `handoff` custom payload of a bot reply, when it has one."""
    payload = message.payload if isinstance(message, StoredMessage) else message
    custom = payload.get("custom") if isinstance(payload, dict) else None
    handoff = custom.get("handoff") if isinstance(custom, dict) else None
    return handoff if isinstance(handoff, dict) else None


class RasaControl:
    """Rasa's HTTP API for what the REST channel cannot do: resume a paused conversation and
    trigger an intent. Needs Rasa started with `--enable-api --auth-token $RASA_TOKEN`."""

    def __init__(
        self,
        base_url: str | Callable[[], str],
        token: str,
        http: Callable[[], aiohttp.ClientSession],
        timeout_seconds: float,
    ) -> None:
        # A callable: the Rasa replica to use now (`RasaClient.preferred_url`).
        self._base = base_url if callable(base_url) else (lambda: base_url)
        self._token = token
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self._base().rstrip('/')}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def _post(self, url: str, body: dict[str, Any] | list[dict[str, Any]]) -> Any:
        try:
            async with self._http().post(
                url, json=body, params={"token": self._token}, timeout=self._timeout
            ) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                return await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def resume(self, conversation_id: str) -> None:
        # `action_listen` after the resume: the pause came from inside an action, so without it
        # Rasa's next prediction would still follow `action_talk_to_human`, and the hand-back
        # rule (which starts after a listen) would not match.
        await self._post(
            self._url(conversation_id, "tracker/events"),
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        )

    async def trigger(
        self, conversation_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Trigger `intent`; returns the bot's replies (Rasa's collecting output channel)."""
        body = await self._post(
            self._url(conversation_id, "trigger_intent"),
            {"name": intent, "entities": entities or {}},
        )
        return (
            normalise_replies((body or {}).get("messages") or []) if isinstance(body, dict) else []
        )


@dataclass(frozen=True)
class AgentInfo:
    id: int
    username: str
    display_name: str
    is_admin: bool
    presence: str
    role: str = "agent"

    @property
    def first_name(self) -> str:
        return first_name(self.display_name)

    @property
    def supervises(self) -> bool:
        """A supervisor or admin: sees every conversation and the team, and reassigns."""
        return self.is_admin or self.role in ("supervisor", "admin")


async def _update_if(
    session: AsyncSession, handoff_id: int, *conditions: Any, **values: Any
) -> HandoffRequest | None:
    """Set `values` on the handoff while `conditions` still hold (one of several concurrent
    updates wins); the row after it, or None when the conditions no longer held."""
    result = await session.execute(
        update(HandoffRequest).where(HandoffRequest.id == handoff_id, *conditions).values(**values)
    )
    return await session.get(HandoffRequest, handoff_id) if result.rowcount == 1 else None


def _held_by(agent: AgentInfo) -> list[Any]:
    """An assigned handoff that is `agent`'s own (an admin may act on anyone's)."""
    if agent.is_admin:
        return [HandoffRequest.status == "assigned"]
    return [HandoffRequest.status == "assigned", HandoffRequest.agent_id == agent.id]


class HandoffRouter:
    """Every state change of a handoff, with its effect on the conversation and the member.

    It works on the gateway's container (`gw.sessions`, `gw.profile`, `gw.clock`, `gw.service`)
    and builds nothing of its own but the office hours of that profile.
    """

    def __init__(self, gw: Gateway, rasa: RasaControl) -> None:
        self.gw = gw
        self.rasa = rasa
        self.hours = OfficeHours(gw.profile)

    def listen(self, events: GatewayEvents) -> None:
        """Subscribe to the conversation service's events (once, at start-up)."""
        events.subscribe(MEMBER_MESSAGE, self.on_member_message)
        events.subscribe(BOT_REPLIES, self.on_bot_replies)
        events.subscribe(METHOD_SAVED, self.on_method_saved)
        events.subscribe(MEMBER_LEFT, self.on_member_left)

    # -- events for the console ----------------------------------------------------------------
    def queue_changed(self, reason: str, handoff_id: int | None = None) -> None:
        self.gw.hub.publish(
            CONSOLE_CHANNEL, {"type": "queue", "reason": reason, "handoff_id": handoff_id}
        )

    # -- the assistant asked for a person --------------------------------------------------------
    async def on_bot_replies(self, event: BotReplies) -> None:
        """The handoff payload in a bot reply queues the conversation: the assistant goes quiet."""
        for reply in event.replies:
            handoff = handoff_payload(reply)
            if handoff and handoff.get("status") == "queued":
                await self.gw.store.set_mode(event.conversation.id, "queued")
                self.queue_changed("queued", handoff.get("handoff_id"))
                await self.auto_assign()
                return

    # -- a member writes while queued or with an agent ---------------------------------------------
    async def on_member_message(self, event: MemberMessage) -> None:
        """While queued, "never mind" leaves the queue; otherwise the console hears of it."""
        conv = current = event.conversation  # its mode as the message was stored
        if current.mode == "bot":
            return
        if current.mode == "survey":
            await self._survey_answer(current, event.message.text)
            return
        async with session_scope(self.gw.sessions) as session:
            await session.execute(  # back after "End chat": no longer "member left"
                update(HandoffRequest)
                .where(
                    HandoffRequest.conversation_id == conv.id,
                    HandoffRequest.status == "assigned",
                    HandoffRequest.member_left_at.is_not(None),
                )
                .values(member_left_at=None)
            )
        if current.mode == "queued" and wants_to_leave_queue(event.message.text):
            await self.leave_queue(current)
            if conv.channel == "sms":  # the SMS webhook routed by the old mode: run the turn here
                self.gw.tasks.spawn(
                    self._sms_turn(current, event.message.text), name=f"sms-leave-queue-{conv.id}"
                )
        else:
            self.gw.hub.publish(
                CONSOLE_CHANNEL, {"type": "member_message", "conversation_id": conv.id}
            )

    async def _sms_turn(self, conv: ConversationInfo, text: str) -> None:
        service = self.gw.service
        replies = await service.bot_turn(conv, text, {"channel": "sms", "phone": conv.external_id})
        await service.deliver_sms(conv, replies)

    # -- a card or bank account was saved on the secure payment page -------------------------------
    async def on_method_saved(self, event: MethodSaved) -> None:
        """Say it is saved; unless an agent has the conversation, the assistant continues."""
        conv = event.conversation
        await self.gw.service.post_outbound(conv, "system", f"Your {event.label} is saved.")
        current = await self.gw.store.get(conv.id)
        if current is not None and current.mode == "bot":
            await self.continue_bot(
                current, METHOD_ADDED_INTENT, {"payment_method_id": event.method_id}, resume=False
            )

    # -- the member leaves the queue ---------------------------------------------------------------
    async def leave_queue(self, conv: ConversationInfo) -> bool:
        """Cancel the waiting handoff, resume the assistant; False when nothing was waiting."""
        async with session_scope(self.gw.sessions) as session:
            cancelled = await cancel_handoff(session, conv.id, self.gw.clock())
        await self.gw.store.set_mode(conv.id, "bot")
        await self._resume(conv)
        self.queue_changed("left")
        return cancelled

    # -- the survey after the hand-back ------------------------------------------------------------
    async def ask_survey(self, conv: ConversationInfo, handoff_id: int) -> None:
        """ "How did we do? 1-5": the conversation's mode is `survey` until the member's next
        message, which is the answer (recorded) or, if it is not a score, goes to the assistant."""
        async with session_scope(self.gw.sessions) as session:
            await session.execute(
                update(HandoffRequest)
                .where(HandoffRequest.id == handoff_id)
                .values(survey_asked_at=self.gw.clock())
            )
        await self.gw.store.set_mode(conv.id, "survey")
        payload: dict[str, Any] = {}
        if conv.channel == "web":
            payload["buttons"] = [{"title": str(n), "payload": str(n)} for n in range(1, 6)]
        else:
            await self.gw.store.set_last_buttons(conv.id, None)  # "1" is a score, not a choice
        await self.gw.service.post_outbound(conv, "system", SURVEY_QUESTION, payload)

    async def _survey_answer(self, conv: ConversationInfo, text: str) -> None:
        """A score is recorded and thanked (the mode stays `survey`, so the assistant never gets
        a bare "5"); any other message, or the one after the score, goes to the assistant."""
        score = survey_score(text)
        now = self.gw.clock()
        async with session_scope(self.gw.sessions) as session:
            handoff_id = await session.scalar(
                select(HandoffRequest.id)
                .where(
                    HandoffRequest.conversation_id == conv.id,
                    HandoffRequest.survey_asked_at.is_not(None),
                    HandoffRequest.survey_answered_at.is_(None),
                )
                .order_by(HandoffRequest.id.desc())
                .limit(1)
            )
            if handoff_id is not None:
                await session.execute(
                    update(HandoffRequest)
                    .where(HandoffRequest.id == handoff_id)
                    .values(survey_score=score, survey_answered_at=now)
                )
        if score is not None and handoff_id is not None:
            await self.gw.service.post_outbound(conv, "system", SURVEY_THANKS)
            return
        # Not an answer (or already answered): back to the assistant with this message. The web
        # turn that follows this event sees mode `bot`; the SMS webhook already decided, so the
        # turn runs here.
        await self.gw.store.set_mode(conv.id, "bot")
        if conv.channel == "sms":
            self.gw.tasks.spawn(self._sms_turn(conv, text), name=f"sms-after-survey-{conv.id}")

    # -- the member ended the chat ("End chat" in the widget) --------------------------------------
    async def on_member_left(self, event: MemberLeft) -> None:
        """Waiting: the request is abandoned and the assistant resumed (no one would read the
        answer). With an agent: the handoff is marked `member_left_at`, so the console says so."""
        conv = event.conversation
        now = self.gw.clock()
        async with session_scope(self.gw.sessions) as session:
            left = await session.execute(
                update(HandoffRequest)
                .where(
                    HandoffRequest.conversation_id == conv.id,
                    HandoffRequest.status == "waiting",
                )
                .values(status="abandoned", ended_at=now, member_left_at=now)
            )
            flagged = await session.execute(
                update(HandoffRequest)
                .where(
                    HandoffRequest.conversation_id == conv.id,
                    HandoffRequest.status == "assigned",
                    HandoffRequest.member_left_at.is_(None),
                )
                .values(member_left_at=now)
            )
        if left.rowcount:
            await self.gw.store.set_mode(conv.id, "bot")
            await self._resume(conv)
        if left.rowcount or flagged.rowcount:
            self.queue_changed("member_left")
            self.gw.hub.publish(conv.id, {"type": "member_left"})

    # -- auto-assignment ---------------------------------------------------------------------------
    async def auto_assign(self) -> int:
        """With `CONSOLE_AUTO_ASSIGN=on`: give waiting conversations, oldest first, to the online
        agent with the fewest open ones (at most `CONSOLE_AGENT_LIMIT` each). Returns how many.

        Each hand-out is `take` (a conditional UPDATE), so an agent clicking Take at the same
        moment, or another replica assigning too, never gives one conversation twice."""
        settings = self.gw.settings
        if settings.console_auto_assign != "on":
            return 0
        given = 0
        for _ in range(50):  # bounded: a take lost to a race is simply tried with the next one
            now = self.gw.clock()
            async with session_scope(self.gw.sessions) as session:
                handoff_id = await session.scalar(
                    select(HandoffRequest.id)
                    .where(HandoffRequest.status == "waiting")
                    .order_by(HandoffRequest.created_at, HandoffRequest.id)
                    .limit(1)
                )
                agent_id = (
                    await least_loaded_agent(session, now, settings.console_agent_limit)
                    if handoff_id is not None
                    else None
                )
            if handoff_id is None or agent_id is None:
                break
            agent = await self.agent(agent_id)
            if agent is None:
                break
            if await self.take(handoff_id, agent, reason="auto_assigned"):
                given += 1
                log.info("handoff %s given to agent %s", handoff_id, agent.username)
        return given

    # -- agents ------------------------------------------------------------------------------------
    async def agent(self, agent_id: int) -> AgentInfo | None:
        async with session_scope(self.gw.sessions) as session:
            row = await session.get(Agent, agent_id)
            return (
                AgentInfo(
                    row.id, row.username, row.display_name, row.is_admin, row.presence, row.role
                )
                if row
                else None
            )

    async def handoff(self, handoff_id: int) -> HandoffRequest | None:
        async with session_scope(self.gw.sessions) as session:
            return await session.get(HandoffRequest, handoff_id)

    async def take(self, handoff_id: int, agent: AgentInfo, reason: str = "taken") -> bool:
        """Assign a waiting handoff to `agent`. Exactly one of several concurrent takes wins."""
        now = self.gw.clock()
        async with session_scope(self.gw.sessions) as session:
            row = await _update_if(
                session,
                handoff_id,
                HandoffRequest.status == "waiting",
                status="assigned",
                agent_id=agent.id,
                assigned_at=now,
            )
        if row is None:
            return False
        await self.gw.store.set_mode(row.conversation_id, "agent")
        await self._tell(
            row.conversation_id, f"{agent.first_name} from member services has joined the chat."
        )
        self.queue_changed(reason, handoff_id)
        return True

    async def _tell(self, conversation_id: str, text: str) -> None:
        """A system message to the member on the conversation's channel (if it still exists)."""
        conv = await self.gw.store.get(conversation_id)
        if conv is not None:
            await self.gw.service.post_outbound(conv, "system", text)

    async def _assigned_to(self, handoff_id: int, agent: AgentInfo) -> HandoffRequest | None:
        row = await self.handoff(handoff_id)
        if row is None or row.status != "assigned":
            return None
        if row.agent_id != agent.id and not agent.is_admin:
            return None
        return row

    async def reply(self, handoff_id: int, agent: AgentInfo, text: str) -> StoredMessage | None:
        """An agent's reply, masked like any message, sent on the member's channel."""
        row = await self._assigned_to(handoff_id, agent)
        text = text.strip()
        if row is None or not text:
            return None
        conv = await self.gw.store.get(row.conversation_id)
        if conv is None:
            return None
        masked = mask_inbound(text[:1600]).text
        return await self.gw.service.post_outbound(
            conv, "agent", masked, {"agent_name": agent.first_name}
        )

    async def transfer(
        self, handoff_id: int, agent: AgentInfo, to_agent_id: int
    ) -> AgentInfo | None:
        target = await self.agent(to_agent_id)
        if target is None or target.id == agent.id:
            return None
        async with session_scope(self.gw.sessions) as session:
            row = await _update_if(
                session,
                handoff_id,
                *_held_by(agent),
                agent_id=target.id,
                assigned_at=self.gw.clock(),
            )
        if row is None:
            return None
        await self._tell(
            row.conversation_id,
            f"{agent.first_name} has passed your chat to {target.first_name}, "
            "who can see everything so far.",
        )
        self.queue_changed("transferred", handoff_id)
        return target

    async def reassign(
        self, handoff_id: int, supervisor: AgentInfo, to_agent_id: int
    ) -> AgentInfo | None:
        """A supervisor gives a waiting or assigned conversation to another agent (not disabled).
        The member is told who has their chat now."""
        target = await self.agent(to_agent_id)
        if target is None or not supervisor.supervises:
            return None
        async with session_scope(self.gw.sessions) as session:
            agent_row = await session.get(Agent, target.id)
            if agent_row is None or agent_row.disabled_at is not None:
                return None
            row = await _update_if(
                session,
                handoff_id,
                HandoffRequest.status.in_(("waiting", "assigned")),
                or_(HandoffRequest.agent_id.is_(None), HandoffRequest.agent_id != target.id),
                status="assigned",
                agent_id=target.id,
                assigned_at=self.gw.clock(),
            )
        if row is None:
            return None
        await self.gw.store.set_mode(row.conversation_id, "agent")
        await self._tell(
            row.conversation_id,
            f"{target.first_name} from member services has your chat now and can see "
            "everything so far.",
        )
        self.queue_changed("reassigned", handoff_id)
        return target

    async def hand_back(self, handoff_id: int, agent: AgentInfo) -> bool:
        """End the agent's part; the assistant resumes and says so on the member's channel."""
        async with session_scope(self.gw.sessions) as session:
            row = await _update_if(
                session, handoff_id, *_held_by(agent), status="ended", ended_at=self.gw.clock()
            )
        if row is None:
            return False
        await self.gw.store.set_mode(row.conversation_id, "bot")
        conv = await self.gw.store.get(row.conversation_id)
        if conv is not None:
            await self.gw.service.post_outbound(
                conv, "system", f"{agent.first_name} has left the chat."
            )
            await self.continue_bot(conv, HANDBACK_INTENT, {"agent_name": agent.first_name})
            if self.gw.settings.console_survey == "on":
                await self.ask_survey(conv, handoff_id)
        self.queue_changed("ended", handoff_id)
        await self.auto_assign()  # the agent has room for the next one
        return True

    async def continue_bot(
        self,
        conv: ConversationInfo,
        intent: str,
        entities: dict[str, Any] | None = None,
        *,
        resume: bool = True,
    ) -> list[StoredMessage]:
        """(Resume Rasa and) trigger `intent`; the bot's replies go out on the member's channel."""
        try:
            if resume:
                await self.rasa.resume(conv.id)
            replies = await self.rasa.trigger(conv.id, intent, entities)
        except RasaUnavailable as exc:
            log.warning("could not resume the assistant for %s: %s", conv.id, exc)
            return []
        stored = []
        for reply in replies:
            payload = reply_payload(reply)
            stored.append(
                await self.gw.service.post_outbound(conv, "bot", reply.get("text", ""), payload)
            )
        if conv.channel == "sms":
            await self.gw.store.set_last_buttons(conv.id, last_buttons(replies))
        return stored

    async def _resume(self, conv: ConversationInfo) -> None:
        try:
            await self.rasa.resume(conv.id)
        except RasaUnavailable as exc:
            log.warning("could not resume the assistant for %s: %s", conv.id, exc)

    # -- agent hours end ---------------------------------------------------------------------------
    async def sweep_after_hours(self, now: datetime | None = None) -> int:
        """Close the queue honestly when agent hours are over; returns how many were handled."""
        now = now or self.gw.clock()
        if self.hours.is_open(now, schedule="agents"):
            return 0
        async with session_scope(self.gw.sessions) as session:
            waiting = (
                await session.scalars(
                    select(HandoffRequest.id).where(HandoffRequest.status == "waiting")
                )
            ).all()
        handled = 0
        for handoff_id in waiting:
            if await self._close_one(handoff_id, now):
                handled += 1
        if handled:
            self.queue_changed("closed")
        return handled

    async def _close_one(self, handoff_id: int, now: datetime) -> bool:
        async with session_scope(self.gw.sessions) as session:
            result = await session.execute(
                update(HandoffRequest)
                .where(HandoffRequest.id == handoff_id, HandoffRequest.status == "waiting")
                .values(status="abandoned", ended_at=now)
            )
            if result.rowcount != 1:
                return False  # taken, cancelled or closed by someone else meanwhile
            row = await session.get(HandoffRequest, handoff_id)
            assert row is not None
            conv = await self.gw.store.get(row.conversation_id)
            phone = await self._callback_phone(session, row, conv)
            if phone:
                await create_callback(
                    session,
                    conversation_id=row.conversation_id,
                    channel=row.channel,
                    name=None,
                    phone=phone,
                    best_time=callback_when(now, self.hours),
                    topic=row.topic,
                    account_id=row.account_id,
                    verified_tier=row.verified_tier,
                    now=now,
                )
        if conv is None:
            return True
        await self.gw.store.set_mode(conv.id, "bot")
        await self._resume(conv)
        await self.gw.service.post_outbound(conv, "system", self._closed_message(now, phone))
        return True

    async def _callback_phone(
        self, session: AsyncSession, row: HandoffRequest, conv: ConversationInfo | None
    ) -> str | None:
        if conv is not None and conv.channel == "sms":
            return conv.external_id
        member_id = row.member_id
        if member_id is None and row.account_id is not None:
            account = await session.get(Account, row.account_id)
            member_id = account.member_id if account else None
        if member_id is None:
            return None
        phones = (
            await session.scalars(
                select(Contact.value)
                .where(Contact.member_id == member_id, Contact.kind == "phone")
                .order_by(Contact.is_primary.desc(), Contact.id)
            )
        ).all()
        return phones[0] if phones else None

    def _closed_message(self, now: datetime, phone: str | None) -> str:
        sorry = (
            "I'm sorry, our member-service team has finished for today and no one could join "
            "this chat."
        )
        if phone:
            return (
                f"{sorry} I've asked them to call you at {display_phone(phone)} "
                f"{callback_when(now, self.hours)}. "
                "I'm still here if I can help with anything else."
            )
        return (
            f"{sorry} {closed_sentence(now, self.hours)} I can arrange a callback once you've "
            "verified your account, or I'm still here if I can help with anything else."
        )


HANDOFF = web.AppKey("handoff", HandoffRouter)
# Seconds between after-hours sweeps; set it to 0 on the app before start-up to turn the
# periodic sweep off (tests call `sweep_after_hours` with an injected time instead).
SWEEP_INTERVAL = web.AppKey("handoff_sweep_interval", float)


async def sweep_forever(router: HandoffRouter, interval: float) -> None:
    """The after-hours sweep every `interval` seconds, for as long as the app runs."""
    while True:
        try:
            await router.sweep_after_hours()
        except Exception:
            log.exception("after-hours sweep of the handoff queue failed")
        await asyncio.sleep(interval)
