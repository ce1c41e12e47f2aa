"""Settings read once from the environment (`.env` via python-dotenv).

Every process builds one `Settings` with `load_settings()` at start-up and passes it down; nothing
reads `os.environ` elsewhere. Defaults are the embedded profile: SQLite files under `var/`, the
local outbox instead of Twilio and SMTP, and the demo co-op profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from bot.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be more than zero, not {raw!r}")
    return value


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one installation."""

    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    rasa_tracker_url: str = ""
    redis_url: str = ""
    coop_profile: Path = PROJECT_ROOT / "profiles" / "jec.yml"

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = "change-me-rasa-token"
    action_server_host: str = "127.0.0.1"
    action_server_port: int = 5055
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    secret_key: str = "dev-only-secret-change-me"

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = ""

    http_timeout_seconds: float = 10.0
    sms_reply_wait_seconds: float = 4.0
    log_level: str = "INFO"

    @property
    def sqlite_default(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)


def load_settings(
    env_file: str | os.PathLike[str] | None = None, *, override: bool = False
) -> Settings:
    """Read `.env` (if present) and the process environment into `Settings`."""
    load_dotenv(env_file or PROJECT_ROOT / ".env", override=override)
    env = os.environ
    var_dir = Path(env.get("JEC_VAR_DIR", str(PROJECT_ROOT / "var")))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'jec.db'}"
    tracker_url = env.get("RASA_TRACKER_URL") or f"sqlite:///{var_dir / 'rasa-tracker.db'}"
    profile = Path(env.get("COOP_PROFILE", str(PROJECT_ROOT / "profiles" / "jec.yml")))
    if not profile.is_absolute():
        profile = PROJECT_ROOT / profile
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        rasa_tracker_url=tracker_url,
        redis_url=env.get("REDIS_URL", ""),
        coop_profile=profile,
        rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
        rasa_token=env.get("RASA_TOKEN", "change-me-rasa-token"),
        action_server_host=env.get("ACTION_SERVER_HOST", "127.0.0.1"),
        action_server_port=_int("ACTION_SERVER_PORT", env.get("ACTION_SERVER_PORT", "5055")),
        gateway_host=env.get("GATEWAY_HOST", "127.0.0.1"),
        gateway_port=_int("GATEWAY_PORT", env.get("GATEWAY_PORT", "8080")),
        public_base_url=env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/"),
        secret_key=env.get("SECRET_KEY", "dev-only-secret-change-me"),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
        twilio_from_number=env.get("TWILIO_FROM_NUMBER", ""),
        smtp_host=env.get("SMTP_HOST", ""),
        smtp_port=_int("SMTP_PORT", env.get("SMTP_PORT", "587")),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_from=env.get("SMTP_FROM", ""),
        http_timeout_seconds=_float("HTTP_TIMEOUT_SECONDS", env.get("HTTP_TIMEOUT_SECONDS", "10")),
        sms_reply_wait_seconds=_float(
            "SMS_REPLY_WAIT_SECONDS", env.get("SMS_REPLY_WAIT_SECONDS", "4")
        ),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
    )
