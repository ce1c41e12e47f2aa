"""What `jecbot run` tells Rasa: the generated endpoints file for the default and production
.env."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.runner import Child, build_children, write_endpoints


def test_default_profile_uses_sqlite_tracker_and_in_memory_locks(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, rasa_tracker_url=f"sqlite:///{tmp_path}/rasa-tracker.db")

    written = yaml.safe_load(write_endpoints(settings).read_text())

    assert written == {
        "action_endpoint": {
            "url": "http://127.0.0.1:5055/webhook",
            # The action server's key, filled in by Rasa from its environment (never on disk).
            "headers": {"X-JEC-Action-Key": "${JEC_ACTION_SERVER_KEY}"},
        },
        "tracker_store": {
            "type": "rasa_addons.tracker_store.WindowedSQLTrackerStore",
            "url": f"sqlite:///{tmp_path}/rasa-tracker.db",
            "window_events": 60,
        },
        "lock_store": {"type": "in_memory"},
    }
    assert (tmp_path / "endpoints.yml").exists()


def test_production_profile_uses_postgres_tracker_and_redis_locks(tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        rasa_tracker_url="postgresql://jec:secret@db.internal:5432/jec_rasa",
        redis_url="redis://:pw@cache.internal:6380/2",
        action_server_host="10.0.0.5",
        action_server_port=5056,
    )

    written = yaml.safe_load(write_endpoints(settings).read_text())

    assert written["action_endpoint"] == {
        "url": "http://10.0.0.5:5056/webhook",
        "headers": {"X-JEC-Action-Key": "${JEC_ACTION_SERVER_KEY}"},
    }
    assert written["tracker_store"] == {
        "type": "rasa_addons.tracker_store.WindowedSQLTrackerStore",
        "url": "postgresql://jec:secret@db.internal:5432/jec_rasa",
        "window_events": 60,
    }
    assert written["lock_store"] == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "key_prefix": "jec",
        "password": "pw",
    }


def test_rasa_listens_on_the_internal_address_with_the_api_token(tmp_path: Path) -> None:
    """The API is on, with the token handed over in Rasa's environment, never in its argv."""
    settings = Settings(var_dir=tmp_path, rasa_url="http://127.0.0.1:5099", rasa_token="t0k")
    rasa = next(
        c for c in build_children(settings, tmp_path / "e.yml", gateway=False) if c.name == "rasa"
    )

    argv = rasa.argv
    assert argv[argv.index("-i") + 1] == "127.0.0.1"
    assert argv[argv.index("-p") + 1] == "5099"
    assert rasa.env["RASA_TOKEN"] == "t0k"
    assert "--auth-token" not in argv and not any("t0k" in arg for arg in argv)
    assert "--enable-api" in argv
    assert rasa.log_path == tmp_path / "log" / "rasa.log"


def _start_a_child_that_dies(tmp_path: Path, name: str, script: str) -> str:
    """Start `script` as child `name`, wait for it as `jecbot run` does; the StartupError's text."""
    import sys

    from bot.runner import Child, StartupError, wait_healthy

    child = Child(
        name=name,
        argv=[sys.executable, "-c", script],
        health_url="http://127.0.0.1:9/health",
        log_path=tmp_path / "log" / f"{name}.log",
    )
    child.start()
    try:
        with pytest.raises(StartupError) as failure:
            wait_healthy(child, timeout=30)
    finally:
        child.stop()
    return str(failure.value)


def test_a_process_that_dies_while_starting_has_the_end_of_its_log_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _start_a_child_that_dies(
        tmp_path, "rasa", "print('line\\n' * 5000 + 'the real reason'); exit(1)"
    )

    printed = capsys.readouterr().out
    assert f"last lines of {tmp_path / 'log' / 'rasa.log'}" in printed
    assert printed.rstrip().endswith("the real reason")
    assert printed.count("line") < 30  # the end of the log, not all 5,000 lines


def test_a_process_that_dies_while_starting_is_named_with_its_log(tmp_path: Path) -> None:
    failure = _start_a_child_that_dies(tmp_path, "actions", "print('boom'); raise SystemExit(3)")

    assert failure == (
        f"actions exited with code 3 while starting; see {tmp_path / 'log' / 'actions.log'}"
    )
    assert "boom" in (tmp_path / "log" / "actions.log").read_text()


def test_rasa_and_the_action_servers_run_nicer_than_the_gateway(tmp_path: Path) -> None:
    """On one machine a storm's NLU must not starve the webhooks: Rasa and the action servers
    start ASSISTANT_NICE (default 10) below the gateway's CPU priority; the gateway does not."""
    settings = Settings(var_dir=tmp_path)
    niceness = {child.name: child.nice for child in build_children(settings, tmp_path / "e.yml")}
    assert niceness["rasa"] == niceness["actions"] == 10
    assert niceness.get("gateway", 0) == 0

    child = Child(
        name="rasa",
        argv=[sys.executable, "-c", "import time; time.sleep(30)"],
        health_url="",
        log_path=tmp_path / "log" / "nice.log",
        nice=10,
    )
    child.start()
    try:
        assert child.process is not None
        time.sleep(0.2)
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, child.process.pid) == min(19, ours + 10)
    finally:
        child.stop()
