"""The real gateway app in front of the fake Rasa of tests/gateway, for the edge's attack tests.

`start_gateway` builds one on a fresh SQLite database with settings a test may override (rate
limits, origins, trusted proxies); `Chat` is a member (or an attacker) on the WebSocket.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.state import GatewayOptions
from tests.conftest import _reset_schema
from tests.gateway.helpers import AUTH_TOKEN, PUBLIC_BASE, FakeRasa, Texter


@dataclass
class EdgeGateway:
    client: TestClient
    rasa: FakeRasa
    settings: Settings
    texter: Texter
    url: str = ""


async def start_gateway(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Path, **overrides: Any
) -> EdgeGateway:
    url = f"sqlite:///{tmp_path / 'edge.db'}"
    _reset_schema(url)
    fake = FakeRasa()
    rasa = web.Application()
    rasa.router.add_post(CHANNEL_PATH, fake.webhook)
    rasa.router.add_get("/", fake.root)
    fake.server = await aiohttp_server(rasa)
    values: dict[str, Any] = {
        "var_dir": tmp_path,
        "database_url": url,
        "rasa_url": str(fake.server.make_url("")).rstrip("/"),
        "public_base_url": PUBLIC_BASE,
        "secret_key": "test-secret-key",
        "twilio_auth_token": AUTH_TOKEN,
        "http_timeout_seconds": 5.0,
    }
    values.update(overrides)
    settings = Settings(**values)
    options = GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0)
    client = await aiohttp_client(create_app(settings, options=options))
    return EdgeGateway(client, fake, settings, Texter(client, settings), url)


@dataclass
class Chat:
    """One WebSocket conversation; `frames` keeps everything the gateway sent."""

    ws: ClientWebSocketResponse
    welcome: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)
    _n: int = 0

    @classmethod
    async def open(cls, client: TestClient, token: str | None = None, **connect: Any) -> Chat:
        ws = await client.ws_connect("/ws", **connect)
        await ws.send_json({"type": "hello", "token": token, "last_seq": 0})
        first = await asyncio.wait_for(ws.receive_json(), 5)
        assert first["type"] == "welcome", first
        return cls(ws, first)

    async def send(self, text: str, payload: str | None = None) -> str:
        self._n += 1
        client_id = f"c-{self._n}"
        frame: dict[str, Any] = {"type": "message", "text": text, "client_id": client_id}
        if payload is not None:
            frame["payload"] = payload
        await self.ws.send_json(frame)
        return client_id

    async def send_raw(self, data: str) -> None:
        await self.ws.send_str(data)

    async def until(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """Frames up to the first matching one (which is returned)."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            if msg.type != WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg.type} {msg.data!r} {msg.extra!r}")
            frame = json.loads(msg.data)
            self.frames.append(frame)
            if predicate(frame):
                return frame

    async def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message from the assistant or the gateway."""
        return await self.until(
            lambda f: f["type"] == "message" and f["sender"] in ("bot", "system"), timeout
        )

    async def close(self) -> None:
        await self.ws.close()


def bot_reply(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["sender"] == "bot"
