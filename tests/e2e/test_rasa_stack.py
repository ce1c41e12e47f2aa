"""End to end: the REAL Rasa 3.6 server and the REAL action server, talking over HTTP, with the
trained model and a database full of demo data, driven through Rasa's REST channel as a member
would. The action server's clock is frozen (JEC_FAKE_NOW) at a Tuesday 10 AM Eastern, so office
hours and outage estimates are predictable.

The processes are started with the same code `jecbot run` uses (bot.runner), on free ports, with
their own temporary database, tracker store and logs. On a failure the logs' folder is printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.chat import send
from bot.config import PROJECT_ROOT, Settings
from bot.runner import RASA_BIN, STARTUP_TIMEOUT_SECONDS, build_children, wait_healthy, write_endpoints

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

FAKE_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _model_source(tmp: Path) -> Path:
    """The project's trained model folder, or a model trained now into `tmp` if there is none."""
    models = PROJECT_ROOT / "models"
    if any(models.glob("*.tar.gz")):
        return models
    out = tmp / "models"
    subprocess.run(
        [str(RASA_BIN), "train", "--domain", "domain", "--data", "data", "--config", "config.yml",
         "--out", str(out), "--quiet"],
        cwd=PROJECT_ROOT, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    return out


def _seed_database(url: str) -> None:
    from bot.store.demo import generate_demo_data

    generate_demo_data(url, members=5, usage_days=7, now=FAKE_NOW)


@dataclass
class Stack:
    rasa_url: str
    log_dir: Path


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not RASA_BIN.exists():
        pytest.fail(f"Rasa is not installed at {RASA_BIN}; run `make setup`")
    tmp = tmp_path_factory.mktemp("rasa-stack")
    database_url = f"sqlite:///{tmp / 'jec.db'}"
    _seed_database(database_url)
    settings = Settings(
        var_dir=tmp,
        database_url=database_url,
        rasa_tracker_url=f"sqlite:///{tmp / 'rasa-tracker.db'}",
        rasa_url=f"http://127.0.0.1:{_free_port()}",
        rasa_token=uuid.uuid4().hex,
        action_server_port=_free_port(),
    )
    env = {
        "JEC_VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
        "ACTION_SERVER_PORT": str(settings.action_server_port),
        "JEC_FAKE_NOW": FAKE_NOW.isoformat(),
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
        yield Stack(rasa_url=settings.rasa_url, log_dir=tmp / "log")
    except Exception:
        print(f"\nRasa stack failed; logs are in {tmp / 'log'}")
        raise
    finally:
        for child in reversed(started):
            child.stop()
    shutil.rmtree(tmp / "log", ignore_errors=True)


@pytest.fixture
async def talk(rasa_stack: Stack):
    """`await talk(text)` -> the bot's replies, all in one new conversation."""
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def say(text: str) -> list[dict]:
            try:
                return await send(session, rasa_stack.rasa_url, sender, text)
            except Exception:
                print(f"\nlogs: {rasa_stack.log_dir}")
                raise

        yield say


def _texts(replies: list[dict]) -> list[str]:
    return [reply["text"] for reply in replies if reply.get("text")]


async def test_greeting_lists_what_it_can_do_and_the_24_7_line(talk) -> None:
    replies = await talk("hi")

    texts = _texts(replies)
    assert texts[0].startswith("Hi, I'm the Jefferson Energy Cooperative assistant. I can tell you "
                               "our office hours and check for a known power outage")
    assert texts[1] == ("To talk with a person, call member services at (706) 547-2167. "
                        "For outages and emergencies, call 1-800-262-5131 any time, 24/7.")
    assert [b["title"] for b in replies[0]["buttons"]] == ["Office hours", "Outage in my area"]


async def test_closing_time_comes_from_the_profile(talk) -> None:
    replies = await talk("what time do yall close")

    assert _texts(replies) == [
        "Our offices are open until 5 PM today "
        "(the Louisville and Thomson offices close 1-2 PM for lunch)."
    ]


async def test_outage_in_a_town_comes_from_the_database_with_a_labelled_estimate(talk) -> None:
    replies = await talk("is the power out in wrens")

    # The demo data's Wrens outage: 240 homes, storm damage, estimate 3 hours after "now" (10 AM).
    assert _texts(replies) == [
        "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
        "Crews: on site. Estimated restoration: 1:00 PM, an estimate that may change."
    ]


async def test_a_button_payload_starts_its_journey(talk) -> None:
    greeting = await talk("hello")
    outage_button = next(b for b in greeting[0]["buttons"] if b["title"] == "Outage in my area")

    replies = await talk(outage_button["payload"])

    assert _texts(replies) == ["Which town or 5-digit ZIP code should I check for outages?"]
