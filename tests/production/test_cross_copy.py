"""A member on gateway copy A and an agent on gateway copy B talk live (issue 13 item 3).

Production profile for real (tests/production/conftest.py): PostgreSQL, Redis, two Rasa with
their action servers, two gateway copies sharing nothing but the databases and Redis. The member
chats over copy A's WebSocket; the agent is signed in to copy B's console with its live stream
(Server-Sent Events) open. Every live update crosses copies through the Redis hub: the queue
change the assistant's handoff makes on A reaches the console on B, the agent's "joined" and
reply made on B reach the member's socket on A, the member's message on A reaches the agent's
stream on B, and the member sees each message once.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.gateway.agents_cli import create_agent
from tests.e2e.test_full_stack import WebMember

pytestmark = [pytest.mark.rasa, pytest.mark.slow, pytest.mark.postgres]

PASSWORD = "correct horse battery production"
WAIT = 120  # seconds; a busy 2-core machine, never asserted on


class ConsoleStream:
    """An agent's open live stream (`GET /console/events`), its events in a queue."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.response.content:
            line = raw.decode("utf-8").strip()
            if line.startswith("data: "):
                await self.events.put(json.loads(line[len("data: ") :]))

    async def wait_for(self, **match: Any) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                event = await self.events.get()
                if all(
                    (v in str(event.get(k, ""))) if k == "text" else event.get(k) == v
                    for k, v in match.items()
                ):
                    return event

        return await asyncio.wait_for(find(), WAIT)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.response.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
async def console_b(production_stack) -> AsyncIterator[tuple[aiohttp.ClientSession, str, str]]:
    """An agent (Maria) signed in to copy B's console: (session, csrf, copy B's URL)."""
    copy_b = production_stack.gateways[1]
    username = f"prod.{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(create_agent, copy_b.settings, username, "Maria Lopez", PASSWORD)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=WAIT)
    ) as session:
        page = await session.get(f"{copy_b.url}/console/login")
        resp = await session.post(
            f"{copy_b.url}/console/login",
            allow_redirects=False,
            data={"csrf": _csrf(await page.text()), "username": username, "password": PASSWORD},
        )
        assert resp.status == 303, await resp.text()
        home = await session.get(f"{copy_b.url}/console")
        csrf = _csrf(await home.text())
        try:
            yield session, csrf, copy_b.url
        finally:
            await session.post(f"{copy_b.url}/console/logout", data={"csrf": csrf})


async def _stream(session: aiohttp.ClientSession, url: str) -> ConsoleStream:
    response = await session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
    assert response.status == 200, await response.text()
    return ConsoleStream(response)


async def test_a_member_on_copy_a_and_an_agent_on_copy_b_talk_live(
    production_stack, console_b
) -> None:
    session, csrf, b_url = console_b
    a_url = production_stack.gateways[0].url
    queue_stream = await _stream(session, f"{b_url}/console/events")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http,
        http.ws_connect(f"{a_url}/ws") as ws,
    ):
        await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
        welcome = await asyncio.wait_for(ws.receive_json(), WAIT)
        assert welcome["type"] == "welcome"
        member = WebMember(ws, welcome["conversation_id"])
        conversation_stream = None
        try:
            # The member (on A) verifies and asks for a person; the console on B hears of it.
            assert (await member.texts("what's my balance"))[0].endswith(
                "What's your 10-digit account number? It's at the top of your bill."
            )
            await member.texts("1000004821")
            assert (await member.texts("30833"))[0] == "You're verified, Dana."
            queued = await member.say("can I talk to a real person")
            [handoff_id] = [m["custom"]["handoff"]["handoff_id"] for m in queued if m.get("custom")]
            await queue_stream.wait_for(type="queue", reason="queued")

            # Maria takes it on B; the member on A is told, live.
            taken = await session.post(
                f"{b_url}/console/handoffs/{handoff_id}/take",
                data={"csrf": csrf},
                allow_redirects=False,
            )
            assert taken.status in (302, 303)
            await member.wait_for("system", "Maria from member services has joined the chat.")
            conversation_stream = await _stream(
                session, f"{b_url}/console/events?conversation={member.conversation_id}"
            )

            # Member (A) -> agent (B), live on the agent's stream.
            await member.send("my bill looks way too high this month")
            await conversation_stream.wait_for(
                type="message", sender="member", text="way too high this month"
            )
            # Agent (B) -> member (A), live on the member's socket.
            reply = await session.post(
                f"{b_url}/console/handoffs/{handoff_id}/reply",
                data={"csrf": csrf, "text": "Hi Dana, I can see your bill. One moment."},
            )
            assert reply.status == 200
            from_agent = await member.wait_for("agent", "I can see your bill")
            assert from_agent["agent_name"] == "Maria"

            # Nothing reached the member twice (copy A's own events are not echoed back).
            await asyncio.sleep(2)
            while True:
                try:
                    await asyncio.wait_for(member.next_event(), 0.5)
                except TimeoutError:
                    break
            seqs = [m["seq"] for m in member.seen]
            assert len(seqs) == len(set(seqs)), f"a message was delivered twice: {seqs}"
            await session.post(
                f"{b_url}/console/handoffs/{handoff_id}/end",
                data={"csrf": csrf},
                allow_redirects=False,
            )
        finally:
            await queue_stream.close()
            if conversation_stream is not None:
                await conversation_stream.close()
