"""Storm night with crashes (issue 13, Tests): a burst of 200 texts from 200 members through
both gateway copies while one gateway copy and one Rasa process are killed with SIGKILL; every
member gets the answer exactly once (no apology, nobody unanswered, nobody answered twice).

Twilio behind the co-op's load balancer is played by the test: each text goes to copy A or B in
turn; when the copy it went to is dead (refused, reset mid-request) the same text (same
MessageSid) is delivered again to the other copy, as a balancer retry or Twilio's redelivery
would. An answer is counted wherever the member would get it: in the webhook's TwiML or as a
later text (the outbox table: this stack has no Twilio account).

This needs the durable queue (issue 13 item 1, branch `queue`): without it a text held by the
killed copy is lost (its MessageSid was claimed before its turn ran) and a turn held by the
killed Rasa is answered with the apology. It is neither skipped nor marked xfail on purpose.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import aiohttp
import pytest

from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies
from tests.production.conftest import TWILIO_NUMBER, GatewayCopy, ProductionStack

pytestmark = [pytest.mark.rasa, pytest.mark.slow, pytest.mark.postgres]

TEXTS = 200
RATE_PER_SECOND = 20
KILL_AFTER = 60  # texts sent before the crashes
QUESTION = "what time do yall close"
ANSWER = "open until 5 PM today"  # part of the one answer (tests/e2e/test_full_stack.py)
APOLOGY = "having trouble right now"
ANSWERED_WITHIN_SECONDS = 900  # a loaded 2-core machine with one Rasa left; never a figure
QUIET_SECONDS = 180  # no new text to anyone for this long: the rest is not coming


def _phones() -> list[str]:
    base = 4785550000 + (uuid.uuid4().int % 4000)  # not the demo members' numbers
    return [f"+1{base + i}" for i in range(TEXTS)]


async def _post(
    http: aiohttp.ClientSession, copy: GatewayCopy, form: dict[str, str]
) -> tuple[int, str]:
    url = f"{copy.url}/sms/twilio"
    async with http.post(
        url, data=form, headers={"X-Twilio-Signature": sign(copy.settings, url, form)}
    ) as resp:
        return resp.status, await resp.text()


async def _deliver(
    http: aiohttp.ClientSession,
    stack: ProductionStack,
    index: int,
    phone: str,
    twiml: dict[str, list[str]],
) -> None:
    """One text, like Twilio through the balancer: copy A or B in turn, the other on failure."""
    a, b = stack.gateways
    order = [a, b] if index % 2 == 0 else [b, a]
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": TWILIO_NUMBER,
        "Body": QUESTION,
        "NumMedia": "0",
    }
    for attempt in range(20):
        copy = order[attempt % 2]
        try:
            status, xml = await _post(http, copy, form)
        except (aiohttp.ClientError, TimeoutError):
            status, xml = 0, ""
        if status == 200:
            twiml[phone].extend(twiml_bodies(xml))
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no gateway copy took the text from {phone}")


def _outbox(stack: ProductionStack, phones: set[str]) -> dict[str, list[str]]:
    rows = stack.sql('select "to", body from outbox order by id')
    found: dict[str, list[str]] = {p: [] for p in phones}
    for to, body in rows:
        if to in found:
            found[to].append(body)
    return found


async def test_200_texts_are_answered_exactly_once_while_a_gateway_and_a_rasa_are_killed(
    production_stack: ProductionStack,
) -> None:
    stack = production_stack
    phones = _phones()
    twiml: dict[str, list[str]] = {p: [] for p in phones}
    killed_gateway, killed_rasa = stack.gateways[1].child, stack.rasas[0]
    # The killed processes stay dead: the next test (if any) gets them back (`_whole_stack`).
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=ANSWERED_WITHIN_SECONDS)
    ) as http:
        tasks = []
        for index, phone in enumerate(phones):
            if index == KILL_AFTER:
                await asyncio.to_thread(stack.kill, killed_gateway)
                await asyncio.to_thread(stack.kill, killed_rasa)
            tasks.append(asyncio.create_task(_deliver(http, stack, index, phone, twiml)))
            await asyncio.sleep(1 / RATE_PER_SECOND)
        await asyncio.gather(*tasks)

    # Wait until every member has an answer (TwiML or a later text), or nothing new has been
    # sent for QUIET_SECONDS, then a little more for any second answer to show up.
    deadline = time.monotonic() + ANSWERED_WITHIN_SECONDS
    last_total, last_change = -1, time.monotonic()
    while True:
        outbox = await asyncio.to_thread(_outbox, stack, set(phones))
        answers = Counter({p: sum(ANSWER in t for t in twiml[p] + outbox[p]) for p in phones})
        if all(answers[p] >= 1 for p in phones) or time.monotonic() > deadline:
            break
        total = sum(len(v) for v in outbox.values())
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > QUIET_SECONDS:
            break
        await asyncio.sleep(5)
    await asyncio.sleep(10)
    outbox = await asyncio.to_thread(_outbox, stack, set(phones))
    everything = {p: twiml[p] + outbox[p] for p in phones}
    answers = Counter({p: sum(ANSWER in t for t in everything[p]) for p in phones})
    apologised = [p for p in phones if any(APOLOGY in t for t in everything[p])]
    unanswered = [p for p in phones if answers[p] == 0]
    twice = [p for p in phones if answers[p] > 1]
    summary = (
        f"{TEXTS} texts: {len(unanswered)} unanswered, {len(twice)} answered more than once, "
        f"{len(apologised)} apologised to (logs: {stack.log_dir})"
    )
    print(summary)
    assert not apologised, summary
    assert not unanswered, summary
    assert not twice, summary
