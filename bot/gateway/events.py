"""Named events inside the gateway, and the listeners that subscribe to them.

The conversation service says what happened (a member message was stored, the bot replied, a
payment method was saved) and features such as handoff routing listen, instead of wrapping or
subclassing the message pipeline. Listeners are registered once, at start-up, and awaited in the
order they subscribed. A listener that fails is logged and skipped: it never breaks the member's
turn, and the listeners after it still run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.gateway.conversations import ConversationInfo, StoredMessage

log = logging.getLogger(__name__)

P = TypeVar("P")
Listener = Callable[[P], Awaitable[None]]


@dataclass(frozen=True)
class Event(Generic[P]):
    """An event's name, typed by what its listeners receive."""

    name: str


@dataclass(frozen=True)
class MemberMessage:
    """A member's message, masked and stored for the first time (never for a re-send);
    `conversation.mode` is the mode the storing transaction saw."""

    conversation: ConversationInfo
    message: StoredMessage


@dataclass(frozen=True)
class BotReplies:
    """The replies of one bot turn, stored and published (never empty)."""

    conversation: ConversationInfo
    replies: Sequence[StoredMessage]


@dataclass(frozen=True)
class MethodSaved:
    """A card or bank account was saved on the secure payment page for this conversation."""

    conversation: ConversationInfo
    label: str  # member wording, e.g. "Visa ending 4242"
    method_id: int


@dataclass(frozen=True)
class MemberLeft:
    """The member ended the chat (the widget's "End chat")."""

    conversation: ConversationInfo


MEMBER_MESSAGE: Event[MemberMessage] = Event("member_message")
MEMBER_LEFT: Event[MemberLeft] = Event("member_left")
BOT_REPLIES: Event[BotReplies] = Event("bot_replies")
METHOD_SAVED: Event[MethodSaved] = Event("method_saved")


class GatewayEvents:
    """The gateway's listeners by event; one instance per app, built in its cleanup context."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener[Any]]] = {}

    def subscribe(self, event: Event[P], listener: Listener[P]) -> None:
        """Add `listener` to `event`; it runs after the listeners subscribed before it."""
        self._listeners.setdefault(event.name, []).append(listener)

    def listeners(self, event: Event[P]) -> list[Listener[P]]:
        return list(self._listeners.get(event.name, ()))

    async def emit(self, event: Event[P], payload: P) -> None:
        """Await every listener of `event` in order; a failure is logged, never raised."""
        for listener in self.listeners(event):
            try:
                await listener(payload)
            except Exception:
                # The payload may hold member text: log the event and the listener only.
                log.exception(
                    "listener %s of the %s event failed",
                    getattr(listener, "__qualname__", repr(listener)),
                    event.name,
                )
