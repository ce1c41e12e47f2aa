"""Items 2 and 15 in what `jecbot run` writes and starts (no Rasa needed).

The attack surface here is configuration: a REST channel left enabled, a key written into a file
anyone can read, a token on a command line (`ps` shows every user's), Rasa holding the master
secret, or Rasa and the action server on a public address.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.core.keys import Purpose, key_for
from bot.runner import (
    ENV_ACTION_SERVER_KEY,
    ENV_CHANNEL_KEYS,
    Child,
    build_children,
    run_all,
    write_endpoints,
)
from rasa_addons import serve

SECRET = "runner-config-test-secret-0123456789abcdef"
TOKEN = "runner-config-test-rasa-token-0123456789"


def settings_in(tmp_path: Path, **extra: object) -> Settings:
    return Settings(var_dir=tmp_path, secret_key=SECRET, rasa_token=TOKEN, **extra)


def test_rasa_is_given_only_the_signed_gateway_channel(tmp_path: Path) -> None:
    endpoints = write_endpoints(settings_in(tmp_path))
    credentials = yaml.safe_load((endpoints.parent / "credentials.yml").read_text())

    assert credentials == {"rasa_addons.gateway_channel.GatewayInput": {"max_age_seconds": 60.0}}
    [rasa] = [c for c in build_children(settings_in(tmp_path), endpoints) if c.name == "rasa"]
    assert rasa.argv[rasa.argv.index("--credentials") + 1] == str(tmp_path / "credentials.yml")
    # The hand-run file has no REST channel either.
    hand_run = yaml.safe_load((Path(__file__).parents[2] / "credentials.yml").read_text())
    assert list(hand_run) == ["rasa_addons.gateway_channel.GatewayInput"]


def test_no_secret_is_written_to_the_generated_files(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    endpoints = write_endpoints(settings)
    written = endpoints.read_text() + (tmp_path / "credentials.yml").read_text()

    for secret in (
        SECRET,
        TOKEN,
        key_for(SECRET, Purpose.ACTION_SERVER),
        key_for(SECRET, Purpose.RASA_CHANNEL),
    ):
        assert secret not in written
    action = yaml.safe_load(endpoints.read_text())["action_endpoint"]
    assert action["headers"] == {"X-JEC-Action-Key": "${JEC_ACTION_SERVER_KEY}"}


def test_no_secret_is_on_any_command_line_and_rasa_never_holds_the_master_secret(
    tmp_path: Path,
) -> None:
    settings = settings_in(tmp_path, gateway_port=8099)
    children = build_children(settings, write_endpoints(settings))
    rasa = next(c for c in children if c.name == "rasa")
    actions = next(c for c in children if c.name == "actions")

    secrets = [SECRET, TOKEN, key_for(SECRET, Purpose.ACTION_SERVER)]
    for child in children:
        assert not any(s in arg for s in secrets for arg in child.argv), child.name
    assert rasa.env["RASA_TOKEN"] == TOKEN
    assert rasa.env[ENV_ACTION_SERVER_KEY] == key_for(SECRET, Purpose.ACTION_SERVER)
    assert rasa.env[ENV_CHANNEL_KEYS] == key_for(SECRET, Purpose.RASA_CHANNEL)
    assert SECRET not in rasa.env.values() and "SECRET_KEY" in rasa.unset
    assert actions.argv[1:3] == ["-m", "bot.actions.server"]
    assert actions.env["SECRET_KEY"] == SECRET  # the action server derives its own key


def test_a_child_does_not_inherit_what_it_must_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    child = Child(
        name="actions",
        argv=[sys.executable, "-c", "import os; print('key:', os.environ.get('SECRET_KEY'))"],
        health_url="http://127.0.0.1:9/",
        log_path=tmp_path / "log" / "child.log",
        unset=("SECRET_KEY",),
    )
    child.start()
    assert child.process is not None
    child.process.wait(timeout=30)
    child.stop()

    assert "key: None" in child.log_path.read_text()


@pytest.mark.parametrize(
    "extra",
    [{"action_server_host": "0.0.0.0"}, {"rasa_url": "http://8.8.8.8:5005"}],
)
def test_jecbot_run_refuses_to_expose_rasa_or_the_action_server(
    tmp_path: Path, extra: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_all(settings_in(tmp_path, **extra)) == 2
    assert "Configuration error" in capsys.readouterr().err
    assert not (tmp_path / "endpoints.yml").exists()


def test_the_rasa_wrapper_refuses_a_token_on_its_command_line() -> None:
    with pytest.raises(SystemExit) as refused:
        serve.main(["run", "--enable-api", "--auth-token", TOKEN])
    assert "RASA_TOKEN" in str(refused.value) and TOKEN not in str(refused.value)


def test_the_rasa_wrapper_hands_the_token_to_rasa_only_inside_the_process() -> None:
    assert serve.rasa_argv(["run", "--enable-api", "-p", "5005"], TOKEN) == [
        "rasa",
        "run",
        "--enable-api",
        "-p",
        "5005",
        "--auth-token",
        TOKEN,
    ]


def test_whatever_rasa_prints_has_the_secrets_removed() -> None:
    out = io.StringIO()
    env = {"RASA_TOKEN": TOKEN, ENV_CHANNEL_KEYS: "a" * 64 + "," + "b" * 64}
    stream = serve.RedactingStream(out, serve.secrets_in(env))

    stream.write(f"GET /conversations/x/tracker?token={TOKEN} keys {'a' * 64} {'b' * 64}\n")

    assert out.getvalue() == (
        "GET /conversations/x/tracker?token=[redacted] keys [redacted] [redacted]\n"
    )
