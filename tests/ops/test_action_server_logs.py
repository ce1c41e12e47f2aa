"""The action server logs like the gateway: one masked JSON object per line under LOG_FORMAT=json,
with the conversation the action call was for.

Each Sanic worker installs `bot.logs.configure_logging` itself; without it the only handler in a
worker is rasa-sdk's coloured, unmasked one, and a log collector gets plain text.
"""

from __future__ import annotations

import json
import time

import pytest

from bot.config import Settings
from bot.demo import generate_demo_data
from bot.runner import build_children
from tests.security.test_action_server_auth import GREET_CALL, SECRET, _call, _free_port

pytestmark = pytest.mark.slow


def test_the_action_server_writes_masked_json_lines_naming_the_conversation(tmp_path) -> None:
    database_url = f"sqlite:///{tmp_path / 'jec.db'}"
    generate_demo_data(database_url, members=5, usage_days=7)
    settings = Settings(var_dir=tmp_path, action_server_port=_free_port(), secret_key=SECRET)
    [child] = [
        c for c in build_children(settings, tmp_path / "endpoints.yml") if c.name == "actions"
    ]
    child.env.update(
        {"DATABASE_URL": database_url, "JEC_VAR_DIR": str(tmp_path), "REDIS_URL": ""}
        | {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    )
    child.start()
    url = f"http://127.0.0.1:{settings.action_server_port}"
    forged = GREET_CALL | {"sender_id": "conv-4111111111111111"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _call(f"{url}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert child.exit_code() is None and time.monotonic() < deadline, child.log_path
            time.sleep(1)
        assert _call(f"{url}/webhook", forged)[0] == 401
        time.sleep(1)
    finally:
        child.stop()

    lines = [line for line in child.log_path.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    refused = [r for r in records if "without the action-server key" in r.get("message", "")]
    assert refused, child.log_path.read_text()[-2000:]
    assert refused[0]["level"] == "WARNING"
    assert "4111111111111111" not in child.log_path.read_text()
    assert refused[0]["conversation_id"].startswith("conv-")
