"""The gateway's Rasa client over several Rasa replicas (issue 13 item 4): turns are spread over
them, a dead one is skipped without losing the turn, and a Rasa that dies while it holds a turn
makes the client say "unavailable" (so the queue retries it) instead of answering wrongly."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.gateway.rasa_client import CHANNEL_PATH, RasaClient, RasaUnavailable

SECRET = "s" * 40


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _rasa(aiohttp_server: Any, name: str, seen: list[str], *, dies: bool = False) -> str:
    async def channel(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        seen.append(f"{name}:{body['message']}")
        if dies:  # SIGKILL while holding the turn: the connection drops, no answer
            assert request.transport is not None
            request.transport.abort()
        return web.json_response([{"text": f"{name} answers {body['message']}"}])

    app = web.Application()
    app.router.add_post(CHANNEL_PATH, channel)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_turns_are_spread_over_the_replicas(aiohttp_server: Any) -> None:
    seen: list[str] = []
    urls = [await _rasa(aiohttp_server, "r1", seen), await _rasa(aiohttp_server, "r2", seen)]
    async with aiohttp.ClientSession() as http:
        client = RasaClient(urls, lambda: http, secret_key=SECRET)
        answers = [(await client.send(f"m{i}", f"t{i}", {}))[0]["text"] for i in range(4)]
    assert sorted(s.split(":")[0] for s in seen) == ["r1", "r1", "r2", "r2"]
    assert answers == [f"{'r1' if i % 2 == 0 else 'r2'} answers t{i}" for i in range(4)]


async def test_a_dead_replica_loses_no_turn(aiohttp_server: Any) -> None:
    """One Rasa is down (connection refused): every turn is answered by the other, and the dead
    one is not knocked on again for every turn."""
    seen: list[str] = []
    live = await _rasa(aiohttp_server, "live", seen)
    async with aiohttp.ClientSession() as http:
        client = RasaClient([_dead_url(), live], lambda: http, secret_key=SECRET)
        for i in range(6):
            assert (await client.send(f"m{i}", f"t{i}", {}))[0]["text"] == f"live answers t{i}"
        assert client.preferred_url() == live  # the handoff's API calls go to the live one too
    assert len(seen) == 6


async def test_a_replica_dying_mid_turn_raises_unavailable_and_the_retry_goes_elsewhere(
    aiohttp_server: Any,
) -> None:
    seen: list[str] = []
    dying = await _rasa(aiohttp_server, "dying", seen, dies=True)
    live = await _rasa(aiohttp_server, "live", seen)
    async with aiohttp.ClientSession() as http:
        client = RasaClient([dying, live], lambda: http, secret_key=SECRET)
        with pytest.raises(RasaUnavailable):  # it may have half-done the turn: not resent here
            await client.send("m1", "my power is out", {})
        assert seen == ["dying:my power is out"]
        # The queue's retry: the dying replica is skipped now.
        replies = await client.send("m1", "my power is out", {})
    assert replies == [{"text": "live answers my power is out"}]


async def test_every_replica_down_is_unavailable() -> None:
    async with aiohttp.ClientSession() as http:
        client = RasaClient([_dead_url(), _dead_url()], lambda: http, secret_key=SECRET)
        with pytest.raises(RasaUnavailable, match="no Rasa server could be reached"):
            await client.send("m1", "hello", {})
        assert await client.ping() is False
