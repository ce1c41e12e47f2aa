"""The bot turn: one member message to Rasa's REST channel, the bot's replies back.

Rasa's REST channel (`POST /webhooks/rest/webhook`) passes `metadata` into the tracker's
`latest_message.metadata`, which is how actions learn the channel and, for SMS, the sender's
phone number (the first verification factor when it is on file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer in time or answered with an error; the caller apologises."""


class BotBackend(Protocol):
    async def send(
        self, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]: ...

    async def ping(self) -> bool: ...


def normalise_replies(raw: Any) -> list[dict[str, Any]]:
    """Rasa's messages (REST channel or `trigger_intent`), keeping only what channels render:
    text, buttons (title, payload), image, custom."""
    if not isinstance(raw, list):
        raise RasaUnavailable("Rasa answered with something that is not a list of messages")
    messages: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        message: dict[str, Any] = {}
        if isinstance(item.get("text"), str) and item["text"].strip():
            message["text"] = item["text"]
        buttons = item.get("buttons") or []
        if isinstance(buttons, list) and buttons:
            message["buttons"] = [
                {
                    "title": str(b.get("title", "")),
                    "payload": str(b.get("payload", b.get("title", ""))),
                }
                for b in buttons
                if isinstance(b, dict)
            ]
        if isinstance(item.get("image"), str) and item["image"]:
            message["image"] = item["image"]
        if isinstance(item.get("custom"), dict):
            message["custom"] = item["custom"]
        if message:
            messages.append(message)
    return messages


class RasaClient:
    """Talks to the Rasa server over the gateway's one shared `aiohttp.ClientSession`."""

    def __init__(
        self,
        base_url: str,
        session: Callable[[], aiohttp.ClientSession],
        *,
        timeout_seconds: float = 10.0,
        token: str | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._token = token

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        url = f"{self._base}/webhooks/rest/webhook"
        body = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session().post(url, json=body, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                raw = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return normalise_replies(raw)

    async def ping(self) -> bool:
        """True when the Rasa server answers its root URL (used by /health)."""
        try:
            async with self._session().get(
                f"{self._base}/", timeout=aiohttp.ClientTimeout(total=3)
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False
