"""Operations test fixtures: the gateway on a real SQLite database with a fake Rasa and a fake
action server, so readiness can see each dependency up and then down."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from gateway.helpers import FakeRasa, gateway_settings, serve_fake_rasa

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.state import GatewayOptions


@pytest.fixture
async def fake_rasa(aiohttp_server: Any) -> FakeRasa:
    return await serve_fake_rasa(aiohttp_server)


@pytest.fixture
async def fake_actions(aiohttp_server: Any) -> TestServer:
    """Answers like rasa_sdk's action server health check."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    return await aiohttp_server(app)


@pytest.fixture
def settings(
    sqlite_url: str, fake_rasa: FakeRasa, fake_actions: TestServer, tmp_path: Any
) -> Settings:
    return gateway_settings(
        sqlite_url,
        fake_rasa,
        tmp_path,
        action_server_host="127.0.0.1",
        action_server_port=fake_actions.port or 0,
    )


@pytest.fixture
async def make_client(aiohttp_client: Any, settings: Settings):
    """`await make_client(**changes)`: the gateway with these settings changed."""

    async def make(**changes: Any) -> TestClient:
        options = GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0)
        return await aiohttp_client(create_app(replace(settings, **changes), options=options))

    return make


@pytest.fixture
async def client(make_client) -> TestClient:
    return await make_client()
