"""Rasa's start-up in the deployments: deploy/rasa_config.py writes, deploy/rasa/launch.py execs.

What an IT person relies on: the files holding the database password and the API token are
readable by the service user only, and Rasa gets exactly the runner's command line and
environment, with only the bind address changed inside a container.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from tests.deploy.test_drift import DEPLOY, deploy_module

ENV_EXAMPLE = DEPLOY / "env.example"


def test_the_written_files_are_private_to_the_service_user(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PUBLIC_BASE_URL": "https://chat.example.coop",
        "DATABASE_URL": "postgresql://jec:pw-for-the-test@postgres:5432/jec",
        "RASA_TRACKER_URL": "postgresql://jec:pw-for-the-test@postgres:5432/jec_rasa",
        "RASA_TOKEN": "t" * 40,
        "JEC_VAR_DIR": str(tmp_path / "var"),
    }
    out = tmp_path / "run"
    subprocess.run(
        [sys.executable, str(DEPLOY / "rasa_config.py"), str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    written = sorted(p.name for p in out.iterdir())
    assert {"endpoints.yml", "rasa.json"} <= set(written)
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    spec = json.loads((out / "rasa.json").read_text())
    assert str(out / "endpoints.yml") in spec["argv"]
    assert "pw-for-the-test" in (out / "endpoints.yml").read_text()  # Rasa needs the tracker URL


def test_launch_replaces_only_the_bind_address_and_applies_the_environment(monkeypatch) -> None:
    launch = deploy_module("rasa/launch.py")
    monkeypatch.setenv("SECRET_KEY", "never-for-rasa")
    monkeypatch.setenv("KEEP_ME", "1")
    spec = {
        "argv": ["/app/rasa-env/.venv/bin/rasa", "run", "-i", "rasa", "-p", "5005"],
        "env": {"RASA_ONLY": "yes"},
        "unset": ["SECRET_KEY"],
    }
    argv, env = launch.command(spec, "0.0.0.0")
    assert argv == ["/app/rasa-env/.venv/bin/rasa", "run", "-i", "0.0.0.0", "-p", "5005"]
    assert env["RASA_ONLY"] == "yes" and env["KEEP_ME"] == "1"
    assert "SECRET_KEY" not in env
    assert launch.command(spec, None)[0] == spec["argv"]  # systemd: the runner's address as is


def test_launch_refuses_a_command_the_image_does_not_have(tmp_path: Path) -> None:
    spec = tmp_path / "rasa.json"
    spec.write_text(json.dumps({"argv": [str(tmp_path / "no-such-rasa"), "run"]}))
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "rasa" / "launch.py"), str(spec), "--listen", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "rebuild it" in done.stderr


def test_launch_execs_the_command_with_its_environment(tmp_path: Path) -> None:
    """The process launch.py becomes is the spec's command, with the spec's environment and
    without the variables it must not inherit."""
    spec = tmp_path / "rasa.json"
    spec.write_text(
        json.dumps(
            {
                "argv": ["/bin/sh", "-c", 'echo "$RASA_ONLY:${SECRET_KEY:-unset}:$0"', "-i"],
                "env": {"RASA_ONLY": "yes"},
                "unset": ["SECRET_KEY"],
            }
        )
    )
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "rasa" / "launch.py"), str(spec)],
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "never-for-rasa"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "yes:unset:-i"
