"""Issue 12 item 1: the example secrets must not run a public installation, and each use of the
secret gets its own key, so one leaked or reused key forges nothing else; old keys keep working
for a while after a rotation."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from twilio.request_validator import RequestValidator

from bot.actions.deps import close_deps, get_deps, use_deps
from bot.config import PROJECT_ROOT, ConfigError, Settings, check_secrets, load_settings
from bot.gateway.console.auth import SESSION_COOKIE, SessionCodec, new_session
from bot.gateway.signatures import signature_valid
from bot.gateway.tokens import ConversationTokens
from bot.services.history import bill_token, read_bill_token
from bot.services.signed_links import LinkRefused

EXAMPLE_SECRET = "dev-only-secret-change-me"
EXAMPLE_RASA_TOKEN = "change-me-rasa-token"
PUBLIC = "https://chat.jec.example"
STRONG = "k3Qm9v2VxTn7bP1sWc8LzR4yHd6FjGa0-UeXoKiNpq5"
OLDER = "Zr7Yp2Lm4Qx9Tb6Wn1Vc8Hs3Kd5Fg0Jo-AeRiUtMy7"
ANOTHER = "Nf4Gh8Jk2Lp6Qr0St3Uv7Wx1Yz5Ab9Cd-EiMoPuKl2"


def env_with(tmp_path: Path, **values: str) -> dict[str, str]:
    """A process environment for one installation in `tmp_path` (no .env of the developer's)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "JEC_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'jec.db'}",
        "REDIS_URL": "",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(_free_port()),
        "TWILIO_AUTH_TOKEN": "",
        "SMTP_PASSWORD": "",
    }
    env.update(values)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# --------------------------------------------------------------------------- refusing to start


@pytest.mark.parametrize(
    ("secret", "token"),
    [
        (EXAMPLE_SECRET, STRONG),  # the .env.example value
        (STRONG, EXAMPLE_RASA_TOKEN),  # the Rasa token left at its example value
        ("change-me", STRONG),
        ("", STRONG),
        ("x7Gq2-short-but-random", STRONG),  # under 32 bytes
    ],
)
def test_a_public_installation_with_a_weak_secret_is_refused(secret: str, token: str) -> None:
    settings = Settings(public_base_url=PUBLIC, secret_key=secret, rasa_token=token)
    with pytest.raises(ConfigError) as refused:
        check_secrets(settings)
    reason = str(refused.value)
    assert "\n" not in reason and ("SECRET_KEY" in reason or "RASA_TOKEN" in reason)
    assert not secret or secret not in reason  # never echo a secret


def test_an_old_key_kept_for_rotation_must_not_be_the_example_either() -> None:
    settings = Settings(
        public_base_url=PUBLIC,
        secret_key=STRONG,
        rasa_token=ANOTHER,
        secret_key_previous=(EXAMPLE_SECRET,),
    )
    with pytest.raises(ConfigError, match="SECRET_KEY_PREVIOUS"):
        check_secrets(settings)


def test_a_default_password_in_a_database_url_is_refused() -> None:
    settings = Settings(
        public_base_url=PUBLIC,
        secret_key=STRONG,
        rasa_token=ANOTHER,
        database_url="postgresql://jec:CHANGE-ME@db.internal:5432/jec",
    )
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        check_secrets(settings)


def test_a_public_gateway_address_counts_as_public_even_with_a_local_url() -> None:
    settings = Settings(gateway_host="0.0.0.0", secret_key=EXAMPLE_SECRET)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_secrets(settings)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:80"]
)
def test_local_development_keeps_the_example_values(url: str) -> None:
    check_secrets(Settings(public_base_url=url))  # no exception


def test_strong_secrets_start_anywhere() -> None:
    check_secrets(
        Settings(
            public_base_url=PUBLIC,
            secret_key=STRONG,
            rasa_token=ANOTHER,
            secret_key_previous=(OLDER,),
            twilio_auth_token="f" * 32,
        )
    )


def test_the_cli_refuses_with_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    use_env(
        monkeypatch,
        env_with(
            tmp_path,
            SECRET_KEY=EXAMPLE_SECRET,
            RASA_TOKEN=EXAMPLE_RASA_TOKEN,
            PUBLIC_BASE_URL=PUBLIC,
        ),
    )
    assert main(["check-profile"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0] and "RASA_TOKEN" in lines[0]
    assert EXAMPLE_SECRET not in lines[0]


def test_the_gateway_process_refuses_to_start(tmp_path: Path) -> None:
    env = env_with(
        tmp_path, SECRET_KEY=EXAMPLE_SECRET, RASA_TOKEN=EXAMPLE_RASA_TOKEN, PUBLIC_BASE_URL=PUBLIC
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.gateway"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the gateway started with the example secrets and a public URL")
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0], err


async def test_the_action_server_refuses_to_run_actions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_env(
        monkeypatch,
        env_with(tmp_path, SECRET_KEY=EXAMPLE_SECRET, RASA_TOKEN=STRONG, PUBLIC_BASE_URL=PUBLIC),
    )
    use_deps(None)
    try:
        with pytest.raises(ConfigError, match="SECRET_KEY"):
            await get_deps()
    finally:
        await close_deps()


def test_previous_keys_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_env(
        monkeypatch,
        env_with(tmp_path, SECRET_KEY=STRONG, SECRET_KEY_PREVIOUS=f" {OLDER} , {ANOTHER},"),
    )
    settings = load_settings(tmp_path / "no.env")
    assert settings.secret_key == STRONG
    assert settings.secret_key_previous == (OLDER, ANOTHER)


def test_settings_never_print_their_secrets() -> None:
    settings = Settings(
        secret_key=STRONG, rasa_token=ANOTHER, twilio_auth_token="t" * 32, smtp_password="pw-x"
    )
    shown = repr(settings) + str(settings)
    for secret in (STRONG, ANOTHER, "t" * 32, "pw-x"):
        assert secret not in shown


# --------------------------------------------------------------------------- one key per purpose
# Whoever holds SECRET_KEY itself (or a key derived for another purpose) signs these the way the
# code used to: with the master key. Nothing signed so must be accepted any more.

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SETTINGS = Settings(secret_key=STRONG)


def _request_with_console_cookie(value: str):
    return make_mocked_request("GET", "/console", headers={"Cookie": f"{SESSION_COOKIE}={value}"})


def test_a_console_session_signed_with_the_master_key_is_refused() -> None:
    forged = URLSafeSerializer(STRONG, salt="jec-console-session").dumps(
        {"a": 1, "c": "csrf", "s": datetime.now(UTC).isoformat()}
    )
    assert (
        SessionCodec(SETTINGS).read(_request_with_console_cookie(forged), datetime.now(UTC)) is None
    )


def test_a_conversation_token_signed_with_the_master_key_is_refused() -> None:
    forged = URLSafeTimedSerializer(STRONG, salt="jec-gateway-conversation").dumps({"c": "web-x"})
    assert ConversationTokens(SETTINGS.secret_key).read(forged) is None
    assert (
        ConversationTokens(SETTINGS.secret_key).read(
            ConversationTokens(SETTINGS.secret_key).issue("web-x")
        )
        == "web-x"
    )


def test_a_bill_link_signed_with_the_master_key_is_refused() -> None:
    forged = URLSafeTimedSerializer(STRONG, salt="bill-pdf").dumps({"a": 1, "b": 2})
    with pytest.raises(LinkRefused):
        read_bill_token(STRONG, forged, now=datetime.now(UTC))


def test_a_simulated_text_signed_the_old_way_is_refused() -> None:
    import hashlib
    import hmac

    old_token = "sim-" + hmac.new(STRONG.encode(), b"twilio-simulator", hashlib.sha256).hexdigest()
    url, params = "https://chat.jec.example/sms/twilio", {"From": "+17065550101", "Body": "hi"}
    forged = RequestValidator(old_token).compute_signature(url, params)
    assert not signature_valid(SETTINGS, url, params, forged)


def test_the_purpose_keys_differ_from_each_other_and_from_the_secret() -> None:
    from bot.core.keys import Purpose, key_for

    keys = {key_for(STRONG, purpose) for purpose in Purpose}
    assert len(keys) == len(Purpose) and STRONG not in keys
    assert all(len(k) >= 32 for k in keys)


# --------------------------------------------------------------------------- rotation


def test_old_keys_still_verify_after_a_rotation_and_stop_when_removed() -> None:
    before = Settings(secret_key=OLDER)
    rotated = Settings(secret_key=STRONG, secret_key_previous=(OLDER,))
    dropped = Settings(secret_key=STRONG)

    cookie = _console_cookie(before)
    now = datetime.now(UTC)
    assert SessionCodec(rotated).read(_request_with_console_cookie(cookie), now) is not None
    assert SessionCodec(dropped).read(_request_with_console_cookie(cookie), now) is None
    # New cookies are signed with the newest key only.
    fresh = _console_cookie(rotated)
    assert SessionCodec(before).read(_request_with_console_cookie(fresh), now) is None
    assert SessionCodec(dropped).read(_request_with_console_cookie(fresh), now) is not None

    token = ConversationTokens(before.secret_key).issue("web-abc")
    assert ConversationTokens(rotated.secret_key).read(token) == "web-abc"
    assert ConversationTokens(dropped.secret_key).read(token) is None

    link = bill_token(before.secret_key, 7, 9, now=NOW)
    later = NOW + timedelta(minutes=1)
    assert read_bill_token(rotated.secret_key, link, now=later).bill_id == 9
    with pytest.raises(LinkRefused):
        read_bill_token(dropped.secret_key, link, now=later)


def test_rotation_survives_dataclass_replace() -> None:
    rotated = replace(Settings(secret_key=OLDER), secret_key=STRONG, secret_key_previous=(OLDER,))
    token = ConversationTokens(OLDER).issue("web-r")
    assert ConversationTokens(rotated.secret_key).read(token) == "web-r"


def _console_cookie(settings: Settings) -> str:
    from aiohttp import web

    response = web.Response()
    SessionCodec(settings).write(response, new_session(1, datetime.now(UTC)))
    return response.cookies[SESSION_COOKIE].value


async def test_a_payment_link_signed_with_the_master_key_is_refused(session_factory) -> None:
    from bot.services.payment_links import LinkProblem, create_link, verify_link
    from bot.store.db import session_scope
    from tests.store import rows as seed_rows

    async with session_scope(session_factory) as session:
        member = await seed_rows.member(session, "M1", "Dana", "Whitfield")
        account = seed_rows.account(member, "1000004821")  # 412 Mill St, Wrens
        session.add(account)
        await session.flush()
        ids = member.id, account.id
    made = await create_link(
        session_factory,
        secret_key=STRONG,
        public_base_url=PUBLIC,
        member_id=ids[0],
        account_id=ids[1],
        conversation_id="web-1",
        now=NOW,
    )
    assert (await verify_link(session_factory, STRONG, made.token, now=NOW)).member_id == ids[0]
    forged = URLSafeTimedSerializer(STRONG, salt="payment-link").dumps(_payment_payload(made.token))
    with pytest.raises(LinkProblem) as refused:
        await verify_link(session_factory, STRONG, forged, now=NOW)
    assert refused.value.reason == "invalid"


def _payment_payload(token: str) -> dict:
    """The (unsigned, readable) payload of a payment-link token: `{"n": nonce}`."""
    import base64
    import json

    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_nothing_in_the_code_signs_with_the_master_key() -> None:
    """Every signer and HMAC takes a purpose key (bot.core.keys), never SECRET_KEY itself."""
    import ast

    signers = {
        "URLSafeSerializer",
        "URLSafeTimedSerializer",
        "Serializer",
        "TimedSerializer",
        "Signer",
        "TimestampSigner",
        "new",  # hmac.new
    }
    offenders = []
    for path in sorted((PROJECT_ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if isinstance(first, ast.Call):  # secret_key.encode()
                first = first.func.value if isinstance(first.func, ast.Attribute) else first
            named = first.attr if isinstance(first, ast.Attribute) else getattr(first, "id", "")
            if name in signers and named in {"secret_key", "secret"}:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert offenders == []
