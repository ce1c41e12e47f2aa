"""`jecbot doctor`: check a configuration before it goes live, and say what to fix.

Each check returns findings: `ok`, `warn` (fine for a developer's machine, worth a look) or `fix`
(must change before members use it; `jecbot doctor` then exits 1). Checks: secrets are not
examples or short, PUBLIC_BASE_URL is https, Twilio's credentials and number look right and the
number's incoming-SMS webhook is this PUBLIC_BASE_URL, the database and Redis answer, the schema
is at the latest migration, a trained model exists and is newer than the training data, and the
profile is valid with holidays listed at least 60 days ahead. See docs/operations.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import phonenumbers
import redis
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.config import PROJECT_ROOT, Settings, is_local, secret_problems
from bot.core.errors import ConfigError
from bot.profile import load_profile
from bot.store.db import make_sync_engine
from bot.store.migrate import alembic_config, current_revisions

Level = Literal["ok", "warn", "fix"]
HOLIDAYS_AHEAD_DAYS = 60  # the default of the profile's notices.holiday_warning_days
TIMEOUT_SECONDS = 5
_SID = re.compile(r"^AC[0-9a-f]{32}$")
_AUTH_TOKEN = re.compile(r"^[0-9a-f]{32}$")
TRAINING_INPUTS = ("data", "domain", "config.yml")

# Given the account SID, auth token and number, the SMS webhook URL Twilio has for that number.
WebhookLookup = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    message: str

    def line(self) -> str:
        return f"{self.level.upper():<4} {self.check}: {self.message}"


def _secrets(settings: Settings) -> list[Finding]:
    problems = secret_problems(settings)
    if not problems:
        return [Finding("ok", "secrets", "not examples, at least 32 bytes")]
    level: Level = "warn" if is_local(settings) else "fix"
    hint = " (python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    return [Finding(level, "secrets", p + hint) for p in problems]


def _public_url(settings: Settings) -> list[Finding]:
    url = urlsplit(settings.public_base_url)
    if url.scheme == "https" and url.hostname:
        return [Finding("ok", "public URL", settings.public_base_url)]
    level: Level = "warn" if is_local(settings) else "fix"
    return [
        Finding(
            level,
            "public URL",
            f"PUBLIC_BASE_URL {settings.public_base_url} is not https: members' links, the "
            "payment page and Twilio's signatures need the public https address",
        )
    ]


def twilio_webhook(sid: str, token: str, number: str) -> str | None:
    """The incoming-SMS URL Twilio has for `number` (None: the number is not in the account)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(sid, token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
    numbers = client.incoming_phone_numbers.list(phone_number=number, limit=1)
    return numbers[0].sms_url if numbers else None


def _twilio(settings: Settings, lookup: WebhookLookup) -> list[Finding]:
    sid, token, number = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from_number,
    )
    if not (sid or token or number):
        return [Finding("warn", "Twilio", "not configured: texts go to the local outbox only")]
    found: list[Finding] = []
    if not _SID.match(sid):
        found.append(Finding("fix", "Twilio", "TWILIO_ACCOUNT_SID must be AC + 32 hex digits"))
    if not _AUTH_TOKEN.match(token):
        found.append(Finding("fix", "Twilio", "TWILIO_AUTH_TOKEN must be 32 hex digits"))
    try:
        parsed = phonenumbers.parse(number, None)
        valid = phonenumbers.is_valid_number(parsed) and number.startswith("+")
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        found.append(
            Finding("fix", "Twilio", "TWILIO_FROM_NUMBER must be an E.164 number (+17065550100)")
        )
    if found:
        return found
    expected = f"{settings.public_base_url}/sms/twilio"
    try:
        actual = lookup(sid, token, number)
    except Exception as exc:  # noqa: BLE001 - any failure: say we could not check
        return [Finding("fix", "Twilio", f"could not reach Twilio to check: {type(exc).__name__}")]
    if actual is None:
        return [Finding("fix", "Twilio", f"{number} is not a number of this Twilio account")]
    if actual.rstrip("/") != expected:
        return [
            Finding(
                "fix",
                "Twilio",
                f"{number}'s messaging webhook is {actual or '(none)'}; set it to {expected}",
            )
        ]
    return [Finding("ok", "Twilio", f"{number} posts to {expected}")]


def _database(settings: Settings) -> list[Finding]:
    args = {} if settings.sqlite_default else {"connect_args": {"connect_timeout": TIMEOUT_SECONDS}}
    engine = make_sync_engine(settings.database_url, **args)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        return [Finding("fix", "database", f"does not answer: {type(exc).__name__}")]
    finally:
        engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    current = current_revisions(settings.database_url)
    if current != heads:
        return [
            Finding(
                "fix",
                "database",
                f"schema at {', '.join(sorted(current)) or 'nothing'}, code expects "
                f"{', '.join(sorted(heads))}: run `jecbot init-db` (back up first)",
            )
        ]
    return [Finding("ok", "database", f"answers, schema current ({', '.join(sorted(heads))})")]


def _redis(settings: Settings) -> list[Finding]:
    if not settings.redis_url:
        level: Level = "warn" if is_local(settings) else "fix"
        return [
            Finding(level, "Redis", "REDIS_URL not set: Rasa's lock store is in memory (one Rasa)")
        ]
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return [Finding("fix", "Redis", f"does not answer: {type(exc).__name__}")]
    finally:
        client.close()
    return [Finding("ok", "Redis", "answers")]


def _newest(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)


def _model(root: Path) -> list[Finding]:
    models = sorted((root / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        return [Finding("fix", "model", "no trained model in models/: run `make train`")]
    newest = models[-1]
    data = max(_newest(root / name) for name in TRAINING_INPUTS if (root / name).exists())
    if newest.stat().st_mtime < data:
        return [
            Finding(
                "fix",
                "model",
                f"{newest.name} is older than the training data: run `make train`",
            )
        ]
    return [Finding("ok", "model", f"{newest.name} is newer than the training data")]


def _profile(settings: Settings, today: date) -> list[Finding]:
    try:
        profile = load_profile(settings.coop_profile)
    except ConfigError as exc:
        return [Finding("fix", "profile", str(exc))]
    last = max((h.date for h in profile.holidays), default=None)
    horizon = today + timedelta(days=profile.notices.holiday_warning_days)
    if last is None or last < horizon:
        return [
            Finding(
                "fix",
                "profile",
                f"holidays end {last or 'nowhere'}: add next year's to `holidays:` in "
                f"{settings.coop_profile} (office hours need them)",
            )
        ]
    return [Finding("ok", "profile", f"{profile.coop.name}; holidays listed to {last}")]


def run_doctor(
    settings: Settings,
    today: date,
    *,
    webhook_lookup: WebhookLookup = twilio_webhook,
    root: Path = PROJECT_ROOT,
) -> list[Finding]:
    """Every check's findings, in the order an IT person would fix them."""
    return [
        *_secrets(settings),
        *_public_url(settings),
        *_twilio(settings, webhook_lookup),
        *_database(settings),
        *_redis(settings),
        *_model(root),
        *_profile(settings, today),
    ]
