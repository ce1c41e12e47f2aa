"""What happens to a member message, whatever the channel.

1. `accept_member_message`: mask it, store it (idempotently), publish it, tell the member when a
   number was masked. This always happens, even when Rasa is down: a member's message is never lost.
2. `bot_turn`: while the conversation is with the bot, forward it to Rasa (one turn at a time per
   conversation) and store and publish the replies. While it is queued or with an agent the
   assistant stays silent: the message is already stored and published for the agent console.
3. `post_outbound`: any outbound message (bot, agent, system) stored, published and, for SMS,
   texted through the notifier (which refuses opted-out numbers). The console replies with it.

Features hear about the pipeline through `bot.gateway.events`: a newly stored member message
(`member_message`) and the replies of a bot turn (`bot_replies`). Handoff routing listens there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from bot.gateway.conversations import (
    ConversationInfo,
    ConversationStore,
    PendingTurn,
    StoredMessage,
    TurnSpec,
    reply_payload,
)
from bot.gateway.edge import cut_notice, cut_text, typed_text_for_rasa
from bot.gateway.events import (
    BOT_REPLIES,
    MEMBER_MESSAGE,
    BotReplies,
    GatewayEvents,
    MemberMessage,
)
from bot.gateway.facts import GatewayTexts
from bot.gateway.hub import Hub, KeyedLocks
from bot.gateway.masking import MaskResult, mask_inbound, masked_notice
from bot.gateway.rasa_client import BotBackend, RasaUnavailable
from bot.gateway.sms_format import last_buttons, render_sms
from bot.logs import conversation_id_var, mask_log_text, request_id_var

if TYPE_CHECKING:
    from bot.ops.metrics import GatewayMetrics

log = logging.getLogger(__name__)

SORRY_FOR_THE_WAIT = "Sorry for the wait: "


class TurnFailed(Exception):
    """Rasa (or the action server behind it) is slow or down: the turn stays queued."""


class SmsSender(Protocol):
    """`bot.services.notifier`'s texting side; returns a DeliveryResult with `.ok`."""

    async def send_sms(self, to_e164: str, body: str) -> Any: ...


@dataclass(frozen=True)
class Accepted:
    message: StoredMessage
    created: bool  # False: a re-send of a message already stored (same client_id)
    masked: MaskResult
    notices: list[StoredMessage]
    cut: bool = False  # longer than the channel's cap: only the first part was kept


def as_bot_message(message: StoredMessage) -> dict[str, Any]:
    """A stored message back in Rasa's reply shape, for channel renderers."""
    out: dict[str, Any] = {"text": message.text}
    for key in ("buttons", "image", "custom"):
        if message.payload.get(key):
            out[key] = message.payload[key]
    return out


class ConversationService:
    def __init__(
        self,
        *,
        store: ConversationStore,
        rasa: BotBackend,
        hub: Hub,
        texts: GatewayTexts,
        sms: SmsSender,
        events: GatewayEvents,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.rasa = rasa
        self.hub = hub
        self.texts = texts
        self.sms = sms
        self.events = events
        self._locks = KeyedLocks()

    async def accept_member_message(
        self,
        conv: ConversationInfo,
        text: str,
        *,
        client_id: str | None = None,
        payload: dict[str, Any] | None = None,
        notify_masking: bool = True,
        max_chars: int | None = None,
        turn: TurnSpec | None = None,
    ) -> Accepted:
        """Mask, store and publish a member message; listeners of `member_message` hear it once
        (not for a re-send), before the caller decides whether the bot takes a turn.

        With `max_chars`, a longer text is cut after masking (so a card number across the cut is
        masked whole) and the member is told; `text` must already be clean (`bot.gateway.edge`).
        """
        if max_chars is not None:
            text = text[: 2 * max_chars + 256]  # bounds the masking work; the cut comes after
        masked = mask_inbound(text)
        kept, cut = (masked.text, False) if max_chars is None else cut_text(masked.text, max_chars)
        if turn is not None and masked.found_any:  # Rasa hears the masked text, and that it was
            found = [k for k, v in (("card", masked.found_card), ("bank", masked.found_bank)) if v]
            turn = TurnSpec(
                key=turn.key,
                metadata={**turn.metadata, "masked": found},
                rasa_text=None,
                from_button=False,
                sms_sid=turn.sms_sid,
            )
        message, created, mode = await self.store.append_with_mode(
            conv.id,
            direction="in",
            sender="member",
            text=kept,
            payload=payload,
            client_id=client_id,
            delivered=True,
            turn=turn,
        )
        notices: list[StoredMessage] = []
        if created:
            self.hub.publish(conv.id, message.to_wire())
            notice = masked_notice(masked) if notify_masking else None
            if notice:
                notices.append(
                    await self._store_and_publish(conv, "system", notice, {"masked_notice": True})
                )
            if cut and max_chars is not None:
                notices.append(
                    await self._store_and_publish(
                        conv, "system", cut_notice(max_chars), {"cut_notice": True}
                    )
                )
            # The mode as the message's own transaction saw it: listeners need no second read.
            current = replace(conv, mode=mode)
            await self.events.emit(MEMBER_MESSAGE, MemberMessage(current, message))
        return Accepted(message, created, masked, notices, cut)

    async def bot_turn(
        self,
        conv: ConversationInfo,
        rasa_text: str,
        metadata: dict[str, Any],
        *,
        from_button: bool = False,
    ) -> list[StoredMessage]:
        """One Rasa turn; returns the stored replies (empty while an agent has the conversation).

        `rasa_text` is typed text unless `from_button` (the payload of a button the assistant
        offered): typed text is escaped so Rasa never reads it as an `/intent` or a command.

        Listeners of `bot_replies` run inside the conversation's turn, so what they change (the
        conversation queued for an agent, say) holds before its next turn starts. A listener
        must therefore never await a bot turn of the same conversation; it spawns one instead.
        """
        conversation_id_var.set(conv.id)
        if not from_button:
            rasa_text = typed_text_for_rasa(rasa_text)
        async with self._locks.hold(conv.id):
            current = await self.store.get(conv.id)
            if current is None or current.mode != "bot":
                return []
            self.hub.publish(conv.id, {"type": "typing", "active": True})
            sender = "bot"
            log.debug("bot turn (%s): %s", conv.channel, mask_log_text(rasa_text))
            started = time.monotonic()
            try:
                replies = await self.rasa.send(conv.id, rasa_text, metadata)
            except RasaUnavailable as exc:
                log.warning("assistant unavailable for conversation %s: %s", conv.id, exc)
                replies, sender = [{"text": self.texts.assistant_unavailable}], "system"
            if self.metrics is not None:
                elapsed = time.monotonic() - started
                self.metrics.observe_turn(conv.channel, elapsed, rasa_failed=sender == "system")
            stored = [
                await self._store_and_publish(
                    conv,
                    sender,
                    reply.get("text", ""),
                    reply_payload(reply),
                )
                for reply in replies
            ]
            self.hub.publish(conv.id, {"type": "typing", "active": False})
            if conv.channel == "sms":
                await self.store.set_last_buttons(conv.id, last_buttons(replies))
            if stored:
                await self.events.emit(BOT_REPLIES, BotReplies(conv, stored))
            return stored

    async def run_queued_turn(
        self, turn: PendingTurn, *, apologize: bool = False
    ) -> list[StoredMessage] | None:
        """One queued turn (`bot.gateway.queue_worker` calls it under the conversation's lease):
        Rasa's replies stored with the turn marked done in one transaction. Returns the stored
        replies, [] when the conversation is with an agent, None when the turn was done before
        (a retry after a crash). Raises `TurnFailed` when Rasa is unreachable; with `apologize`
        (it has been for minutes) the member is told once, and the answer, when it comes, starts
        with "Sorry for the wait: ".

        Each attempt is a new signed turn with a fresh `message_id`: Rasa's replay check (409)
        refuses only a copy of one request, while a retry is a new request for the same message.
        """
        conversation_id_var.set(turn.conversation_id)
        request_id_var.set(turn.request_id)  # the worker logs with the storing request's id
        conv = await self.store.get(turn.conversation_id)
        if conv is None or conv.mode != "bot":
            await self.store.skip_turn(turn.id)
            return []
        text = turn.rasa_text if turn.from_button else typed_text_for_rasa(turn.rasa_text)
        self.hub.publish(conv.id, {"type": "typing", "active": True})
        log.debug("bot turn (%s, queued): %s", conv.channel, mask_log_text(text))
        started = time.monotonic()
        try:
            replies = await self.rasa.send(conv.id, text, turn.metadata)
        except RasaUnavailable as exc:
            log.warning("assistant unavailable for conversation %s: %s", conv.id, exc)
            if self.metrics is not None:
                self.metrics.observe_turn(
                    conv.channel, time.monotonic() - started, rasa_failed=True
                )
            tell = apologize and not turn.apologized
            if tell:
                message = await self._store_and_publish(
                    conv, "system", self.texts.assistant_unavailable, {"apology": True}
                )
                if conv.channel == "sms":
                    await self.deliver_sms(conv, [message])
            self.hub.publish(conv.id, {"type": "typing", "active": False})
            await self.store.note_attempt(turn.id, apologized=tell)
            raise TurnFailed(str(exc)) from exc
        if self.metrics is not None:
            self.metrics.observe_turn(conv.channel, time.monotonic() - started, rasa_failed=False)
        if turn.apologized and replies and replies[0].get("text"):
            replies = [
                {**replies[0], "text": SORRY_FOR_THE_WAIT + replies[0]["text"]},
                *replies[1:],
            ]
        stored = await self.store.finish_turn(
            turn, "bot", replies, last_buttons(replies), set_buttons=conv.channel == "sms"
        )
        if stored is None:
            self.hub.publish(conv.id, {"type": "typing", "active": False})
            return None
        for message in stored:
            self.hub.publish(conv.id, message.to_wire())
        self.hub.publish(conv.id, {"type": "typing", "active": False})
        if stored:
            await self.events.emit(BOT_REPLIES, BotReplies(conv, stored))
        return stored

    async def post_outbound(
        self, conv: ConversationInfo, sender: str, text: str, payload: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Store, publish and (SMS) text one outbound message; for agents and notices."""
        conversation_id_var.set(conv.id)
        message = await self._store_and_publish(conv, sender, text, payload or {})
        if conv.channel == "sms":
            await self.deliver_sms(conv, [message])
        return message

    async def deliver_sms(
        self, conv: ConversationInfo, messages: Sequence[StoredMessage]
    ) -> list[str]:
        """Text messages through the notifier (Twilio REST or the outbox); returns the texts."""
        sent: list[str] = []
        delivered: list[int] = []
        for message in messages:
            ok = True
            for body in render_sms([as_bot_message(message)]):
                result = await self.sms.send_sms(conv.external_id, body)
                ok = ok and bool(getattr(result, "ok", True))
                sent.append(body)
            if ok:
                delivered.append(message.seq)
        await self.store.mark_delivered(conv.id, delivered)
        return sent

    async def _store_and_publish(
        self, conv: ConversationInfo, sender: str, text: str, payload: dict[str, Any]
    ) -> StoredMessage:
        message, _ = await self.store.append(
            conv.id, direction="out", sender=sender, text=text, payload=payload
        )
        self.hub.publish(conv.id, message.to_wire())
        return message
