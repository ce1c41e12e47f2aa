"""Conversations and their messages in the database: the gateway's memory.

Every call is one unit of work (its own async session). Messages are numbered per conversation by
an atomic `UPDATE ... RETURNING` on `conversations.next_seq`, so two replicas never hand out the
same number. Text handed to this module must already be masked (`bot.gateway.masking`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import request_id_var
from bot.store.db import session_scope
from bot.store.models import (
    Conversation,
    ConversationMessage,
    SmsInbound,
    SmsOptOut,
    SmsStatusCallback,
    TurnRequest,
)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    channel: str  # web|sms
    external_id: str
    mode: str  # bot|queued|agent
    last_buttons: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Received:
    """An inbound text's conversation as its webhook found it (`SmsStore.receive`)."""

    conversation: ConversationInfo
    opted_out: bool
    pending: int  # the conversation's texts still waiting for the assistant


@dataclass(frozen=True)
class StoredMessage:
    conversation_id: str
    seq: int
    direction: str  # in|out
    sender: str  # member|bot|agent|system
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        """The WebSocket form of this message (docs/gateway-protocol.md)."""
        wire: dict[str, Any] = {
            "type": "message",
            "seq": self.seq,
            "sender": self.sender,
            "text": self.text,
            "buttons": self.payload.get("buttons") or [],
            "image": self.payload.get("image"),
            "at": self.created_at.isoformat() if self.created_at else None,
        }
        if self.client_id:
            wire["client_id"] = self.client_id
        if self.payload.get("agent_name"):
            wire["agent_name"] = self.payload["agent_name"]
        if self.payload.get("custom"):
            wire["custom"] = self.payload["custom"]
        return wire


@dataclass(frozen=True)
class TurnSpec:
    """The bot turn a member message asks for, stored with the message in one unit of work."""

    key: str  # idempotency key: sms:<MessageSid>, web:<conversation>:<client id>
    metadata: dict[str, Any]
    rasa_text: str | None = None  # None: the stored (masked) text of the message
    from_button: bool = False
    sms_sid: str | None = None  # its sms_inbound row is marked "queued" in the same transaction


@dataclass(frozen=True)
class PendingTurn:
    id: int
    key: str
    conversation_id: str
    seq: int
    rasa_text: str
    from_button: bool
    metadata: dict[str, Any]
    attempts: int
    apologized: bool
    created_at: datetime
    request_id: str | None = None


def _pending(row: TurnRequest) -> PendingTurn:
    return PendingTurn(
        row.id,
        row.key,
        row.conversation_id,
        row.seq,
        row.rasa_text,
        row.from_button,
        dict(row.turn_metadata or {}),
        row.attempts,
        row.apologized,
        row.created_at,
        row.request_id,
    )


REPLY_PAYLOAD_KEYS = ("buttons", "image", "custom", "nlu")
"""What a bot reply keeps in its payload: what channels render, and `nlu` (the turn's intent and
confidence, for the console's insights page; never rendered or sent to the member)."""


def reply_payload(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: reply[k] for k in REPLY_PAYLOAD_KEYS if reply.get(k)}


def _info(row: Conversation) -> ConversationInfo:
    return ConversationInfo(row.id, row.channel, row.external_id, row.mode, row.last_buttons)


def _new_conversation_values(
    conversation_id: str, channel: str, external_id: str, now: datetime
) -> dict[str, Any]:
    """A conversation just begun: the assistant answers, nothing said yet."""
    return {
        "id": conversation_id,
        "channel": channel,
        "external_id": external_id,
        "mode": "bot",
        "next_seq": 0,
        "created_at": now,
        "last_activity_at": now,
    }


def _new_conversation(
    conversation_id: str, channel: str, external_id: str, now: datetime
) -> Conversation:
    return Conversation(**_new_conversation_values(conversation_id, channel, external_id, now))


def _waiting_turns(conversation_id: str) -> Any:
    """How many of a conversation's turns still wait for the assistant (a COUNT select)."""
    return (
        select(func.count())
        .select_from(TurnRequest)
        .where(TurnRequest.conversation_id == conversation_id, TurnRequest.status == "pending")
    )


def _stored(row: ConversationMessage) -> StoredMessage:
    return StoredMessage(
        row.conversation_id,
        row.seq,
        row.direction,
        row.sender,
        row.text,
        dict(row.payload or {}),
        row.client_id,
        row.created_at,
        row.delivered_at,
    )


class ConversationStore:
    def __init__(self, factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    async def get(self, conversation_id: str) -> ConversationInfo | None:
        async with session_scope(self._factory) as session:
            row = await session.get(Conversation, conversation_id)
            return _info(row) if row else None

    async def _rows(self, query: Any) -> Sequence[Any]:
        """The ORM rows `query` selects, read in a session of their own."""
        async with session_scope(self._factory) as session:
            return (await session.scalars(query)).all()

    async def get_or_create(self, channel: str, external_id: str) -> ConversationInfo:
        """The conversation of a phone number (SMS) or web conversation id; made on first use."""

        async def find(session: AsyncSession) -> Conversation | None:
            return (
                await session.execute(
                    select(Conversation).where(
                        Conversation.channel == channel, Conversation.external_id == external_id
                    )
                )
            ).scalar_one_or_none()

        async with session_scope(self._factory) as session:
            row = await find(session)
            if row:
                return _info(row)
        now = self._clock()
        new_id = external_id if channel == "web" else f"sms-{uuid.uuid4().hex}"
        try:
            async with session_scope(self._factory) as session:
                row = _new_conversation(new_id, channel, external_id, now)
                session.add(row)
                return _info(row)
        except IntegrityError:  # created at the same moment by another request
            async with session_scope(self._factory) as session:
                row = await find(session)
                assert row is not None
                return _info(row)

    async def new_web_conversation(self) -> ConversationInfo:
        return await self.get_or_create("web", f"web-{uuid.uuid4().hex}")

    async def append(self, conversation_id: str, **fields: Any) -> tuple[StoredMessage, bool]:
        """Store one message with the next sequence number (the fields of `append_with_mode`).

        Returns (message, created). A `client_id` already stored in this conversation returns the
        earlier message and `created=False`: a re-send after a reconnect is not a second message.
        With `turn`, the bot turn it asks for is stored in the same transaction (durable before
        the member is acknowledged; `bot.queue` runs it).
        """
        message, created, _mode = await self.append_with_mode(conversation_id, **fields)
        return message, created

    async def append_with_mode(
        self,
        conversation_id: str,
        *,
        direction: str,
        sender: str,
        text: str,
        payload: dict[str, Any] | None = None,
        client_id: str | None = None,
        delivered: bool = False,
        turn: TurnSpec | None = None,
    ) -> tuple[StoredMessage, bool, str]:
        """`append`, and the conversation's mode as the same transaction saw it (bot, queued,
        agent, survey): what the listeners of a new member message decide by, with no second
        read. For a re-send (`created` False) the mode is read afresh.

        One write transaction with plain (Core) statements: a storm's webhooks share SQLite's
        single write lock, so each text holds it as briefly as it can. A `client_id` stored
        before is found by its unique index (the insert fails and rolls back), not by a read
        ahead of every message."""
        now = self._clock()
        try:
            async with session_scope(self._factory) as session:
                seq, mode = (
                    await session.execute(
                        update(Conversation)
                        .where(Conversation.id == conversation_id)
                        .values(next_seq=Conversation.next_seq + 1, last_activity_at=now)
                        .returning(Conversation.next_seq, Conversation.mode)
                    )
                ).one()
                message = StoredMessage(
                    conversation_id,
                    seq,
                    direction,
                    sender,
                    text,
                    dict(payload or {}),
                    client_id,
                    now,
                    now if delivered else None,
                )
                await session.execute(
                    insert(ConversationMessage).values(
                        conversation_id=conversation_id,
                        seq=seq,
                        direction=direction,
                        sender=sender,
                        text=text,
                        payload=payload or {},
                        client_id=client_id,
                        created_at=now,
                        delivered_at=message.delivered_at,
                    )
                )
                if turn is not None:
                    # Still in a busy period the member was told about: no second courtesy.
                    told = (
                        await session.execute(
                            select(TurnRequest.id)
                            .where(
                                TurnRequest.conversation_id == conversation_id,
                                TurnRequest.status == "pending",
                                TurnRequest.courtesy_sent.is_(True),
                            )
                            .limit(1)
                        )
                    ).scalar_one_or_none() is not None
                    await session.execute(
                        insert(TurnRequest).values(
                            key=turn.key,
                            conversation_id=conversation_id,
                            seq=seq,
                            rasa_text=text if turn.rasa_text is None else turn.rasa_text,
                            from_button=turn.from_button,
                            turn_metadata=turn.metadata,
                            status="pending",
                            attempts=0,
                            courtesy_sent=told,
                            apologized=False,
                            request_id=request_id_var.get(),
                            created_at=now,
                        )
                    )
                    if turn.sms_sid:
                        await session.execute(
                            update(SmsInbound)
                            .where(SmsInbound.message_sid == turn.sms_sid)
                            .values(status="queued")
                        )
                return message, True, str(mode)
        except IntegrityError:
            if client_id:
                earlier = await self.find_by_client_id(conversation_id, client_id)
                if earlier:
                    current = await self.get(conversation_id)
                    return earlier, False, current.mode if current else "bot"
            raise

    async def find_by_client_id(self, conversation_id: str, client_id: str) -> StoredMessage | None:
        async with session_scope(self._factory) as session:
            row = (
                await session.execute(
                    select(ConversationMessage).where(
                        ConversationMessage.conversation_id == conversation_id,
                        ConversationMessage.client_id == client_id,
                    )
                )
            ).scalar_one_or_none()
            return _stored(row) if row else None

    async def messages_after(
        self, conversation_id: str, after_seq: int, limit: int = 500
    ) -> list[StoredMessage]:
        """Messages with seq > after_seq, oldest first (replay on reconnect)."""
        rows = await self._rows(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == conversation_id,
                ConversationMessage.seq > after_seq,
            )
            .order_by(ConversationMessage.seq)
            .limit(limit)
        )
        return [_stored(r) for r in rows]

    async def quiet_spell(
        self, conversation_id: str, longer_than: timedelta, now: datetime
    ) -> tuple[datetime | None, int]:
        """(time of the last message, or None without messages; seq of the last message before
        the latest quiet spell longer than `longer_than`, counting the spell up to `now`, or 0).

        A replay starts after that seq: what was said before a long silence (a verified
        member's balance, say) is not shown again to whoever reopens the chat later.
        """
        async with session_scope(self._factory) as session:
            rows = await session.execute(
                select(ConversationMessage.seq, ConversationMessage.created_at)
                .where(ConversationMessage.conversation_id == conversation_id)
                .order_by(ConversationMessage.seq.desc())
            )
            last_at: datetime | None = None
            later = now
            for seq, created_at in rows:
                if last_at is None:
                    last_at = created_at
                if later - created_at > longer_than:
                    return last_at, seq
                later = created_at
            return last_at, 0

    async def offered_buttons(self, conversation_id: str) -> list[dict[str, Any]]:
        """The buttons the conversation's latest replies offer: those of the outbound messages
        since the member last wrote (a payload is accepted only if it is one of these)."""
        rows = await self._rows(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
            .order_by(ConversationMessage.seq.desc())
            .limit(30)
        )
        offered: list[dict[str, Any]] = []
        for row in rows:
            if row.direction == "in":
                break
            buttons = (row.payload or {}).get("buttons") or []
            offered.extend(b for b in buttons if isinstance(b, dict))
        return offered

    async def undelivered(self, conversation_id: str) -> list[StoredMessage]:
        """Outbound messages not yet delivered, oldest first."""
        rows = await self._rows(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == conversation_id,
                ConversationMessage.direction == "out",
                ConversationMessage.delivered_at.is_(None),
            )
            .order_by(ConversationMessage.seq)
        )
        return [_stored(r) for r in rows]

    async def mark_delivered(self, conversation_id: str, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        async with session_scope(self._factory) as session:
            await session.execute(
                update(ConversationMessage)
                .where(
                    ConversationMessage.conversation_id == conversation_id,
                    ConversationMessage.seq.in_(list(seqs)),
                    ConversationMessage.delivered_at.is_(None),
                )
                .values(delivered_at=self._clock())
            )

    async def set_mode(self, conversation_id: str, mode: str) -> None:
        """bot|queued|agent|survey: the handoff queue and the console switch a conversation with
        this (`survey`: the member's next message answers "How did we do?", bot.gateway.handoff)."""
        if mode not in ("bot", "queued", "agent", "survey"):
            raise ValueError(f"unknown conversation mode {mode!r}")
        async with session_scope(self._factory) as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(mode=mode, last_activity_at=self._clock())
            )

    async def set_last_buttons(
        self, conversation_id: str, buttons: list[dict[str, Any]] | None
    ) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(last_buttons=buttons)
            )

    # --- turns waiting for the assistant (bot.queue drains them in seq order) ---------------

    async def pending_turns(self, conversation_id: str, limit: int = 20) -> list[PendingTurn]:
        rows = await self._rows(
            select(TurnRequest)
            .where(
                TurnRequest.conversation_id == conversation_id,
                TurnRequest.status == "pending",
            )
            .order_by(TurnRequest.seq)
            .limit(limit)
        )
        return [_pending(r) for r in rows]

    async def pending_count(self, conversation_id: str) -> int:
        async with session_scope(self._factory) as session:
            return int((await session.execute(_waiting_turns(conversation_id))).scalar_one())

    async def conversations_with_pending(self, limit: int = 500) -> list[tuple[str, int]]:
        """Each conversation with waiting turns, and the id of its oldest waiting turn."""
        async with session_scope(self._factory) as session:
            rows = await session.execute(
                select(TurnRequest.conversation_id, func.min(TurnRequest.id))
                .where(TurnRequest.status == "pending")
                .group_by(TurnRequest.conversation_id)
                .limit(limit)
            )
            return [(str(r[0]), int(r[1])) for r in rows]

    async def note_attempt(self, turn_id: int, *, apologized: bool = False) -> None:
        async with session_scope(self._factory) as session:
            values: dict[str, Any] = {"attempts": TurnRequest.attempts + 1}
            if apologized:
                values["apologized"] = True
            await session.execute(
                update(TurnRequest).where(TurnRequest.id == turn_id).values(**values)
            )

    async def skip_turn(self, turn_id: int) -> None:
        """The conversation went to an agent: the message waits for them, not the bot."""
        async with session_scope(self._factory) as session:
            await session.execute(
                update(TurnRequest)
                .where(TurnRequest.id == turn_id, TurnRequest.status == "pending")
                .values(status="skipped", done_at=self._clock())
            )

    async def finish_turn(
        self,
        turn: PendingTurn,
        sender: str,
        replies: Sequence[dict[str, Any]],
        last_buttons: list[dict[str, Any]] | None,
        *,
        set_buttons: bool,
    ) -> list[StoredMessage] | None:
        """Store a turn's replies and mark it done in one transaction; None when it was done
        already (a retried turn after a crash: the member never sees a second answer)."""
        now = self._clock()
        async with session_scope(self._factory) as session:
            claimed = await session.execute(
                update(TurnRequest)
                .where(TurnRequest.id == turn.id, TurnRequest.status == "pending")
                .values(status="done", done_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            stored: list[StoredMessage] = []
            for reply in replies:
                seq = (
                    await session.execute(
                        update(Conversation)
                        .where(Conversation.id == turn.conversation_id)
                        .values(next_seq=Conversation.next_seq + 1, last_activity_at=now)
                        .returning(Conversation.next_seq)
                    )
                ).scalar_one()
                row = ConversationMessage(
                    conversation_id=turn.conversation_id,
                    seq=seq,
                    direction="out",
                    sender=sender,
                    text=reply.get("text", ""),
                    payload=reply_payload(reply),
                    created_at=now,
                )
                session.add(row)
                await session.flush()
                stored.append(_stored(row))
            if set_buttons:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == turn.conversation_id)
                    .values(last_buttons=last_buttons)
                )
            if turn.key.startswith("sms:"):
                await session.execute(
                    update(SmsInbound)
                    .where(SmsInbound.message_sid == turn.key[4:])
                    .values(status="processed")
                )
            return stored

    async def unsent_sms_turn(self, conversation_id: str) -> int | None:
        """The seq of the oldest SMS turn answered but not yet texted (a worker stopped between
        storing the replies and texting them), or None."""
        async with session_scope(self._factory) as session:
            return (
                await session.execute(
                    select(func.min(TurnRequest.seq)).where(
                        TurnRequest.conversation_id == conversation_id,
                        TurnRequest.status == "done",
                        TurnRequest.key.like("sms:%"),
                    )
                )
            ).scalar_one_or_none()

    async def mark_sms_turns_sent(self, conversation_id: str) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                update(TurnRequest)
                .where(
                    TurnRequest.conversation_id == conversation_id,
                    TurnRequest.status == "done",
                    TurnRequest.key.like("sms:%"),
                )
                .values(status="sent")
            )

    async def claim_courtesy(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Conversations whose oldest waiting turn is older than `older_than` and that have not
        been told in this busy period (no waiting turn with `courtesy_sent`); each is claimed
        by a conditional update, so of two copies only one sends the message."""
        async with session_scope(self._factory) as session:
            waiting = (
                await session.execute(
                    select(TurnRequest.conversation_id, func.min(TurnRequest.id))
                    .where(TurnRequest.status == "pending", TurnRequest.created_at < older_than)
                    .group_by(TurnRequest.conversation_id)
                    .limit(limit)
                )
            ).all()
        claimed: list[str] = []
        for conversation_id, oldest_id in waiting:
            async with session_scope(self._factory) as session:
                told = (
                    await session.execute(
                        select(func.count())
                        .select_from(TurnRequest)
                        .where(
                            TurnRequest.conversation_id == conversation_id,
                            TurnRequest.status == "pending",
                            TurnRequest.courtesy_sent.is_(True),
                        )
                    )
                ).scalar_one()
                if told:
                    continue
                result = await session.execute(
                    update(TurnRequest)
                    .where(TurnRequest.id == oldest_id, TurnRequest.courtesy_sent.is_(False))
                    .values(courtesy_sent=True)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(conversation_id)
                    await session.execute(  # the whole busy period is told
                        update(TurnRequest)
                        .where(
                            TurnRequest.conversation_id == conversation_id,
                            TurnRequest.status == "pending",
                        )
                        .values(courtesy_sent=True)
                    )
        return claimed


class SmsStore:
    """Twilio bookkeeping: MessageSid idempotency, opt-outs and delivery status callbacks."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    async def receive(self, message_sid: str, phone: str) -> Received | None:
        """One unit of work for an inbound text: claim the MessageSid, find or create the
        phone's conversation, read its opt-out state and how many of its texts still wait for
        the assistant. None: a retry of a MessageSid already stored; a retry of one claimed but
        never stored (a crash between) is taken again.
        """
        now = self._clock()
        for _attempt in range(3):
            try:
                async with session_scope(self._factory) as session:
                    await session.execute(
                        insert(SmsInbound).values(
                            message_sid=message_sid,
                            from_number=phone,
                            received_at=now,
                            status="received",
                        )
                    )
                    return await self._conversation_of(session, phone, now)
            except IntegrityError:
                async with session_scope(self._factory) as session:
                    status = (
                        await session.execute(
                            select(SmsInbound.status).where(SmsInbound.message_sid == message_sid)
                        )
                    ).scalar_one_or_none()
                    if status == "received":
                        # Claimed, but the message was never stored (its status changes with
                        # the message and its turn): the copy that took it died in between.
                        # Twilio's retry is taken again; storing is idempotent on the sid.
                        return await self._conversation_of(session, phone, now)
                if status is not None:
                    return None  # Twilio retrying a message already taken
                continue  # the conversation was created at the same moment: read it again
        raise RuntimeError("could not record an inbound text")

    @staticmethod
    async def _conversation_of(session: AsyncSession, phone: str, now: datetime) -> Received:
        """The phone's conversation (made on its first text), opt-out state and waiting turns,
        read with plain column selects (no ORM objects: this runs for every text of a storm)."""
        found = (
            await session.execute(
                select(
                    Conversation.id,
                    Conversation.channel,
                    Conversation.external_id,
                    Conversation.mode,
                    Conversation.last_buttons,
                ).where(Conversation.channel == "sms", Conversation.external_id == phone)
            )
        ).one_or_none()
        pending = 0
        if found is None:
            conv = ConversationInfo(f"sms-{uuid.uuid4().hex}", "sms", phone, "bot", None)
            await session.execute(
                insert(Conversation).values(_new_conversation_values(conv.id, "sms", phone, now))
            )
        else:
            conv = ConversationInfo(*found)
            pending = int(await session.scalar(_waiting_turns(conv.id)) or 0)
        opted_out = await session.scalar(
            select(SmsOptOut.opted_out).where(SmsOptOut.phone == phone)
        )
        return Received(conv, bool(opted_out), pending)

    async def claim_message_sid(self, message_sid: str, from_number: str) -> bool:
        """True the first time a MessageSid is seen; False for Twilio's retries of it."""
        try:
            async with session_scope(self._factory) as session:
                session.add(
                    SmsInbound(
                        message_sid=message_sid,
                        from_number=from_number,
                        received_at=self._clock(),
                        status="received",
                    )
                )
            return True
        except IntegrityError:
            return False

    async def set_inbound_status(self, message_sid: str, status: str) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                update(SmsInbound)
                .where(SmsInbound.message_sid == message_sid)
                .values(status=status)
            )

    async def is_opted_out(self, phone: str) -> bool:
        """The hook every outbound SMS path calls (`build_notifier(is_opted_out=...)`)."""
        async with session_scope(self._factory) as session:
            row = (
                await session.execute(select(SmsOptOut).where(SmsOptOut.phone == phone))
            ).scalar_one_or_none()
            return bool(row and row.opted_out)

    async def set_opted_out(self, phone: str, opted_out: bool, source: str) -> bool:
        """Record the number's state; True when it changed (so one confirmation is sent)."""
        now = self._clock()
        for _attempt in range(2):
            try:
                async with session_scope(self._factory) as session:
                    row = (
                        await session.execute(select(SmsOptOut).where(SmsOptOut.phone == phone))
                    ).scalar_one_or_none()
                    if row is None:
                        session.add(
                            SmsOptOut(
                                phone=phone, opted_out=opted_out, updated_at=now, source=source
                            )
                        )
                        return opted_out  # a new number is opted in by default
                    if row.opted_out == opted_out:
                        return False
                    row.opted_out = opted_out
                    row.updated_at = now
                    row.source = source
                    return True
            except IntegrityError:  # first row inserted concurrently: read it again
                continue
        return False

    async def record_status(
        self, message_sid: str, to_number: str | None, status: str, error_code: str | None
    ) -> None:
        async with session_scope(self._factory) as session:
            session.add(
                SmsStatusCallback(
                    message_sid=message_sid,
                    to_number=to_number,
                    status=status,
                    error_code=error_code,
                    received_at=self._clock(),
                )
            )
