"""Embedded default, for real: `kill -9` the gateway while a turn is at Rasa, start it again, and
the member's text is answered, once.

The gateway runs as `python -m bot.gateway` (how `jecbot run` starts it) on a SQLite database,
against a fake Rasa in this test that holds the first turn for a long time. A short queue lease
(2 s) lets the restarted gateway take the dead one's job and conversation without waiting a
minute. Rasa hears the text twice (the first turn died with the gateway; each attempt is a new
signed turn, so Rasa's replay check does not refuse the retry); the member gets one answer.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies
from bot.store.models import ConversationMessage
from gateway.helpers import AUTH_TOKEN, PUBLIC_BASE, FakeRasa, outbox_after, rows, serve_fake_rasa

pytestmark = pytest.mark.slow


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    def __init__(self, env: dict[str, str], log_path: Any) -> None:
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.gateway"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()
                try:
                    async with http.get(url + "/livez") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"gateway did not start: {self.log_path.read_text()[-2000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def test_kill_9_mid_turn_and_restart_the_turn_is_answered_once(
    aiohttp_server, sqlite_url, tmp_path, db
):
    fake: FakeRasa = await serve_fake_rasa(aiohttp_server)
    fake.delay = 30.0  # the first turn is still at Rasa when the gateway dies
    assert fake.server is not None
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JEC_", "REDIS"))},
        "JEC_VAR_DIR": str(tmp_path),
        "DATABASE_URL": sqlite_url,
        "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
        "RASA_URL": str(fake.server.make_url("")).rstrip("/"),
        "RASA_TOKEN": secrets.token_urlsafe(40),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_FROM_NUMBER": "",
        "REDIS_URL": "",
        "QUEUE_BACKEND": "sql",
        "QUEUE_LEASE_SECONDS": "2",
        "HTTP_TIMEOUT_SECONDS": "60",
    }
    gateway = GatewayProcess(env, tmp_path / "gateway.log")
    settings = Settings(public_base_url=PUBLIC_BASE, twilio_auth_token=AUTH_TOKEN)
    form = {
        "MessageSid": "SMkill" + "0" * 28,
        "AccountSid": "AC" + "1" * 32,
        "From": "+17065550101",
        "To": "+17065550100",
        "Body": "is my power out",
        "NumMedia": "0",
    }
    headers = {"X-Twilio-Signature": sign(settings, PUBLIC_BASE + "/sms/twilio", form)}
    gateway.start()
    try:
        await gateway.ready(url)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(url + "/sms/twilio", data=form, headers=headers) as resp:
                assert resp.status == 200 and twiml_bodies(await resp.text()) == []
        for _ in range(200):  # the turn reaches Rasa
            if fake.calls:
                break
            await asyncio.sleep(0.05)
        assert len(fake.calls) == 1
        gateway.kill9()  # mid-turn: Rasa has the text, nobody will read its answer
        fake.delay = 0.0
        gateway.start()
        await gateway.ready(url)
        for _ in range(300):
            if await outbox_after(sqlite_url, 0, "+17065550101"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # time for a second answer to appear, if one were coming
        assert await outbox_after(sqlite_url, 0, "+17065550101") == ["You said: is my power out"]
        bot = await rows(db, ConversationMessage, ConversationMessage.sender == "bot")
        assert [m.text for m in bot] == ["You said: is my power out"]
        assert fake.messages == ["is my power out", "is my power out"]  # heard again, answered once
    finally:
        gateway.stop()
