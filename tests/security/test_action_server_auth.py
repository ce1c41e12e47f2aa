"""Item 2: the action server answers only Rasa (which presents the action-server key).

The attack: anyone who reaches port 5055 posts an action call with whatever slots and metadata
they like and reads the answer. The real action server (`python -m bot.actions.server`, started
exactly as `jecbot run` starts it) must refuse every call without the key derived for
`Purpose.ACTION_SERVER`, accept Rasa's, and refuse to listen on a public or wildcard address.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import PROJECT_ROOT, Settings, listen_problems
from bot.core.keys import ACTION_KEY_HEADER, Purpose, key_for
from bot.demo import generate_demo_data
from bot.runner import ENV_ACTION_SERVER_KEY, build_children, rasa_environment

pytestmark = pytest.mark.slow

SECRET = "action-server-test-secret-0123456789abcdef"
GREET_CALL = {
    "next_action": "action_greet",
    "sender_id": "attacker",
    "tracker": {
        "sender_id": "attacker",
        "slots": {"tier": "confirmed", "account_number": "1000004821"},
        "latest_message": {"text": "hi", "intent": {"name": "greet"}, "metadata": {}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    },
    "domain": {},
    "version": "3.6.21",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("actions")
    database_url = f"sqlite:///{tmp / 'jec.db'}"
    generate_demo_data(database_url, members=5, usage_days=7)
    settings = Settings(var_dir=tmp, action_server_port=_free_port(), secret_key=SECRET)
    [child] = [c for c in build_children(settings, tmp / "endpoints.yml") if c.name == "actions"]
    child.env.update({"DATABASE_URL": database_url, "JEC_VAR_DIR": str(tmp), "REDIS_URL": ""})
    child.start()
    url = f"http://127.0.0.1:{settings.action_server_port}"
    try:
        deadline = time.monotonic() + 120
        while _call_health(url) != 200:
            if child.exit_code() is not None or time.monotonic() > deadline:
                pytest.fail(f"the action server did not start; see {child.log_path}")
            time.sleep(1)
        yield url
    finally:
        child.stop()


def _call_health(url: str) -> int | None:
    try:
        return _call(f"{url}/health")[0]
    except OSError:
        return None


def test_an_action_call_without_the_key_is_refused(action_server: str) -> None:
    status, body = _call(f"{action_server}/webhook", GREET_CALL)

    assert status == 401
    assert "responses" not in (body or {})


@pytest.mark.parametrize(
    "wrong",
    [
        SECRET,  # the master secret itself
        key_for(SECRET, Purpose.RASA_CHANNEL),  # the key of another purpose
        key_for("dev-only-secret-change-me", Purpose.ACTION_SERVER),  # the example secret's key
        "",
    ],
)
def test_an_action_call_with_any_other_key_is_refused(action_server: str, wrong: str) -> None:
    status, _ = _call(f"{action_server}/webhook", GREET_CALL, {ACTION_KEY_HEADER: wrong})
    assert status == 401
    assert _call(f"{action_server}/actions", None, {ACTION_KEY_HEADER: wrong})[0] == 401


def test_rasas_call_with_the_key_it_is_given_is_answered(action_server: str) -> None:
    key = rasa_environment(Settings(secret_key=SECRET))[ENV_ACTION_SERVER_KEY]

    status, body = _call(f"{action_server}/webhook", GREET_CALL, {ACTION_KEY_HEADER: key})

    assert status == 200
    assert "Jefferson Energy Cooperative assistant" in body["responses"][0]["text"]


def test_the_health_check_needs_no_key(action_server: str) -> None:
    assert _call(f"{action_server}/health") == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("field", "value"),
    [("action_server_host", "0.0.0.0"), ("action_server_host", "8.8.8.8"), ("rasa_url", "x")],
)
def test_rasa_and_the_action_server_never_listen_publicly(field: str, value: str) -> None:
    if field == "rasa_url":
        settings = Settings(rasa_url="http://[::]:5005")
    else:
        settings = Settings(**{field: value})
    assert listen_problems(settings)
    assert not listen_problems(Settings())  # 127.0.0.1 for both
    assert not listen_problems(Settings(action_server_host="10.0.0.5", rasa_url="http://rasa:5005"))
    assert not listen_problems(Settings(action_server_host="0.0.0.0", listen_all_interfaces=True))


def test_the_action_server_refuses_to_start_on_every_interface(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "JEC_VAR_DIR": str(tmp_path),
        "SECRET_KEY": SECRET,
        "ACTION_SERVER_HOST": "0.0.0.0",
        "ACTION_SERVER_PORT": str(_free_port()),
    }
    run = subprocess.run(
        [sys.executable, "-m", "bot.actions.server"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "ACTION_SERVER_HOST would listen on every interface" in run.stderr
