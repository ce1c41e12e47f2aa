"""Settings read once from the environment (`.env` via python-dotenv).

Every process builds one `Settings` with `load_settings()` at start-up and passes it down; nothing
reads `os.environ` elsewhere. Defaults are the embedded profile: SQLite files under `var/`, the
local outbox instead of Twilio and SMTP, and the demo co-op profile.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from limits import parse_many

from bot.core.errors import ConfigError
from bot.core.keys import SecretKey

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What /readyz may check; READY_CHECKS picks a subset (e.g. without `actions` where a network
# policy lets only Rasa reach the action server). `redis` is checked only when REDIS_URL is set.
READY_CHECKS = ("database", "rasa", "actions", "redis")
LOG_FORMATS = ("text", "json")
HUB_BACKENDS = ("auto", "memory", "redis")
# One Rasa process holds ~1.5 GB once its model is loaded; the automatic replica count leaves
# this much memory per process (docs/deploy.md, "Production topology").
RASA_REPLICA_MEMORY_BYTES = 2 * 1024**3


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


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return value


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _list(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _networks(name: str, raw: str) -> tuple[str, ...]:
    networks = _list(raw)
    for net in networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list IP networks, not {net!r}") from None
    return networks


def _checks(name: str, raw: str) -> tuple[str, ...]:
    checks = tuple(c.lower() for c in _list(raw))
    unknown = [c for c in checks if c not in READY_CHECKS]
    if unknown:
        raise ConfigError(f"{name} may name only {', '.join(READY_CHECKS)}, not {unknown[0]!r}")
    return checks


def _prefix(name: str, raw: str) -> str:
    """A Redis key prefix: letters and digits only (Rasa's lock store refuses anything else)."""
    value = raw.strip()
    if not value.isalnum() or not value.isascii():
        raise ConfigError(f"{name} must be letters and digits only, not {raw!r}")
    return value


def _urls(name: str, raw: str) -> tuple[str, ...]:
    urls = tuple(u.rstrip("/") for u in _list(raw))
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"{name} must list http(s) URLs, not {url!r}")
    return urls


def _machine_replicas() -> int:
    """Rasa processes this machine can hold: one per core, at most one per 2 GB of memory."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, memory // RASA_REPLICA_MEMORY_BYTES))


def _rate(name: str, raw: str) -> str:
    """A rate in the `limits` notation ("20/minute", "30 per 10 minutes"), checked at start-up."""
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like 20/minute, not {raw!r}") from None
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one installation."""

    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    rasa_tracker_url: str = ""
    redis_url: str = ""
    coop_profile: Path = PROJECT_ROOT / "profiles" / "jec.yml"

    rasa_url: str = "http://127.0.0.1:5005"
    # Replicas (docs/deploy.md "Production topology"). RASA_REPLICAS: how many Rasa processes
    # `jecbot run` starts, each paired with its own action server (0: automatic, see
    # `rasa_replica_count`). RASA_URLS: the Rasa servers the gateway spreads turns over (empty:
    # RASA_URL and the next ports, one per replica).
    rasa_replicas: int = 0
    rasa_url_list: tuple[str, ...] = ()
    # The hub (bot.gateway.hub): auto (Redis pub/sub when REDIS_URL is set), memory or redis.
    # REDIS_PREFIX starts the hub's channel, Rasa's lock store keys and the rate-limit keys.
    hub: str = "auto"
    redis_prefix: str = "jec"
    rasa_token: str = field(default="change-me-rasa-token", repr=False)
    action_server_host: str = "127.0.0.1"
    action_server_port: int = 5055
    # Rasa (the host of RASA_URL) and the action server listen on loopback or an internal address;
    # the wildcard (0.0.0.0, ::) only when this is set, for containers whose network decides who
    # reaches the port. A public address is always refused (see `listen_problems`).
    listen_all_interfaces: bool = False
    # How old a signed turn may be when Rasa's gateway channel receives it (replay window).
    rasa_channel_max_age_seconds: float = 60.0
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    secret_key: str = field(default="dev-only-secret-change-me", repr=False)
    # Older secrets that still verify (most recent first) while links and sessions signed with
    # them age out; see bot.core.keys.
    secret_key_previous: tuple[str, ...] = field(default=(), repr=False)

    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from_number: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    # The two-way link with the co-op's systems (docs/integration.md): the signed webhook every
    # change made in chat goes to (off when the URL is empty), how long an event is retried, and
    # the secret the co-op's systems sign inbound requests with (inbound endpoints off when empty).
    integration_webhook_url: str = ""
    integration_webhook_secret: str = field(default="", repr=False)
    integration_webhook_max_age_hours: float = 72.0
    integration_inbound_secret: str = field(default="", repr=False)

    http_timeout_seconds: float = 10.0
    sms_reply_wait_seconds: float = 4.0
    log_level: str = "INFO"
    # Operations (docs/operations.md): log format, the runner's log file rotation, /metrics
    # access and which dependencies /readyz checks.
    log_format: str = "text"  # text|json
    log_max_bytes: int = 10 * 1024 * 1024
    log_backup_count: int = 5
    metrics_token: str = field(default="", repr=False)
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    ready_checks: tuple[str, ...] = READY_CHECKS

    # The member-facing edge (docs/security.md): what the gateway accepts and how often.
    message_max_chars: int = 1600  # longer texts are cut (with a note) before Rasa sees them
    # Origins allowed to open the chat WebSocket; empty: PUBLIC_BASE_URL's origin and loopback.
    allowed_origins: tuple[str, ...] = ()
    # Proxies whose X-Forwarded-For names the client (addresses or networks); empty: none.
    trusted_proxies: tuple[str, ...] = ()
    rate_messages_per_connection: str = "20/minute"
    rate_new_conversations_per_address: str = "10/hour"
    rate_connections_per_address: str = "60/minute"
    rate_texts_per_phone: str = "30/10minutes"
    max_connections_per_address: int = 20  # open WebSockets at once
    max_pending_turns: int = 3  # member messages waiting for the assistant, per conversation

    # The durable queue (bot/queue, docs/queue.md): "sql" (embedded, the database) or "redis"
    # (REDIS_URL, Streams); workers run in the gateway unless QUEUE_WORKERS_IN_GATEWAY=false
    # (then `jecbot worker` runs them). QUEUE_CONCURRENCY turns at once towards Rasa per process.
    queue_backend: str = "sql"
    queue_redis_prefix: str = "jec:queue"
    queue_concurrency: int = 2
    queue_lease_seconds: float = 60.0
    queue_workers_in_gateway: bool = True
    # The "having trouble" apology only after the assistant has been unreachable this long.
    assistant_down_apology_seconds: float = 180.0
    # `jecbot run` starts Rasa and the action servers this much nicer (lower CPU priority) than
    # the gateway: on one machine a storm's NLU must not starve the webhooks' acknowledgements.
    assistant_nice: int = 10

    # Agent console: a session ends this many hours after sign-in whatever the activity; the
    # second factor (TOTP) is "on", "off" or "auto" (on unless the installation is local).
    console_session_hours: float = 12.0
    console_totp: str = "auto"
    # Queue: "on" gives each new waiting conversation to the online agent with the fewest open
    # conversations, never beyond CONSOLE_AGENT_LIMIT open conversations per agent.
    console_auto_assign: str = "off"
    console_agent_limit: int = 3
    # "How did we do? 1-5" after an agent hands back ("on" from the environment by default;
    # off for settings built in code, such as tests that count the hand-back's messages).
    console_survey: str = "off"
    # The web chat's conversation token stops working after this many hours without a message.
    web_token_idle_hours: float = 24.0
    # The co-op's outage system signs its updates to POST /integrations/outages with this shared
    # secret (HMAC-SHA256, docs/integration.md); empty: the endpoint is off (404).
    outage_updates_secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        # The signers get the rotation list through the secret itself (bot.core.keys.SecretKey).
        previous = tuple(self.secret_key_previous)
        object.__setattr__(self, "secret_key_previous", previous)
        object.__setattr__(self, "secret_key", SecretKey(str(self.secret_key), previous))

    @property
    def sqlite_default(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def shared_rasa_state(self) -> bool:
        """Several Rasa processes may serve one installation only when they share their locks
        (the Redis lock store) and their trackers (a server database, not a SQLite file)."""
        return bool(self.redis_url) and not self.rasa_tracker_url.startswith("sqlite")

    @property
    def rasa_replica_count(self) -> int:
        """RASA_URLS' length, else RASA_REPLICAS, else automatic: one per core (and 2 GB) when
        the Rasa state is shared, and 1 on the embedded default (SQLite tracker, in-memory locks:
        a second process would take turns of the same conversation without a shared lock)."""
        if self.rasa_url_list:
            return len(self.rasa_url_list)
        if self.rasa_replicas > 0:
            return self.rasa_replicas
        return _machine_replicas() if self.shared_rasa_state else 1

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """Every Rasa server: RASA_URLS, else RASA_URL and the following ports."""
        if self.rasa_url_list:
            return self.rasa_url_list
        parts = urlsplit(self.rasa_url)
        port = parts.port or 5005
        host = parts.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return (self.rasa_url,) + tuple(
            f"{parts.scheme}://{host}:{port + i}" for i in range(1, self.rasa_replica_count)
        )

    @property
    def hub_backend(self) -> str:
        """`redis` or `memory`: HUB, with `auto` meaning Redis when REDIS_URL is set. Without
        REDIS_URL always `memory` (HUB=redis without it is reported by `replica_problems`)."""
        if not self.redis_url:
            return "memory"
        return "redis" if self.hub == "auto" else self.hub

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
        rasa_replicas=_int("RASA_REPLICAS", env.get("RASA_REPLICAS", "0") or "0"),
        assistant_nice=_int("ASSISTANT_NICE", env.get("ASSISTANT_NICE", "10") or "10"),
        rasa_url_list=_urls("RASA_URLS", env.get("RASA_URLS", "")),
        hub=_choice("HUB", env.get("HUB", "auto") or "auto", HUB_BACKENDS),
        redis_prefix=_prefix("REDIS_PREFIX", env.get("REDIS_PREFIX", "jec") or "jec"),
        rasa_token=env.get("RASA_TOKEN", "change-me-rasa-token"),
        action_server_host=env.get("ACTION_SERVER_HOST", "127.0.0.1"),
        action_server_port=_int("ACTION_SERVER_PORT", env.get("ACTION_SERVER_PORT", "5055")),
        listen_all_interfaces=_bool(
            "LISTEN_ALL_INTERFACES", env.get("LISTEN_ALL_INTERFACES", "false")
        ),
        rasa_channel_max_age_seconds=_float(
            "RASA_CHANNEL_MAX_AGE_SECONDS", env.get("RASA_CHANNEL_MAX_AGE_SECONDS", "60")
        ),
        gateway_host=env.get("GATEWAY_HOST", "127.0.0.1"),
        gateway_port=_int("GATEWAY_PORT", env.get("GATEWAY_PORT", "8080")),
        public_base_url=env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/"),
        secret_key=env.get("SECRET_KEY", "dev-only-secret-change-me"),
        secret_key_previous=tuple(
            p.strip() for p in env.get("SECRET_KEY_PREVIOUS", "").split(",") if p.strip()
        ),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
        twilio_from_number=env.get("TWILIO_FROM_NUMBER", ""),
        outage_updates_secret=env.get("OUTAGE_UPDATES_SECRET", ""),
        smtp_host=env.get("SMTP_HOST", ""),
        smtp_port=_int("SMTP_PORT", env.get("SMTP_PORT", "587")),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_from=env.get("SMTP_FROM", ""),
        integration_webhook_url=env.get("INTEGRATION_WEBHOOK_URL", "").strip(),
        integration_webhook_secret=env.get("INTEGRATION_WEBHOOK_SECRET", ""),
        integration_webhook_max_age_hours=_float(
            "INTEGRATION_WEBHOOK_MAX_AGE_HOURS", env.get("INTEGRATION_WEBHOOK_MAX_AGE_HOURS", "72")
        ),
        integration_inbound_secret=env.get("INTEGRATION_INBOUND_SECRET", ""),
        http_timeout_seconds=_float("HTTP_TIMEOUT_SECONDS", env.get("HTTP_TIMEOUT_SECONDS", "10")),
        sms_reply_wait_seconds=_float(
            "SMS_REPLY_WAIT_SECONDS", env.get("SMS_REPLY_WAIT_SECONDS", "4")
        ),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        log_format=_choice("LOG_FORMAT", env.get("LOG_FORMAT", "text"), LOG_FORMATS),
        log_max_bytes=_int("LOG_MAX_BYTES", env.get("LOG_MAX_BYTES", str(10 * 1024 * 1024))),
        log_backup_count=_int("LOG_BACKUP_COUNT", env.get("LOG_BACKUP_COUNT", "5")),
        metrics_token=env.get("METRICS_TOKEN", ""),
        metrics_allow=_networks("METRICS_ALLOW", env.get("METRICS_ALLOW", "127.0.0.1/32,::1/128")),
        ready_checks=_checks("READY_CHECKS", env.get("READY_CHECKS", ",".join(READY_CHECKS))),
        message_max_chars=_int("MESSAGE_MAX_CHARS", env.get("MESSAGE_MAX_CHARS", "1600")),
        allowed_origins=_list(env.get("ALLOWED_ORIGINS", "")),
        trusted_proxies=_networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", "")),
        rate_messages_per_connection=_rate(
            "RATE_MESSAGES_PER_CONNECTION", env.get("RATE_MESSAGES_PER_CONNECTION", "20/minute")
        ),
        rate_new_conversations_per_address=_rate(
            "RATE_NEW_CONVERSATIONS_PER_ADDRESS",
            env.get("RATE_NEW_CONVERSATIONS_PER_ADDRESS", "10/hour"),
        ),
        rate_connections_per_address=_rate(
            "RATE_CONNECTIONS_PER_ADDRESS", env.get("RATE_CONNECTIONS_PER_ADDRESS", "60/minute")
        ),
        rate_texts_per_phone=_rate(
            "RATE_TEXTS_PER_PHONE", env.get("RATE_TEXTS_PER_PHONE", "30/10minutes")
        ),
        max_connections_per_address=_int(
            "MAX_CONNECTIONS_PER_ADDRESS", env.get("MAX_CONNECTIONS_PER_ADDRESS", "20")
        ),
        max_pending_turns=_int("MAX_PENDING_TURNS", env.get("MAX_PENDING_TURNS", "3")),
        queue_backend=_choice("QUEUE_BACKEND", env.get("QUEUE_BACKEND", "sql"), ("sql", "redis")),
        queue_redis_prefix=env.get("QUEUE_REDIS_PREFIX", "jec:queue") or "jec:queue",
        queue_concurrency=_int("QUEUE_CONCURRENCY", env.get("QUEUE_CONCURRENCY", "2")),
        queue_lease_seconds=_float("QUEUE_LEASE_SECONDS", env.get("QUEUE_LEASE_SECONDS", "60")),
        queue_workers_in_gateway=_bool(
            "QUEUE_WORKERS_IN_GATEWAY", env.get("QUEUE_WORKERS_IN_GATEWAY", "true")
        ),
        assistant_down_apology_seconds=_float(
            "ASSISTANT_DOWN_APOLOGY_SECONDS", env.get("ASSISTANT_DOWN_APOLOGY_SECONDS", "180")
        ),
        console_session_hours=_float(
            "CONSOLE_SESSION_HOURS", env.get("CONSOLE_SESSION_HOURS", "12")
        ),
        console_totp=_choice(
            "CONSOLE_TOTP", env.get("CONSOLE_TOTP", "auto"), ("auto", "on", "off")
        ),
        console_auto_assign=_choice(
            "CONSOLE_AUTO_ASSIGN", env.get("CONSOLE_AUTO_ASSIGN", "off"), ("off", "on")
        ),
        console_agent_limit=_int("CONSOLE_AGENT_LIMIT", env.get("CONSOLE_AGENT_LIMIT", "3")),
        console_survey=_choice("CONSOLE_SURVEY", env.get("CONSOLE_SURVEY", "on"), ("off", "on")),
        web_token_idle_hours=_float("WEB_TOKEN_IDLE_HOURS", env.get("WEB_TOKEN_IDLE_HOURS", "24")),
    )


# ---------------------------------------------------------------- refusing unsafe secrets

MIN_SECRET_BYTES = 32
# The example values shipped in .env.example and other placeholders nobody should deploy.
KNOWN_DEFAULTS = frozenset(
    {
        "dev-only-secret-change-me",
        "change-me-rasa-token",
        "change-me",
        "changeme",
        "secret",
        "password",
        "test",
    }
)
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(settings: Settings) -> bool:
    """True for a developer's machine: the public URL is loopback and the gateway listens only
    on loopback. Anything else is treated as reachable by others."""
    host = urlsplit(settings.public_base_url).hostname or ""
    return _is_loopback(host) and _is_loopback(settings.gateway_host)


def _placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in KNOWN_DEFAULTS or "change-me" in lowered or "changeme" in lowered


def secret_problems(settings: Settings) -> list[str]:
    """What is wrong with the secrets for an installation others can reach (empty: nothing)."""
    problems = []
    required = [("SECRET_KEY", settings.secret_key), ("RASA_TOKEN", settings.rasa_token)]
    required += [("SECRET_KEY_PREVIOUS", old) for old in settings.secret_key_previous]
    for name, value in required:
        if not value.strip():
            problems.append(f"{name} is empty")
        elif _placeholder(value):
            problems.append(f"{name} is an example value")
        elif len(value.encode("utf-8")) < MIN_SECRET_BYTES:
            problems.append(f"{name} is shorter than {MIN_SECRET_BYTES} bytes")
    # Integration secrets sign requests both ways (docs/integration.md): as strong as SECRET_KEY.
    integration = [("INTEGRATION_INBOUND_SECRET", settings.integration_inbound_secret)]
    if settings.integration_webhook_url:
        integration.append(("INTEGRATION_WEBHOOK_SECRET", settings.integration_webhook_secret))
        if urlsplit(settings.integration_webhook_url).scheme != "https":
            problems.append("INTEGRATION_WEBHOOK_URL is not https (events carry member data)")
    for name, value in integration:
        if name == "INTEGRATION_INBOUND_SECRET" and not value:
            continue  # inbound endpoints off
        if not value.strip():
            problems.append(f"{name} is empty")
        elif _placeholder(value):
            problems.append(f"{name} is an example value")
        elif len(value.encode("utf-8")) < MIN_SECRET_BYTES:
            problems.append(f"{name} is shorter than {MIN_SECRET_BYTES} bytes")
    # Provider credentials are the provider's to choose: only refuse obvious placeholders.
    for name, value in (
        ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
        ("SMTP_PASSWORD", settings.smtp_password),
        ("METRICS_TOKEN", settings.metrics_token),
    ):
        if value and _placeholder(value):
            problems.append(f"{name} is an example value")
    for name, url in (
        ("DATABASE_URL", settings.database_url),
        ("RASA_TRACKER_URL", settings.rasa_tracker_url),
        ("REDIS_URL", settings.redis_url),
    ):
        password = urlsplit(url).password if "://" in url else None
        if password is not None and _placeholder(password):
            problems.append(f"{name} has an example password")
    return problems


def check_secrets(settings: Settings) -> None:
    """Refuse (ConfigError, one line) secrets that are empty, example values or under 32 bytes,
    unless the installation is local (see `is_local`). Never names a secret's value."""
    if is_local(settings):
        return
    problems = secret_problems(settings)
    if problems:
        raise ConfigError(
            "; ".join(problems) + f" (serving {settings.public_base_url}); set random values, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def exit_if_insecure(settings: Settings) -> None:
    """For process entry points: print the one-line reason and exit with status 2."""
    try:
        check_secrets(settings)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


# ---------------------------------------------------------------- internal listeners


def replica_problems(settings: Settings) -> list[str]:
    """Why the replica settings cannot work (empty: fine)."""
    problems = []
    if settings.rasa_replicas < 0:
        problems.append("RASA_REPLICAS must be 0 (automatic) or more")
    if settings.rasa_replica_count > 1 and not settings.shared_rasa_state:
        problems.append(
            f"{settings.rasa_replica_count} Rasa processes need REDIS_URL (the shared lock "
            "store) and a PostgreSQL RASA_TRACKER_URL; the embedded default runs one"
        )
    if settings.hub == "redis" and not settings.redis_url:
        problems.append("HUB=redis needs REDIS_URL")
    return problems


def listen_problems(settings: Settings) -> list[str]:
    """Why Rasa or the action server would listen where others can reach them (empty: fine).

    Both trust only the gateway's signature and Rasa's key, but neither is meant to be reachable:
    a public address is refused, and the wildcard address unless LISTEN_ALL_INTERFACES is set
    (a container, where the platform's network limits who reaches the port). A name (a container
    or service name) is left to the platform's network."""
    problems = []
    for name, host in (
        ("RASA_URL", urlsplit(settings.rasa_url).hostname or ""),
        ("ACTION_SERVER_HOST", settings.action_server_host),
    ):
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            continue
        if address.is_unspecified and not settings.listen_all_interfaces:
            problems.append(
                f"{name} would listen on every interface ({host}); use 127.0.0.1 or an internal "
                "address (or LISTEN_ALL_INTERFACES=true inside a container)"
            )
        elif address.is_global:
            problems.append(
                f"{name} is a public address ({host}); Rasa and the action server must listen "
                "on loopback or an internal address only"
            )
    return problems
