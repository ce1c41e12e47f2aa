"""`jecbot doctor` tells an IT person what to fix before going live, and passes a good set-up."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.ops.doctor import run_doctor
from bot.store.migrate import upgrade

TODAY = date(2026, 12, 2)
SID, TOKEN, NUMBER = "AC" + "a" * 32, "b" * 32, "+17065550100"
PUBLIC = "https://chat.jec.example"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project tree with training data and a model trained after it."""
    for name in ("data", "domain"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.yml").write_text("x")
    (tmp_path / "config.yml").write_text("x")
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "20261201-000000.tar.gz"
    model.write_text("x")
    later = time.time() + 10
    os.utime(model, (later, later))
    return tmp_path


@pytest.fixture
def good(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'jec.db'}"
    upgrade(url)
    return Settings(
        var_dir=tmp_path,
        database_url=url,
        redis_url="redis://127.0.0.1:6379/0",
        coop_profile=PROJECT_ROOT / "profiles" / "jec.yml",
        public_base_url=PUBLIC,
        gateway_host="0.0.0.0",
        secret_key="s" * 48,
        rasa_token="r" * 48,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from_number=NUMBER,
    )


def webhook(url: str | None):
    return lambda sid, token, number: url


def _problems(findings) -> list[str]:
    return [f.line() for f in findings if f.level == "fix"]


def test_a_good_configuration_passes(good, project):
    findings = run_doctor(good, TODAY, webhook_lookup=webhook(f"{PUBLIC}/sms/twilio"), root=project)
    assert _problems(findings) == []
    assert {f.check for f in findings} >= {
        "secrets",
        "public URL",
        "Twilio",
        "database",
        "Redis",
        "model",
        "profile",
    }


def test_default_secrets_http_url_and_a_wrong_webhook_are_named(good, project):
    bad = replace(
        good,
        secret_key="dev-only-secret-change-me",
        public_base_url="http://chat.jec.example",
    )
    findings = run_doctor(
        bad, TODAY, webhook_lookup=webhook("https://old.example/sms"), root=project
    )
    text = "\n".join(_problems(findings))
    assert "SECRET_KEY is an example value" in text
    assert "not https" in text
    assert "set it to http://chat.jec.example/sms/twilio" in text
    assert "dev-only-secret-change-me" not in text  # never prints a secret


def test_twilio_formats_are_checked(good, project):
    bad = replace(good, twilio_account_sid="SK123", twilio_from_number="706-555-0100")
    text = "\n".join(_problems(run_doctor(bad, TODAY, webhook_lookup=webhook(None), root=project)))
    assert "TWILIO_ACCOUNT_SID" in text and "TWILIO_FROM_NUMBER" in text


def test_unreachable_database_and_redis_and_old_migrations(good, project, tmp_path):
    stale = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(stale, "0001")
    findings = run_doctor(
        replace(good, database_url=stale, redis_url="redis://127.0.0.1:1/0"),
        TODAY,
        webhook_lookup=webhook(f"{PUBLIC}/sms/twilio"),
        root=project,
    )
    text = "\n".join(_problems(findings))
    assert "jecbot init-db" in text
    assert "Redis: does not answer" in text


def test_a_model_older_than_the_data_and_holidays_running_out(good, project):
    (project / "data" / "x.yml").write_text("changed")
    later = time.time() + 100
    os.utime(project / "data" / "x.yml", (later, later))
    findings = run_doctor(
        good, date(2027, 11, 1), webhook_lookup=webhook(f"{PUBLIC}/sms/twilio"), root=project
    )
    text = "\n".join(_problems(findings))
    assert "make train" in text
    assert "holidays end 2027-12-27" in text


def test_jecbot_doctor_exits_non_zero_with_problems(monkeypatch, capsys, tmp_path):
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'jec.db'}")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://chat.jec.example")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    assert main(["doctor"]) == 1  # the doctor runs (and reports) where others would refuse
    out = capsys.readouterr().out
    assert "FIX  secrets: SECRET_KEY is an example value" in out
