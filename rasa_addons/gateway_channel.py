"""Rasa's only input channel for member turns: `POST /webhooks/gateway/webhook`, signed.

Loaded by Rasa from the credentials file (`rasa_addons.gateway_channel.GatewayInput:`). A turn is
accepted only when it carries the gateway's signature over the raw body (metadata included) and
was signed within `max_age_seconds`; unsigned turns get 401, forged or stale ones 403, and a
`message_id` already accepted in the window 409 (a replay), so nobody who merely reaches Rasa can
speak for a member or forge the `phone` the identity check trusts. See `rasa_addons.signing`.
A text longer than `MESSAGE_MAX_CHARS` is cut before the turn starts (`rasa_addons.limits`).

The body and the answer are those of Rasa's REST channel (`sender`, `message`, `metadata`; a
list of bot messages), plus the gateway's `message_id`, which becomes the Rasa message id. The
first bot message also carries `nlu`: the intent the turn was classified as and its confidence
(`{"intent": "pay_bill", "confidence": 0.97}`), read from the tracker after the turn; the gateway
stores it with that reply for the console's insights page (docs/agent-console.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_addons import limits, signing

logger = logging.getLogger(__name__)


class GatewayInput(InputChannel):
    """Member turns from the gateway, each signed with the `rasa-channel` key."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "GatewayInput":
        credentials = credentials or {}
        keys = signing.keys_from_env()
        if not keys:
            raise RuntimeError(
                "The gateway channel has no key: start Rasa with `jecbot run`, or set "
                "SECRET_KEY (the same value as the gateway's) in Rasa's environment."
            )
        max_age = float(credentials.get("max_age_seconds") or signing.DEFAULT_MAX_AGE_SECONDS)
        return cls(signing.TurnVerifier(keys, max_age_seconds=max_age))

    def __init__(
        self, verifier: signing.TurnVerifier, max_text_chars: Optional[int] = None
    ) -> None:
        self.verifier = verifier
        self.max_text_chars = max_text_chars or limits.max_text_chars()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("jec_gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            """200 once the model is loaded (the runner's health check; no token needed)."""
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                return response.json({"status": "loading"}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            try:
                self.verifier.check(
                    request.headers.get(signing.TIMESTAMP_HEADER),
                    request.headers.get(signing.SIGNATURE_HEADER),
                    body,
                )
            except signing.Refused as refused:
                logger.warning(
                    "Refused a turn from %s: %s", request.remote_addr or request.ip, refused.reason
                )
                return response.json({"error": refused.reason}, status=refused.status)
            turn = _parse(body)
            if turn is None:
                return response.json({"error": "malformed turn"}, status=400)
            sender, text, metadata, message_id = turn
            text = limits.cap_text(text, self.max_text_chars)
            if not self.verifier.first_time(message_id):
                logger.warning("Refused a replayed turn (message id %s)", message_id)
                return response.json({"error": "replayed turn"}, status=409)
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                metadata=metadata,
                message_id=message_id,
            )
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("The turn %s failed", message_id)
                return response.json({"error": "the turn failed"}, status=500)
            messages = collector.messages
            if messages:
                nlu = await _latest_intent(getattr(request.app.ctx, "agent", None), sender)
                if nlu:
                    messages[0] = {**messages[0], "nlu": nlu}
            return response.json(messages)

        return webhook


async def _latest_intent(agent: Any, sender: Text) -> Optional[Dict[Text, Any]]:
    """The intent (name, confidence) of the conversation's latest member message, or None."""
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return None
    try:
        tracker = await store.retrieve(sender)
    except Exception:  # an insight is never worth failing a member's turn
        logger.warning("Could not read the intent of the last turn of %s", sender)
        return None
    intent = (tracker.latest_message.intent or {}) if tracker and tracker.latest_message else {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if not isinstance(name, str) or not name:
        return None
    try:
        return {"intent": name[:80], "confidence": round(float(confidence or 0.0), 4)}
    except (TypeError, ValueError):
        return {"intent": name[:80], "confidence": 0.0}


def _parse(body: bytes) -> Optional[tuple]:
    """(sender, text, metadata, message_id) from a signed body, or None if it is not a turn."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    sender, text = data.get("sender"), data.get("message")
    metadata, message_id = data.get("metadata") or {}, data.get("message_id")
    if not (isinstance(sender, str) and sender and isinstance(text, str)):
        return None
    if not (isinstance(metadata, dict) and isinstance(message_id, str) and message_id):
        return None
    return sender, text, metadata, message_id
