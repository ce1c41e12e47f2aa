"""Load through the gateway, as members reach it: signed Twilio webhooks and the chat WebSocket.

The pieces `make bench` (fixed offered rates, saturation) and `make bench-storm` use:

- `arrivals`: open-loop arrival times (a Poisson process at R per second, seeded): messages
  arrive when they arrive, whether or not the assistant has answered the earlier ones (a
  closed loop of members, each waiting for its answer, would slow down with the assistant and
  hide the queue);
- `SmsMember` posts one signed text (X-Twilio-Signature computed with the `twilio`
  RequestValidator, as Twilio signs, over the gateway's public URL) from a distinct number;
- `WebMember` opens the WebSocket (from its own address through the trusted proxy header, so
  the per-address limits apply to it as to a real visitor), says hello, sends one message and
  waits for the first bot or system message;
- `AnswerBook` reads what each SMS member was sent from the database the gateway writes (stored
  outbound messages and the outbox), never from the webhook's answer alone: it works whether the
  webhook holds for the assistant (today) or acknowledges at once and answers through a queue;
- `classify` sorts a message by its wording: a real answer, the courtesy message ("We're getting
  a lot of messages right now..."), the apology ("Sorry, I'm having trouble right now..."), or a
  slow-down notice.

Blocking calls stay out of the event loop: the database is read in a thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies

ANSWER = "answer"
COURTESY = "courtesy"
APOLOGY = "apology"
SLOW_DOWN = "slow_down"

# The wording of what is not a real answer (bot/gateway/facts.py, bot/gateway/ratelimits.py and
# issue 13's courtesy message); "Sorry for the wait: ..." prefixes a real answer after an outage.
COURTESY_WORDS = ("getting a lot of messages right now", "you're in line")
APOLOGY_WORDS = ("i'm having trouble right now",)
SLOW_DOWN_WORDS = ("faster than i can answer", "still working on your earlier messages")

# The storm's mix: what members text on a storm night (towns from the profile's territory).
STORM_MIX: tuple[tuple[str, float], ...] = (
    ("is the power out in wrens", 0.35),
    ("power out in louisville, there's a line down in the road and sparks", 0.15),
    ("what's my balance", 0.25),
    ("what time do yall open", 0.25),
)
WEB_MIX: tuple[tuple[str, float], ...] = (
    ("is there an outage in wrens", 0.4),
    ("whats my balance", 0.3),
    ("what time do yall close", 0.3),
)


def classify(message: str) -> str:
    lowered = " ".join(message.lower().split()).replace("\u2019", "'")
    if any(w in lowered for w in COURTESY_WORDS):
        return COURTESY
    if any(w in lowered for w in APOLOGY_WORDS):
        return APOLOGY
    if any(w in lowered for w in SLOW_DOWN_WORDS):
        return SLOW_DOWN
    return ANSWER


def arrivals(rate: float, count: int, seed: int = 13) -> list[float]:
    """`count` arrival offsets (seconds from the start) of a Poisson process at `rate`/s."""
    if rate <= 0 or count < 0:
        raise ValueError("rate must be positive and count not negative")
    rng = random.Random(seed)
    at, out = 0.0, []
    for _ in range(count):
        out.append(at)
        at += rng.expovariate(rate)
    return out


def pick(mix: tuple[tuple[str, float], ...], index: int, seed: int = 13) -> str:
    """The `index`-th message of a weighted mix (deterministic for a seed)."""
    rng = random.Random(seed * 1_000_003 + index)
    texts, weights = zip(*mix, strict=True)
    return rng.choices(texts, weights=weights)[0]


def phone_number(index: int) -> str:
    """Distinct fictional numbers (+1 478 55x xxxx) for simulated texters."""
    return f"+1478{550 + index // 10_000:03d}{index % 10_000:04d}"


async def open_loop(
    offsets: list[float], one: Callable[[int], Awaitable[None]], limit: int = 2000
) -> float:
    """Start `one(i)` at each offset, without waiting for earlier ones; returns wall seconds."""
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(limit)  # the client's own sockets, far above what is offered

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    for i, offset in enumerate(offsets):
        delay = started + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(run(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------ SMS


@dataclass
class SmsTarget:
    gateway_url: str
    settings: Any  # bot.config.Settings with the gateway's public_base_url and Twilio token


@dataclass
class SmsResult:
    phone: str
    sent_at: float  # perf_counter when posted
    status: int = 0
    ack_ms: float = 0.0
    twiml: list[str] = field(default_factory=list)
    error: str | None = None


async def send_text(
    session: aiohttp.ClientSession, target: SmsTarget, phone: str, body: str
) -> SmsResult:
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+17065550100",
        "Body": body,
        "NumMedia": "0",
    }
    url = f"{target.gateway_url}/sms/twilio"
    signature = sign(target.settings, url, form)
    result = SmsResult(phone, time.perf_counter())
    try:
        async with session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as r:
            result.status = r.status
            xml = await r.text()
        result.ack_ms = (time.perf_counter() - result.sent_at) * 1000
        result.twiml = twiml_bodies(xml)
    except (TimeoutError, aiohttp.ClientError) as exc:
        result.ack_ms = (time.perf_counter() - result.sent_at) * 1000
        result.error = repr(exc)
    return result


class AnswerBook:
    """What each SMS member was sent, read from the gateway's database: the stored outbound
    messages of their conversation (sender bot or system) and the outbox rows to their number,
    each classified; with the time this bench first saw a real answer."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.first_answer: dict[str, float] = {}

    def close(self) -> None:
        self.engine.dispose()

    def _read(self, phones: list[str]) -> dict[str, list[str]]:
        if not phones:
            return {}
        found: dict[str, list[str]] = {p: [] for p in phones}
        params = {f"p{i}": p for i, p in enumerate(phones)}
        names = ", ".join(f":p{i}" for i in range(len(phones)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select c.external_id, m.text from messages m join conversations c "
                    "on c.id = m.conversation_id where c.channel = 'sms' and m.direction = 'out' "
                    f"and m.sender in ('bot', 'system') and c.external_id in ({names}) "
                    "order by m.id"
                ),
                params,
            ).all()
            seen = {(phone, body) for phone, body in rows}
            outbox = conn.execute(
                text(
                    f'select "to", body from outbox where channel = \'sms\' and "to" in ({names})'
                ),
                params,
            ).all()
        for phone, body in rows:
            found[phone].append(body or "")
        for phone, body in outbox:  # texted later (not stored as a message) counts too
            if (phone, body) not in seen:
                found[phone].append(body or "")
        return found

    async def read(self, phones: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(phones), 400):  # SQLite's bound-parameter limit
            out.update(await asyncio.to_thread(self._read, phones[start : start + 400]))
        return out

    async def watch(self, phones: list[str], until: float, every: float = 0.25) -> None:
        """Stamp each phone's first real answer until all have one or `until` (perf_counter)."""
        waiting = set(phones)
        while waiting and time.perf_counter() < until:
            seen = await self.read(sorted(waiting))
            now = time.perf_counter()
            for phone, bodies in seen.items():
                if any(classify(b) == ANSWER for b in bodies):
                    self.first_answer.setdefault(phone, now)
                    waiting.discard(phone)
            await asyncio.sleep(every)


# ------------------------------------------------------------------------------------ web


@dataclass
class WebResult:
    address: str
    ack_ms: float | None = None
    answer_ms: float | None = None
    answered_at: float | None = None  # perf_counter of the first bot/system message
    texts: list[str] = field(default_factory=list)
    error: str | None = None


async def web_turn(
    session: aiohttp.ClientSession,
    gateway_url: str,
    address: str,
    body: str,
    wait_seconds: float,
) -> WebResult:
    """A new visitor from `address`: hello, one message, the first answer (or the timeout)."""
    result = WebResult(address)
    headers = {"X-Forwarded-For": address, "Origin": gateway_url}
    try:
        async with session.ws_connect(f"{gateway_url}/ws", headers=headers, heartbeat=None) as ws:
            await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
            deadline = time.perf_counter() + wait_seconds
            while True:
                event = await _next(ws, deadline)
                if event.get("type") == "welcome":
                    break
            client_id = uuid.uuid4().hex
            sent = time.perf_counter()
            await ws.send_json({"type": "message", "text": body, "client_id": client_id})
            while True:
                event = await _next(ws, deadline)
                kind = event.get("type")
                if kind == "ack" and event.get("client_id") == client_id:
                    result.ack_ms = (time.perf_counter() - sent) * 1000
                elif kind == "message" and event.get("sender") in ("bot", "system"):
                    result.texts.append(str(event.get("text") or ""))
                    if classify(result.texts[-1]) != COURTESY:  # a courtesy message: wait on
                        result.answered_at = time.perf_counter()
                        result.answer_ms = (result.answered_at - sent) * 1000
                        return result
                elif kind == "error":
                    result.error = str(event.get("error"))
                    return result
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        result.error = result.error or repr(exc)
    return result


async def _next(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), max(deadline - time.perf_counter(), 0.01))
    if msg.type != aiohttp.WSMsgType.TEXT:
        raise ValueError(f"socket closed: {msg.type!r} {msg.data!r}")
    return json.loads(msg.data)


def web_address(index: int) -> str:
    """A distinct visitor address (10.x.y.z) per simulated web member."""
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255 or 1}"
