"""Driving members: the NLU check before timing, then concurrent scripted conversations, each turn
timed from request to reply: over Rasa's REST channel for the bare bot, over the signed gateway
channel (`bot.chat.send`) for our stack.

The timed phase is all aiohttp in one event loop; every request has a timeout, and an error or
an unexpected reply is recorded as a sample, never raised.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.config import REQUEST_TIMEOUT_SECONDS
from bench.scenarios import Turn, reply_matches
from bot.chat import send


@dataclass(frozen=True)
class Sample:
    category: str
    ms: float
    ok: bool


async def send_rest(
    session: aiohttp.ClientSession, rasa_url: str, sender: str, text: str
) -> list[dict[str, Any]]:
    """One turn over a plain Rasa's REST channel (the bare bot)."""
    async with session.post(
        f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
    ) as response:
        response.raise_for_status()
        body = await response.json()
        return body if isinstance(body, list) else []


def _timeout() -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS, connect=10)


async def check_nlu(rasa_url: str, token: str, turns: Iterable[Turn]) -> list[str]:
    """Every distinct scripted sentence must get its intended intent; returns the misses."""
    misses: list[str] = []
    seen: set[str] = set()
    async with aiohttp.ClientSession(timeout=_timeout()) as session:
        for turn in turns:
            if turn.text in seen:
                continue
            seen.add(turn.text)
            async with session.post(
                f"{rasa_url}/model/parse", params={"token": token}, json={"text": turn.text}
            ) as response:
                response.raise_for_status()
                parsed = await response.json()
            got = (parsed.get("intent") or {}).get("name")
            if got != turn.intent:
                misses.append(f"{turn.text!r}: expected {turn.intent}, NLU says {got}")
    return misses


async def converse(
    session: aiohttp.ClientSession,
    rasa_url: str,
    sender: str,
    script: list[Turn],
    samples: list[Sample],
    misses: list[str],
    secret_key: str | None = None,
) -> None:
    """One conversation, turn after turn, timing each; errors are recorded, never raised.
    With `secret_key` the turns are signed for our gateway channel, else sent over REST."""
    for turn in script:
        started = time.perf_counter()
        try:
            if secret_key is None:
                replies = await send_rest(session, rasa_url, sender, turn.text)
            else:
                replies = await send(session, rasa_url, sender, turn.text, secret_key=secret_key)
            ok = reply_matches(turn, replies)
            detail = " | ".join(str(r.get("text")) for r in replies)
        except (TimeoutError, aiohttp.ClientError) as exc:
            ok, detail = False, f"error: {exc!r}"
        samples.append(Sample(turn.category, (time.perf_counter() - started) * 1000, ok))
        if not ok and len(misses) < 10:
            misses.append(f"{turn.text!r} -> {detail[:200]}")


async def drive(
    rasa_url: str,
    script_for: Callable[[int, int], list[Turn]],
    members: int,
    rounds: int,
    tag: str,
    secret_key: str | None = None,
) -> tuple[list[Sample], float, list[str]]:
    """`members` concurrent members, each holding `rounds` conversations one after another;
    returns the samples, the timed phase's wall seconds and the first unexpected replies."""
    samples: list[Sample] = []
    misses: list[str] = []
    run = uuid.uuid4().hex[:6]
    connector = aiohttp.TCPConnector(limit=members + 2)
    async with aiohttp.ClientSession(timeout=_timeout(), connector=connector) as session:
        # Warm-up (not measured): the first turns of a fresh Rasa load lazily built graphs.
        await converse(session, rasa_url, f"warm-{tag}-{run}", script_for(0, 0), [], [], secret_key)

        async def member(m: int) -> None:
            for r in range(rounds):
                await converse(
                    session,
                    rasa_url,
                    f"bench-{tag}-{run}-{m}-{r}",
                    script_for(m, r),
                    samples,
                    misses,
                    secret_key,
                )

        started = time.perf_counter()
        await asyncio.gather(*(member(m) for m in range(members)))
        wall = time.perf_counter() - started
    return samples, wall, misses
