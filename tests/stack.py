"""Shared end-to-end fixtures: ONE real stack for the whole session (tests/e2e and the real-Rasa
attack tests in tests/security use it; tests/conftest.py registers this module as a plugin).

`rasa_stack` starts the REAL action server and the REAL Rasa 3.6 server (the same code `jecbot run`
uses, bot.runner) on free ports, with the trained model, a temporary SQLite database full of demo
data, its own SQLite tracker store and its own log folder. Rasa takes a minute or more to load the
model, so every e2e test file shares this one stack.

The clock: the action server's (and the gateway's) clock is frozen at FAKE_NOW (a Tuesday, 10 AM
Eastern, agents at work) through JEC_FAKE_NOW, and can be moved by a test through the test-only
JEC_FAKE_NOW_FILE (`fake_clock.set(...)`, undone after the test) without restarting anything.

`gateway` (only the full-stack tests ask for it) adds the gateway, started exactly as `jecbot run`
starts it (`python -m bot.gateway`, bot.runner), on the same database and Rasa; it reads the same
test clock from the environment as the action server. It has a Twilio auth token, so inbound
texts must carry a valid signature, and no Twilio account, so outgoing texts (one-time codes,
late replies) land in the outbox table.

The model is the newest in models/ (or the file/folder in JEC_E2E_MODEL); with none, one is
trained into the temporary folder first.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from bot.chat import send
from bot.config import PROJECT_ROOT, Settings
from bot.gateway.rasa_client import CHANNEL_PATH, channel_key, signed_turn
from bot.runner import (
    RASA_BIN,
    STARTUP_TIMEOUT_SECONDS,
    build_children,
    wait_healthy,
    write_endpoints,
)

EASTERN = ZoneInfo("America/New_York")
FAKE_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=EASTERN)  # a Tuesday: offices and agents at work


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _model_source(tmp: Path) -> Path:
    """JEC_E2E_MODEL, else the project's trained model folder, else a model trained now."""
    override = os.environ.get("JEC_E2E_MODEL", "").strip()
    if override:
        return Path(override).resolve()
    models = PROJECT_ROOT / "models"
    if any(models.glob("*.tar.gz")):
        return models
    out = tmp / "models"
    subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "--domain",
            "domain",
            "--data",
            "data",
            "--config",
            "config.yml",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    return out


def _seed_database(url: str) -> None:
    from bot.demo import generate_demo_data

    generate_demo_data(url, members=5, usage_days=7, now=FAKE_NOW)


@dataclass
class Stack:
    """Where the running stack is and how to look inside it."""

    rasa_url: str
    rasa_token: str
    log_dir: Path
    tmp: Path
    database_url: str
    tracker_db: Path
    clock_file: Path
    secret_key: str

    def sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a read query on the member-services database (the same file the action server
        writes), e.g. `stack.sql("select body from outbox where to_ = :to", to=...)`."""
        return _query(self.database_url, query, params)

    def execute(self, statement: str, **params: Any) -> None:
        """A write on the member-services database (test set-up and clean-up only)."""
        engine = create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()

    def tracker_sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a read query on Rasa's SQL tracker store."""
        return _query(f"sqlite:///{self.tracker_db}", query, params)


def max_id(stack: Stack, table: str) -> int:
    """The highest id in `table` (0 when empty): what a test wrote has a larger one."""
    return int(stack.sql(f"select coalesce(max(id), 0) from {table}")[0][0])


def code_sent_to(stack: Stack, destination: str, after_id: int) -> str:
    """The 6-digit code in the newest outbox message to `destination` written after `after_id`."""
    rows = stack.sql(
        'select body from outbox where "to" = :to and id > :after order by id desc',
        to=destination,
        after=after_id,
    )
    for (body,) in rows:
        match = re.search(r"code: (\d{6})\b", body)
        if match:
            return match.group(1)
    raise AssertionError(f"no code was sent to {destination}; outbox rows: {[r[0] for r in rows]}")


def _query(url: str, query: str, params: dict[str, Any]) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query), params))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not RASA_BIN.exists():
        pytest.fail(f"Rasa is not installed at {RASA_BIN}; run `make setup`")
    tmp = tmp_path_factory.mktemp("rasa-stack")
    database_url = f"sqlite:///{tmp / 'jec.db'}"
    _seed_database(database_url)
    tracker_db = tmp / "rasa-tracker.db"
    clock_file = tmp / "fake-now.txt"
    secret_key = uuid.uuid4().hex
    settings = Settings(
        var_dir=tmp,
        database_url=database_url,
        rasa_tracker_url=f"sqlite:///{tracker_db}",
        rasa_url=f"http://127.0.0.1:{_free_port()}",
        rasa_token=uuid.uuid4().hex,
        action_server_port=_free_port(),
        secret_key=secret_key,
    )
    env = {
        "JEC_VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
        "ACTION_SERVER_PORT": str(settings.action_server_port),
        "SECRET_KEY": secret_key,
        "REDIS_URL": "",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "TWILIO_FROM_NUMBER": "",
        "SMTP_HOST": "",
        "SMTP_FROM": "",
        "JEC_FAKE_NOW": FAKE_NOW.isoformat(),
        "JEC_FAKE_NOW_FILE": str(clock_file),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    endpoints = write_endpoints(settings)
    children = build_children(settings, endpoints, model=_model_source(tmp), gateway=False)
    started = []
    try:
        for child in children:
            child.env.update(env)
            child.start()
            started.append(child)
            wait_healthy(child, STARTUP_TIMEOUT_SECONDS[child.name])
        yield Stack(
            rasa_url=settings.rasa_url,
            rasa_token=settings.rasa_token,
            log_dir=tmp / "log",
            tmp=tmp,
            database_url=database_url,
            tracker_db=tracker_db,
            clock_file=clock_file,
            secret_key=secret_key,
        )
    except Exception:
        print(f"\nRasa stack failed; logs are in {tmp / 'log'}")
        raise
    finally:
        for child in reversed(started):
            child.stop()
    # The logs stay in pytest's temporary folder (pytest keeps the last few runs) for diagnosis.


@dataclass
class FakeClock:
    """Moves the running action server's and gateway's clock (test-only JEC_FAKE_NOW_FILE)."""

    path: Path

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the fake clock needs a timezone-aware time")
        self.path.write_text(at.isoformat(), encoding="utf-8")

    def reset(self) -> None:
        self.path.write_text("", encoding="utf-8")  # back to JEC_FAKE_NOW (FAKE_NOW)


@pytest.fixture
def fake_clock(rasa_stack: Stack) -> Iterator[FakeClock]:
    clock = FakeClock(rasa_stack.clock_file)
    try:
        yield clock
    finally:
        clock.reset()


class Member:
    """One member's conversation over Rasa's gateway channel, with the metadata the gateway sends,
    signed as the gateway signs it."""

    def __init__(
        self, session: aiohttp.ClientSession, stack: Stack, sender: str, metadata: dict[str, Any]
    ) -> None:
        self.session = session
        self.stack = stack
        self.sender = sender
        self.metadata = metadata

    async def say(self, text: str) -> list[dict[str, Any]]:
        """One turn; the bot's replies (text, buttons, custom) as Rasa sends them."""
        key = channel_key(self.stack.secret_key)
        body, headers = signed_turn(key, self.sender, text, self.metadata)
        try:
            async with self.session.post(
                f"{self.stack.rasa_url}{CHANNEL_PATH}", data=body, headers=headers
            ) as response:
                response.raise_for_status()
                replies = await response.json()
        except Exception:
            print(f"\nlogs: {self.stack.log_dir}")
            raise
        return replies if isinstance(replies, list) else []

    async def texts(self, text: str) -> list[str]:
        return [r["text"] for r in await self.say(text) if r.get("text")]

    async def tracker(self) -> dict[str, Any]:
        """The conversation's tracker through Rasa's token-protected HTTP API."""
        url = f"{self.stack.rasa_url}/conversations/{self.sender}/tracker"
        async with self.session.get(url, params={"token": self.stack.rasa_token}) as response:
            response.raise_for_status()
            return await response.json()


@pytest.fixture
async def member_factory(rasa_stack: Stack):
    """`member_factory(channel="web" | "sms", phone=None)` -> a Member with a unique sender id."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        def make(channel: str = "web", phone: str | None = None) -> Member:
            metadata: dict[str, Any] = {"channel": channel}
            if phone:
                metadata["phone"] = phone
            sender = f"e2e-{channel}-{uuid.uuid4().hex[:10]}"
            return Member(session, rasa_stack, sender, metadata)

        yield make


@pytest.fixture
async def talk(rasa_stack: Stack):
    """`await talk(text)` -> the bot's replies, all in one new conversation (no metadata)."""
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def say(text: str) -> list[dict]:
            try:
                return await send(
                    session, rasa_stack.rasa_url, sender, text, secret_key=rasa_stack.secret_key
                )
            except Exception:
                print(f"\nlogs: {rasa_stack.log_dir}")
                raise

        yield say


# ------------------------------------------------------------------------------------- gateway


@dataclass
class Gateway:
    url: str
    settings: Settings
    log_path: Path


@pytest.fixture(scope="session")
def gateway(rasa_stack: Stack) -> Iterator[Gateway]:
    """The gateway on the session stack's database, Rasa server and clock."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    twilio_token = uuid.uuid4().hex
    settings = Settings(
        var_dir=rasa_stack.tmp,
        database_url=rasa_stack.database_url,
        rasa_url=rasa_stack.rasa_url,
        rasa_token=rasa_stack.rasa_token,
        gateway_port=port,
        public_base_url=url,
        secret_key=rasa_stack.secret_key,
        twilio_auth_token=twilio_token,
    )
    env = {
        "JEC_VAR_DIR": str(rasa_stack.tmp),
        "DATABASE_URL": rasa_stack.database_url,
        "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
        "RASA_URL": rasa_stack.rasa_url,
        "RASA_TOKEN": rasa_stack.rasa_token,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "PUBLIC_BASE_URL": url,
        "SECRET_KEY": rasa_stack.secret_key,
        "REDIS_URL": "",
        # Signatures are checked against this token; no account SID/from number: texts go to the
        # outbox table, where the test reads them.
        "TWILIO_AUTH_TOKEN": twilio_token,
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_FROM_NUMBER": "",
        "SMTP_HOST": "",
        "SMTP_FROM": "",
        # A busy CI machine: wait for the bot's reply inside Twilio's request rather than texting
        # it later, and give Rasa time to answer.
        "SMS_REPLY_WAIT_SECONDS": "60",
        # No "How did we do?" after a hand-back: the e2e tests count the messages that follow it
        # (the survey has its own tests, tests/gateway/agents/test_after.py, tests/browser).
        "CONSOLE_SURVEY": "off",
        "HTTP_TIMEOUT_SECONDS": "90",
        "LOG_LEVEL": "INFO",
        "JEC_FAKE_NOW": FAKE_NOW.isoformat(),
        "JEC_FAKE_NOW_FILE": str(rasa_stack.clock_file),
    }
    # The gateway process `jecbot run` starts (`python -m bot.gateway`); its log goes to the
    # stack's log folder. The endpoints file is only read by the Rasa process, not started here.
    [child] = [
        c for c in build_children(settings, rasa_stack.tmp / "endpoints.yml") if c.name == "gateway"
    ]
    child.env.update(env)
    child.start()
    try:
        wait_healthy(child, STARTUP_TIMEOUT_SECONDS["gateway"])
        yield Gateway(url=url, settings=settings, log_path=child.log_path)
    except Exception:
        print(f"\nGateway failed; its log is {child.log_path}")
        raise
    finally:
        child.stop()
