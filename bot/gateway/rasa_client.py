"""The bot turn: one member message to Rasa's gateway channel, the bot's replies back.

Rasa's gateway channel (`POST /webhooks/gateway/webhook`, `rasa_addons/gateway_channel.py`)
passes `metadata` into the tracker's `latest_message.metadata`, which is how actions learn the
channel and, for SMS, the sender's phone number (the first verification factor when it is on
file). Because the metadata is trusted that far, every turn is signed: an HMAC-SHA256 with the
`Purpose.RASA_CHANNEL` key over the timestamp and the raw body (metadata included), in two
headers. Rasa refuses unsigned, forged, stale (over a minute) and replayed turns. The wire format
is described in docs/security.md; `rasa_addons/signing.py` is the verifying side.

Replicas: `RasaClient` takes every Rasa URL (`Settings.rasa_urls`) and spreads turns over them in
turn. A server that cannot be reached (connection refused or reset before the request went out)
is skipped for `down_seconds` and the same turn, signed afresh, goes to the next one at once:
Rasa never saw it. A server that dies while it has the turn (disconnect mid-request), an error
answer or a timeout raises `RasaUnavailable`: the turn may have been half done there, so the
caller (the queue) retries it, and the dead server is skipped meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp

from bot.core.keys import Purpose, key_for

log = logging.getLogger(__name__)

CHANNEL_PATH = "/webhooks/gateway/webhook"
TIMESTAMP_HEADER = "X-JEC-Timestamp"
SIGNATURE_HEADER = "X-JEC-Signature"


def signed_turn(
    key: str, sender: str, text: str, metadata: dict[str, Any], *, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one signed turn. `now` is wall-clock seconds (the transport's
    time, not the business clock: Rasa compares it with its own clock)."""
    body = json.dumps(
        {"sender": sender, "message": text, "metadata": metadata, "message_id": uuid.uuid4().hex},
        ensure_ascii=False,
    ).encode("utf-8")
    timestamp = str(int(time.time() if now is None else now))
    mac = hmac.new(key.encode("ascii"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"v1={mac.hexdigest()}",
    }
    return body, headers


def channel_key(secret_key: str) -> str:
    """The key that signs turns for Rasa's gateway channel."""
    return key_for(secret_key, Purpose.RASA_CHANNEL)


class RasaUnavailable(Exception):
    """Rasa did not answer in time or answered with an error; the caller retries or apologises."""


class _NotReached(Exception):
    """The request never reached this Rasa server (safe to send the turn to another)."""


class BotBackend(Protocol):
    async def send(
        self, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]: ...

    async def ping(self) -> bool: ...


def _nlu(raw: Any) -> dict[str, Any] | None:
    """The `nlu` our Rasa channel adds to a turn's first reply (intent, confidence), checked."""
    if not isinstance(raw, dict):
        return None
    name, confidence = raw.get("intent"), raw.get("confidence")
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        return None
    if not isinstance(confidence, int | float) or isinstance(confidence, bool):
        confidence = 0.0
    return {"intent": name.strip(), "confidence": round(min(1.0, max(0.0, float(confidence))), 4)}


def normalise_replies(raw: Any) -> list[dict[str, Any]]:
    """Rasa's messages (REST channel or `trigger_intent`), keeping only what channels render:
    text, buttons (title, payload), image, custom; plus `nlu` (the turn's intent and confidence,
    stored with the reply for the insights page, never shown to the member)."""
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
            nlu = _nlu(item.get("nlu"))
            if nlu:
                message["nlu"] = nlu
            messages.append(message)
    return messages


class RasaClient:
    """Talks to the Rasa servers over the gateway's one shared `aiohttp.ClientSession`."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        session: Callable[[], aiohttp.ClientSession],
        *,
        secret_key: str,
        timeout_seconds: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
        down_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self.urls = tuple(u.rstrip("/") for u in urls)
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._key = channel_key(secret_key)
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._down_seconds = down_seconds
        self._down_until = [0.0] * len(self.urls)
        self._next = 0

    def _order(self) -> list[int]:
        """Round robin from the next server; those marked down go last (a last resort, so a
        turn is tried everywhere before the caller hears "unavailable")."""
        n = len(self.urls)
        start = self._next
        self._next = (start + 1) % n
        ring = [(start + k) % n for k in range(n)]
        now = self._monotonic()
        return [i for i in ring if self._down_until[i] <= now] + [
            i for i in ring if self._down_until[i] > now
        ]

    def _mark_down(self, index: int, why: str) -> None:
        if self._down_until[index] <= self._monotonic():
            log.warning("Rasa at %s is unreachable (%s); using the others", self.urls[index], why)
        self._down_until[index] = self._monotonic() + self._down_seconds

    def preferred_url(self) -> str:
        """A Rasa URL not known to be down (for the HTTP API calls of the handoff)."""
        now = self._monotonic()
        up = [u for u, until in zip(self.urls, self._down_until, strict=True) if until <= now]
        return (up or list(self.urls))[0]

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        reasons = []
        for index in self._order():
            try:
                return await self._send_to(index, sender, text, metadata)
            except _NotReached as exc:
                self._mark_down(index, str(exc))
                reasons.append(f"{self.urls[index]}: {exc}")
        raise RasaUnavailable("no Rasa server could be reached (" + "; ".join(reasons) + ")")

    async def _send_to(
        self, index: int, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        url = f"{self.urls[index]}{CHANNEL_PATH}"
        # Signed per attempt: a fresh message id and timestamp for each server tried.
        body, headers = signed_turn(self._key, sender, text, metadata, now=self._wall_clock())
        try:
            async with self._session().post(
                url, data=body, headers=headers, timeout=self._timeout
            ) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                raw = await resp.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:  # refused, no route: the turn never left
            raise _NotReached(f"{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # It had the turn and died (SIGKILL, OOM): the caller retries, elsewhere.
            self._mark_down(index, type(exc).__name__)
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return normalise_replies(raw)

    async def ping(self) -> bool:
        """True when a Rasa server answers its root URL (used by /health)."""
        for base in self.urls:
            try:
                async with self._session().get(
                    f"{base}/", timeout=aiohttp.ClientTimeout(total=3)
                ) as resp:
                    if resp.status == 200:
                        return True
            except (TimeoutError, aiohttp.ClientError):
                continue
        return False
