"""The production profile for real (issue 13): PostgreSQL and Redis on localhost, 2 action
servers, 2 Rasa processes and 2 gateway copies, started with the runner's own command lines.

`production_stack` (one per test session: two Rasa processes take ~1.5 GB each and a minute or
more to load on a busy machine) makes
- its own PostgreSQL databases on 127.0.0.1:5432 (user postgres, trust auth): one for our data
  (demo members, migrations run by the demo loader), one for Rasa's tracker store; both dropped
  at the end;
- its own Redis key prefix (REDIS_PREFIX) on its own Redis database: the hub's channel, Rasa's
  lock store, the gateways' rate limits and the queue's streams (QUEUE_REDIS_PREFIX, once the
  queue is merged) all use it; its keys are deleted at the end;
- `bot.runner.build_children` with RASA_REPLICAS=2: "actions", "actions-2", "rasa", "rasa-2",
  each Rasa paired with its own action server, the two Rasa loading their model together;
- two gateway processes (`python -m bot.gateway`) on their own ports, both told about both Rasa
  servers (RASA_URLS) and the same databases, so a test may put a member on copy A and an agent
  on copy B, or SIGKILL one copy and one Rasa (`kill`) and bring them back (`revive`).

The clock is frozen at tests.stack.FAKE_NOW (a Tuesday, 10 AM: offices and agents at work).
Skipped only when PostgreSQL or Redis is unreachable, and the reason says so in capitals.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from bot.config import PROJECT_ROOT, Settings
from bot.runner import (
    RASA_BIN,
    STARTUP_TIMEOUT_SECONDS,
    Child,
    build_children,
    start_groups,
    wait_healthy,
    write_endpoints,
)
from tests.stack import FAKE_NOW, _free_port, _model_source

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
TWILIO_NUMBER = "+17065550100"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable" here
        return f"{type(exc).__name__}: {exc}"
    return None


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_BASE_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class GatewayCopy:
    name: str
    url: str
    settings: Settings
    child: Child


@dataclass
class ProductionStack:
    tmp: Path
    database_url: str
    tracker_url: str
    redis_url: str
    redis_prefix: str
    secret_key: str
    rasa_token: str
    twilio_token: str
    gateways: list[GatewayCopy]
    rasas: list[Child]
    actions: list[Child]
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.tmp / "log"

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params))
        finally:
            engine.dispose()

    def kill(self, child: Child) -> None:
        """SIGKILL the process (its whole group): no clean shutdown, like a crash or the OOM
        killer."""
        assert child.process is not None
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(timeout=30)

    def revive(self) -> None:
        """Start again, and wait for, every process that is not running (after `kill`). The
        `_whole_stack` fixture does this before each test, so a test that kills leaves no
        clean-up to do (and the last one costs no Rasa restart)."""
        dead = [c for c in self.actions + self.rasas + [g.child for g in self.gateways]]
        dead = [c for c in dead if c.exit_code() is not None]
        for child in dead:
            child.stop()  # closes its log
            child.start()
        for child in dead:
            wait_healthy(child, STARTUP_TIMEOUT_SECONDS[child.name])


def _gateway_env(base: dict[str, str], port: int, url: str) -> dict[str, str]:
    return {
        **base,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "PUBLIC_BASE_URL": url,
    }


@pytest.fixture(scope="package")  # stopped once tests/production is done
def production_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionStack]:
    pg, rd = _postgres_problem(), _redis_problem()
    if pg:
        pytest.skip(f"POSTGRESQL NOT REACHABLE at {PG_ADMIN_URL}: production NOT tested ({pg})")
    if rd:
        pytest.skip(f"REDIS NOT REACHABLE at {REDIS_BASE_URL}: production NOT tested ({rd})")
    if not RASA_BIN.exists():
        pytest.fail(f"Rasa is not installed at {RASA_BIN}; run `make setup`")
    from bot.demo import generate_demo_data

    tmp = tmp_path_factory.mktemp("production")
    tag = uuid.uuid4().hex[:10]
    data_db, tracker_db = f"jec_prod_{tag}", f"jec_prod_{tag}_rasa"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{data_db}"'))
        conn.execute(text(f'CREATE DATABASE "{tracker_db}"'))
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql")
    database_url, tracker_url = f"{server}/{data_db}", f"{server}/{tracker_db}"
    prefix = f"t{tag}"
    started: list[Child] = []
    try:
        generate_demo_data(database_url, members=5, usage_days=7, now=FAKE_NOW)
        secret_key, rasa_token, twilio_token = (uuid.uuid4().hex * 2 for _ in range(3))
        rasa_port, actions_port = _free_port(), _free_port()
        # Two consecutive free ports each (Rasa i and action server i are port + i).
        while _port_taken(rasa_port + 1) or _port_taken(actions_port + 1):
            rasa_port, actions_port = _free_port(), _free_port()
        settings = Settings(
            var_dir=tmp,
            database_url=database_url,
            rasa_tracker_url=tracker_url,
            redis_url=REDIS_BASE_URL,
            redis_prefix=prefix,
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            rasa_replicas=2,
            rasa_token=rasa_token,
            action_server_port=actions_port,
            secret_key=secret_key,
        )
        env = {
            "JEC_VAR_DIR": str(tmp),
            "DATABASE_URL": database_url,
            "RASA_TRACKER_URL": tracker_url,
            "REDIS_URL": REDIS_BASE_URL,
            "REDIS_PREFIX": prefix,
            "HUB": "redis",
            # The queue (branch `queue`) on Redis Streams under this run's prefix; ignored
            # until that branch is merged.
            "QUEUE_BACKEND": "redis",
            "QUEUE_REDIS_PREFIX": f"{prefix}:queue",
            "RASA_URL": settings.rasa_url,
            "RASA_REPLICAS": "2",
            "RASA_URLS": ",".join(settings.rasa_urls),
            "RASA_TOKEN": rasa_token,
            "ACTION_SERVER_PORT": str(actions_port),
            "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
            "SECRET_KEY": secret_key,
            "SECRET_KEY_PREVIOUS": "",
            "TWILIO_AUTH_TOKEN": twilio_token,
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_FROM_NUMBER": "",
            "SMTP_HOST": "",
            "SMTP_FROM": "",
            "SMS_REPLY_WAIT_SECONDS": "60",
            "HTTP_TIMEOUT_SECONDS": "90",
            "RATE_TEXTS_PER_PHONE": "1000/minute",
            "RATE_CONNECTIONS_PER_ADDRESS": "1000/minute",
            "RATE_NEW_CONVERSATIONS_PER_ADDRESS": "1000/hour",
            "LOG_LEVEL": "INFO",
            "JEC_FAKE_NOW": FAKE_NOW.isoformat(),
            "JEC_FAKE_NOW_FILE": str(tmp / "fake-now.txt"),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        endpoints = write_endpoints(settings)
        children = build_children(settings, endpoints, model=_model_source(tmp), gateway=False)
        for group in start_groups(children):
            for child in group:
                child.env.update(env)
                child.start()
                started.append(child)
            for child in group:
                wait_healthy(child, STARTUP_TIMEOUT_SECONDS[child.name])
        gateways = []
        for name in ("A", "B"):
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            gw_settings = Settings(
                var_dir=tmp,
                database_url=database_url,
                redis_url=REDIS_BASE_URL,
                redis_prefix=prefix,
                rasa_url=settings.rasa_url,
                rasa_url_list=settings.rasa_urls,
                rasa_token=rasa_token,
                gateway_port=port,
                public_base_url=url,
                secret_key=secret_key,
                twilio_auth_token=twilio_token,
            )
            [child] = [c for c in build_children(gw_settings, endpoints) if c.name == "gateway"]
            child.name = f"gateway-{name.lower()}"
            child.log_path = tmp / "log" / f"gateway-{name.lower()}.log"
            child.env.update(_gateway_env(env, port, url))
            child.start()
            started.append(child)
            gateways.append(GatewayCopy(name, url, gw_settings, child))
        for copy in gateways:
            wait_healthy(copy.child, STARTUP_TIMEOUT_SECONDS["gateway"])
        yield ProductionStack(
            tmp=tmp,
            database_url=database_url,
            tracker_url=tracker_url,
            redis_url=REDIS_BASE_URL,
            redis_prefix=prefix,
            secret_key=secret_key,
            rasa_token=rasa_token,
            twilio_token=twilio_token,
            gateways=gateways,
            rasas=[c for c in children if c.name.startswith("rasa")],
            actions=[c for c in children if c.name.startswith("actions")],
            env=env,
        )
    except Exception:
        print(f"\nproduction stack failed; logs are in {tmp / 'log'}")
        raise
    finally:
        for child in reversed(started):
            child.stop()
        _clean_redis(prefix)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{data_db}" WITH (FORCE)'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{tracker_db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _whole_stack(production_stack: ProductionStack) -> ProductionStack:
    """Every test starts with every process of the stack running."""
    production_stack.revive()
    return production_stack


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _clean_redis(prefix: str) -> None:
    """Delete this run's keys (lock store, rate limits): everything under its prefix."""
    client = redis.Redis.from_url(REDIS_BASE_URL, socket_timeout=5)
    try:
        for pattern in (f"{prefix}:*", f"{prefix}-*", f"*{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                client.delete(*keys)
    finally:
        client.close()
