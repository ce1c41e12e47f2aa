"""Browser tests: the real gateway (in-process, on a free port) with a fake Rasa, driven by
Playwright on Debian's Chromium (`/usr/bin/chromium`). Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gateway.agent_helpers import Clock, ControlledRasa, rasa_app

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.handoff import SWEEP_INTERVAL
from bot.gateway.state import GATEWAY, GatewayOptions
from bot.store.db import session_scope
from bot.store.models import HandoffRequest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"

pytestmark = pytest.mark.browser


class BrowserRasa(ControlledRasa):
    """Answers a few member messages like the assistant; "talk to a person" queues for an agent."""

    factory: Any = None

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(body)
        text = body["message"]
        if text == "talk to a person":
            async with session_scope(self.factory) as session:
                row = HandoffRequest(
                    conversation_id=body["sender"],
                    channel="web",
                    status="waiting",
                    topic="high bill",
                    verified_tier="verified",
                    verified_how="account number + ZIP",
                )
                session.add(row)
                await session.flush()
                handoff_id = row.id
            return web.json_response(
                [
                    {
                        "text": "I'm connecting you with member services. "
                        "You're number 1 in line, usually about 4 minutes."
                    },
                    {"custom": {"handoff": {"status": "queued", "handoff_id": handoff_id}}},
                ]
            )
        if text in ("/check_balance", "check balance"):
            return web.json_response([{"text": "Your balance is $142.87, due December 15."}])
        if text.lower().startswith("hello"):
            return web.json_response(
                [
                    {
                        "text": "Hi! How can I help?",
                        "buttons": [
                            {"title": "Check balance", "payload": "/check_balance"},
                            {"title": "Report an outage", "payload": "/report_outage"},
                        ],
                    }
                ]
            )
        return web.json_response([{"text": f"You said: {text}"}])


@dataclass
class ServedGateway:
    """The gateway app on a free port, its settings and the Rasa fake it talks to."""

    base: str
    app: web.Application
    settings: Settings
    rasa: BrowserRasa


@asynccontextmanager
async def served_gateway(
    sqlite_url: str, tmp_path: Path, clock: Clock, notifier: Any = None, **more: Any
) -> AsyncIterator[ServedGateway]:
    """A BrowserRasa and the real gateway in-process (no after-hours sweep of its own), both on
    free ports while the block runs; `more` sets other settings."""
    fake = BrowserRasa()
    rasa_server = TestServer(rasa_app(fake))
    await rasa_server.start_server()
    settings = Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        rasa_url=str(rasa_server.make_url("")).rstrip("/"),
        rasa_token="rasa-secret",
        public_base_url="http://127.0.0.1",
        secret_key="browser-test-secret",
        http_timeout_seconds=5.0,
        **more,
    )
    app = create_app(
        settings, clock=clock, notifier=notifier, options=GatewayOptions(hello_timeout_seconds=10.0)
    )
    app[SWEEP_INTERVAL] = 0.0
    gateway = TestServer(app)
    await gateway.start_server()
    fake.factory = app[GATEWAY].sessions
    try:
        yield ServedGateway(str(gateway.make_url("")).rstrip("/"), app, settings, fake)
    finally:
        await gateway.close()
        await rasa_server.close()


@pytest.fixture
async def stack(sqlite_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    clock = Clock()
    async with served_gateway(sqlite_url, tmp_path, clock) as served:
        yield {
            "base": served.base,
            "app": served.app,
            "settings": served.settings,
            "rasa": served.rasa,
            "clock": clock,
        }


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Any, name: str, *, publish: bool = False) -> Path:
    """Save to tests/artifacts/ (gitignored). With PUBLISH_SCREENSHOTS=1 in the environment
    (`make screenshots`), `publish` also refreshes docs/screenshots/ for the README; a plain test
    run never rewrites tracked files."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    if publish and os.environ.get("PUBLISH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path
