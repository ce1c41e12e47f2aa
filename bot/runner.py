"""`jecbot run`: start the whole assistant on one machine and stop it cleanly.

Processes, in order (each group must answer its health checks before the next starts):

1. the action servers (`python -m bot.actions.server`: rasa-sdk's server behind the action-server
   key, our app environment),
2. the Rasa servers (`rasa run` through `rasa_addons.serve`, the Python 3.10 environment): the
   signed gateway channel (`rasa_addons.gateway_channel`) and the token-protected HTTP API; all
   replicas load their model at the same time,
3. the queue worker (`jecbot worker`) when the queue is on Redis, its workers are not inside the
   gateway (QUEUE_WORKERS_IN_GATEWAY=false),
4. the gateway (`python -m bot.gateway`), once that package has an entry point.

Replicas (`Settings.rasa_replica_count`, RASA_REPLICAS): N Rasa processes, each paired with its
own action server: Rasa i listens on RASA_URL's port + i and calls the action server on
ACTION_SERVER_PORT + i, so a dead pair costs one replica, never a balancer, and the gateway
spreads turns over `Settings.rasa_urls` and skips a dead Rasa. More than one needs the shared
Rasa state (Redis lock store, PostgreSQL tracker store); the embedded default runs one. The runner
starts one gateway: gateway copies are the deployment's (compose/k8s replicas behind the proxy).
Rasa and the action servers run ASSISTANT_NICE (default 10) nicer than the gateway: on one machine
their NLU is throughput work that drains the queue, while the gateway's webhook acknowledgements
and live updates are the latency members notice (bench/README.md, "Storm figures").

The Rasa endpoints file is generated from `.env` into `var/endpoints.yml` (and
`var/endpoints-2.yml`... for the other replicas: action server URL and the header carrying its
key, SQL tracker store, in-memory or Redis lock store), so the production profile is only a
different `.env`; `var/credentials.yml` enables only the gateway channel.
Secrets never go on a command line: Rasa gets its API token, the channel keys and the
action-server key through its environment (no `SECRET_KEY`: only the keys derived for it), and the
action server derives its own key. Rasa and the action server listen on internal addresses only
(`bot.config.listen_problems`).
Each child's output goes to `var/log/<name>.log`, masked line by line (`bot.logs.mask_log_text`)
and rotated at LOG_MAX_BYTES keeping LOG_BACKUP_COUNT old files. Ctrl-C (SIGINT) or SIGTERM
stops every child; a child that dies stops the others and the message names it and its log.

This module is a supervisor, not a server: it uses plain blocking calls on purpose.
"""

from __future__ import annotations

import importlib.util
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import yaml

from bot.config import PROJECT_ROOT, Settings, listen_problems, replica_problems
from bot.core.keys import ACTION_KEY_HEADER, Purpose, key_for, keyring
from bot.logs import mask_log_text

log = logging.getLogger(__name__)

RASA_BIN = PROJECT_ROOT / "rasa-env" / ".venv" / "bin" / "rasa"
RASA_PYTHON = RASA_BIN.parent / "python"
# The one input channel for member turns (rasa_addons/gateway_channel.py) and its paths.
GATEWAY_CHANNEL = "rasa_addons.gateway_channel.GatewayInput"
CHANNEL_HEALTH_PATH = "/webhooks/gateway/"
# What Rasa reads from its environment (rasa_addons.serve, rasa_addons.signing, endpoints).
ENV_ACTION_SERVER_KEY = "JEC_ACTION_SERVER_KEY"
ENV_CHANNEL_KEYS = "JEC_RASA_CHANNEL_KEYS"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"


class _Timeouts(dict[str, float]):
    """Start-up timeouts by process kind; a replica ("rasa-2") has its kind's ("rasa")."""

    def __missing__(self, name: str) -> float:
        return self[child_kind(name)]


def child_kind(name: str) -> str:
    """ "rasa-2" -> "rasa"; "actions" -> "actions"."""
    kind, _, number = name.rpartition("-")
    return kind if kind and number.isdigit() else name


# Rasa loads TensorFlow and the model: ~1 minute on a quiet machine, several on a busy one.
STARTUP_TIMEOUT_SECONDS = _Timeouts(
    {"actions": 120.0, "rasa": 900.0, "worker": 120.0, "gateway": 120.0}
)
# A process without a health URL (the worker) is up once it has run this long.
NO_HEALTH_URL_GRACE_SECONDS = 3.0
STOP_GRACE_SECONDS = 10.0


class StartupError(RuntimeError):
    """A process did not come up; the message says which and where its log is."""


# ---------------------------------------------------------------------------- endpoints file


def redis_lock_store(redis_url: str, prefix: str = "jec") -> dict[str, object]:
    """Rasa's RedisLockStore takes host/port/db/password, not a URL: split REDIS_URL."""
    parts = urlsplit(redis_url)
    config: dict[str, object] = {
        "type": "redis",
        "url": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "db": int(parts.path.lstrip("/") or 0),
        "key_prefix": prefix,
    }
    if parts.password:
        config["password"] = parts.password
    if parts.username:
        config["username"] = parts.username
    if parts.scheme == "rediss":
        config["use_ssl"] = True
    return config


TRACKER_STORE_CLASS = "rasa_addons.tracker_store.WindowedSQLTrackerStore"
TRACKER_WINDOW_EVENTS = 60  # events a turn reads after the session's snapshot (x1 to x2)


def replica_name(kind: str, replica: int) -> str:
    """ "rasa", "rasa-2", "rasa-3"...: the first replica keeps the plain name."""
    return kind if replica == 0 else f"{kind}-{replica + 1}"


def endpoints_path(first: Path, replica: int) -> Path:
    """Replica 0 uses `first` (var/endpoints.yml); the others endpoints-2.yml... beside it."""
    return first if replica == 0 else first.with_name(f"{first.stem}-{replica + 1}{first.suffix}")


def endpoints_config(settings: Settings, replica: int = 0) -> dict[str, object]:
    """The Rasa endpoints for this `.env`: actions, SQL tracker store, lock store. Replica i
    calls its own action server, on ACTION_SERVER_PORT + i.

    The action-server key is a `${...}` reference that Rasa fills from its environment, so the
    key is never written to disk."""
    actions_port = settings.action_server_port + replica
    config: dict[str, object] = {
        "action_endpoint": {
            "url": f"http://{settings.action_server_host}:{actions_port}/webhook",
            "headers": {ACTION_KEY_HEADER: "${" + ENV_ACTION_SERVER_KEY + "}"},
        },
        # Rasa's SQL tracker store (a complete database URL in `url`) with a bounded read, so a
        # turn's cost does not grow with the session's length (rasa_addons/tracker_store.py).
        "tracker_store": {
            "type": TRACKER_STORE_CLASS,
            "url": settings.rasa_tracker_url,
            "window_events": TRACKER_WINDOW_EVENTS,
        },
        "lock_store": (
            redis_lock_store(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else {"type": "in_memory"}
        ),
    }
    return config


def credentials_config(settings: Settings) -> dict[str, object]:
    """Rasa's input channels: only the signed gateway channel (no REST channel, no others)."""
    return {GATEWAY_CHANNEL: {"max_age_seconds": settings.rasa_channel_max_age_seconds}}


def write_endpoints(settings: Settings, path: Path | None = None) -> Path:
    """Write var/endpoints.yml (and endpoints-2.yml... for the other replicas) and, next to it,
    credentials.yml (all generated; never edit them by hand); return the first endpoints file's
    path (the one `build_children` is given)."""
    path = path or settings.var_dir / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tracker_url = settings.rasa_tracker_url
    if tracker_url.startswith("sqlite:///"):
        Path(tracker_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `jecbot run` from .env. Edit .env, not this file.\n"
    for replica in range(settings.rasa_replica_count):
        endpoints_path(path, replica).write_text(
            header + yaml.safe_dump(endpoints_config(settings, replica), sort_keys=False)
        )
    credentials = path.parent / "credentials.yml"
    credentials.write_text(header + yaml.safe_dump(credentials_config(settings), sort_keys=False))
    return path


def rasa_environment(settings: Settings) -> dict[str, str]:
    """The secrets Rasa needs, for its environment: the API token, the channel keys (current
    first) and the action-server key. Never SECRET_KEY itself (see `RASA_UNSET`)."""
    channel_keys = reversed(keyring(settings.secret_key, Purpose.RASA_CHANNEL))
    return {
        "RASA_TOKEN": settings.rasa_token,
        ENV_CHANNEL_KEYS: ",".join(channel_keys),
        ENV_ACTION_SERVER_KEY: key_for(settings.secret_key, Purpose.ACTION_SERVER),
    }


RASA_UNSET = ("SECRET_KEY", "SECRET_KEY_PREVIOUS")


def secret_environment(settings: Settings) -> dict[str, str]:
    """SECRET_KEY (with its previous values) for the action server and the gateway: the same
    secret the keys given to Rasa come from, so the three always agree."""
    return {
        "SECRET_KEY": str(settings.secret_key),
        "SECRET_KEY_PREVIOUS": ",".join(settings.secret_key_previous),
    }


# ---------------------------------------------------------------------------- processes


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()  # variables of our environment the child must not inherit
    nice: int = 0  # added to the child's nice level (lower CPU priority) right after it starts
    process: subprocess.Popen[bytes] | None = None
    # Rotation of the log file (0: one growing file, as before)
    max_bytes: int = 0
    backup_count: int = 0
    _log: IO[bytes] | None = None
    _copier: threading.Thread | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        banner = f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.argv)}\n"
        if self.max_bytes > 0:
            self._start_rotating(mask_log_text(banner))
            return
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log.write(banner.encode())
        self._log.flush()
        self.process = self._spawn(self._log)

    def _spawn(self, stdout: IO[bytes] | int) -> subprocess.Popen[bytes]:
        """The child, its output and errors to `stdout`, in a session of its own, at its
        nice level (set before it has started any thread of its own: they inherit it)."""
        process = subprocess.Popen(
            self.argv,
            cwd=PROJECT_ROOT,
            env=self._environment(),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        if self.nice > 0:
            try:
                current = os.getpriority(os.PRIO_PROCESS, process.pid)
                os.setpriority(os.PRIO_PROCESS, process.pid, min(19, current + self.nice))
            except OSError as exc:  # not allowed here: the child runs at our priority
                log.warning("could not lower the priority of %s: %s", self.name, exc)
        return process

    def _environment(self) -> dict[str, str]:
        """Ours plus `env`, without the variables in `unset`."""
        env = {**os.environ, **self.env}
        for name in self.unset:
            env.pop(name, None)
        return env

    def _start_rotating(self, banner: str) -> None:
        """The child writes to a pipe; a thread masks each line into a rotating log file."""
        handler = logging.handlers.RotatingFileHandler(
            self.log_path,
            maxBytes=self.max_bytes,
            backupCount=self.backup_count,
            encoding="utf-8",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.emit(logging.makeLogRecord({"msg": banner.rstrip("\n")}))
        self.process = self._spawn(subprocess.PIPE)
        pipe = self.process.stdout
        assert pipe is not None

        def copy() -> None:
            with pipe:
                for raw in iter(pipe.readline, b""):
                    line = mask_log_text(raw.decode("utf-8", "replace").rstrip("\n"))
                    handler.emit(logging.makeLogRecord({"msg": line}))
            handler.close()

        self._copier = threading.Thread(target=copy, name=f"log-{self.name}", daemon=True)
        self._copier.start()

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """SIGTERM the child's process group, then SIGKILL after a grace period."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._copier is not None:
            self._copier.join(timeout=5)  # the pipe closes when the child has exited
            self._copier = None


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when `url` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URL
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(child: Child, timeout: float) -> None:
    """Poll the child's health URL until it answers; fail if it exits or takes too long. A child
    without a health URL is up once it has run `NO_HEALTH_URL_GRACE_SECONDS`."""
    started = time.monotonic()
    deadline = started + timeout
    waited = 0
    while time.monotonic() < deadline:
        code = child.exit_code()
        if code is not None:
            _print_log_tail(child)
            raise StartupError(
                f"{child.name} exited with code {code} while starting; see {child.log_path}"
            )
        if (
            is_healthy(child.health_url)
            if child.health_url
            else time.monotonic() - started >= NO_HEALTH_URL_GRACE_SECONDS
        ):
            if waited >= 5:
                print()  # end the line of progress dots
            return
        time.sleep(1.0)
        waited += 1
        if waited % 5 == 0:
            print(".", end="", flush=True)  # one dot per 5 seconds of waiting
    _print_log_tail(child)
    raise StartupError(
        f"{child.name} did not become healthy within {timeout:.0f}s ({child.health_url}); "
        f"see {child.log_path}"
    )


def _print_log_tail(child: Child, lines: int = 25, max_bytes: int = 8192) -> None:
    """Print the last lines of a child's log when it fails to start, so the failure explains
    itself where it is seen (a CI log shows what was printed, not a file on a machine that is
    gone). Only the log's end is read: a Rasa log can be large."""
    try:
        with child.log_path.open("rb") as log:
            log.seek(max(0, child.log_path.stat().st_size - max_bytes))
            tail = log.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print(f"\n--- last lines of {child.log_path} ---", *tail, sep="\n", flush=True)


def gateway_available() -> bool:
    """The gateway is started only once `python -m bot.gateway` exists."""
    try:
        return importlib.util.find_spec("bot.gateway.__main__") is not None
    except ModuleNotFoundError:
        return False


def worker_wanted(settings: Settings) -> bool:
    """A separate `jecbot worker` process: the queue is on Redis (QUEUE_BACKEND=redis) and its
    workers are not run inside the gateway (QUEUE_WORKERS_IN_GATEWAY=false)."""
    return settings.queue_backend == "redis" and not settings.queue_workers_in_gateway


def build_children(
    settings: Settings, endpoints: Path, *, model: Path | str = "models", gateway: bool = True
) -> list[Child]:
    """The processes to start, in order: the action servers, the Rasa servers (`model` is a file
    or a folder whose newest model Rasa loads), the queue worker when `worker_wanted`, and the
    gateway when it exists and `gateway` is true. One action server and one Rasa per replica
    (`Settings.rasa_replica_count`), named "actions", "rasa", then "actions-2", "rasa-2"... Rasa
    replica i reads `endpoints_path(endpoints, i)` and the credentials file written next to
    `endpoints`; no secret is in any argv."""
    log_dir = settings.var_dir / "log"
    rotation = {"max_bytes": settings.log_max_bytes, "backup_count": settings.log_backup_count}
    replicas = settings.rasa_urls[: settings.rasa_replica_count]
    actions: list[Child] = []
    rasas: list[Child] = []
    for replica, rasa_url in enumerate(replicas):
        port = settings.action_server_port + replica
        name = replica_name("actions", replica)
        actions.append(
            Child(
                name=name,
                argv=[str(APP_PYTHON), "-m", "bot.actions.server", "--port", str(port)],
                health_url=f"http://{settings.action_server_host}:{port}/health",
                log_path=log_dir / f"{name}.log",
                env={"SANIC_HOST": settings.action_server_host, **secret_environment(settings)},
                nice=settings.assistant_nice,
                **rotation,
            )
        )
        rasa = urlsplit(rasa_url)
        name = replica_name("rasa", replica)
        rasas.append(
            Child(
                name=name,
                argv=[
                    str(RASA_PYTHON),
                    "-m",
                    "rasa_addons.serve",
                    "run",
                    "--enable-api",
                    "-i",
                    rasa.hostname or "127.0.0.1",
                    "-p",
                    str(rasa.port or 5005),
                    "--endpoints",
                    str(endpoints_path(endpoints, replica)),
                    "--credentials",
                    str(endpoints.parent / "credentials.yml"),
                    "--model",
                    str(model),
                ],
                health_url=f"{rasa_url}{CHANNEL_HEALTH_PATH}",
                log_path=log_dir / f"{name}.log",
                # Rasa cuts every text to the gateway's limit itself (rasa_addons.limits).
                env={
                    **rasa_environment(settings),
                    "MESSAGE_MAX_CHARS": str(settings.message_max_chars),
                },
                unset=RASA_UNSET,
                nice=settings.assistant_nice,
                **rotation,
            )
        )
    children = actions + rasas
    if worker_wanted(settings):
        children.append(
            Child(
                name="worker",
                argv=[str(APP_PYTHON), "-m", "bot.cli", "worker"],
                health_url="",
                log_path=log_dir / "worker.log",
                env=secret_environment(settings),
                **rotation,
            )
        )
    if gateway and gateway_available():
        children.append(
            Child(
                name="gateway",
                argv=[str(APP_PYTHON), "-m", "bot.gateway"],
                health_url=f"http://{settings.gateway_host}:{settings.gateway_port}/health",
                log_path=log_dir / "gateway.log",
                env=secret_environment(settings),
                **rotation,
            )
        )
    return children


def start_groups(children: list[Child]) -> list[list[Child]]:
    """Children grouped by kind, in order: a group starts together (two Rasa replicas load their
    models at the same time) and is healthy before the next group starts."""
    groups: list[list[Child]] = []
    for child in children:
        if groups and child_kind(groups[-1][0].name) == child_kind(child.name):
            groups[-1].append(child)
        else:
            groups.append([child])
    return groups


# ---------------------------------------------------------------------------- supervisor


class Stop(Exception):
    """Raised from the signal handler (SIGINT/SIGTERM) to leave what the supervisor is doing."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


class Supervisor:
    """Starts children in order, each healthy before the next, and stops every one it started.

    Used as a context manager: inside it the given signals raise `Stop`, so Ctrl-C or SIGTERM
    leaves through the `with`, whose exit stops what was started in reverse order and restores
    the previous signal handlers. While stopping, further SIGINT/SIGTERM are ignored so a second
    Ctrl-C cannot leave orphans. `jecbot run` and `make bench` both supervise with this.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)):
        self.signals = signals
        self.started: list[Child] = []
        self.stopped = 0  # children stopped so far
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> Supervisor:
        self._previous = {s: signal.signal(s, _raise_stop) for s in self.signals}
        return self

    def __exit__(self, *_exc: object) -> None:
        current = _ignore_stop_signals()
        try:
            self._stop_started()
        finally:
            for sig, handler in {**current, **self._previous}.items():
                signal.signal(sig, handler)

    def start(self, child: Child, timeout: float) -> None:
        """Start `child` and wait for its health check (`StartupError` if it fails or exits)."""
        self.start_group([child], timeout)

    def start_group(self, children: list[Child], timeout: float) -> None:
        """Start every child at once, then wait for each one's health check."""
        for child in children:
            child.start()
            self.started.append(child)
        deadline = time.monotonic() + timeout
        for child in children:
            wait_healthy(child, max(1.0, deadline - time.monotonic()))

    def watch(self, poll_seconds: float = 1.0) -> tuple[Child, int]:
        """Block until a started child exits; return it and its exit code."""
        while True:
            for child in self.started:
                code = child.exit_code()
                if code is not None:
                    return child, code
            time.sleep(poll_seconds)

    def stop_all(self) -> None:
        """Stop the started children in reverse order, ignoring SIGINT/SIGTERM meanwhile."""
        current = _ignore_stop_signals()
        try:
            self._stop_started()
        finally:
            for sig, handler in current.items():
                signal.signal(sig, handler)

    def _stop_started(self) -> None:
        while self.started:
            self.started.pop().stop()
            self.stopped += 1


def _ignore_stop_signals() -> dict[signal.Signals, Any]:
    """Ignore SIGINT and SIGTERM (so stopping is never interrupted); returns the handlers."""
    return {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}


def _where_to_talk(settings: Settings, children: list[Child]) -> str:
    lines = ["", "The assistant is running."]
    if any(c.name == "gateway" for c in children):
        lines.append(f"  Web chat:        {settings.public_base_url}/")
    lines.append("  Terminal chat:   .venv/bin/jecbot chat   (in another terminal)")
    rasa_urls = ", ".join(settings.rasa_urls[: settings.rasa_replica_count])
    lines.append(f"  Rasa (internal): {rasa_urls} (signed gateway turns only)")
    lines.append(f"  Logs:            {settings.var_dir / 'log'}/")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _supervise(settings: Settings, children: list[Child], supervisor: Supervisor) -> int:
    try:
        for group in start_groups(children):
            for child in group:
                print(f"Starting {child.name} (log: {child.log_path}) ...", flush=True)
            supervisor.start_group(group, STARTUP_TIMEOUT_SECONDS[group[0].name])
            for child in group:
                where = child.health_url.split("?")[0] or "running"
                print(f"  {child.name} is up: {where}", flush=True)
        print(_where_to_talk(settings, children), flush=True)
        child, code = supervisor.watch()
        print(
            f"\n{child.name} stopped unexpectedly (exit code {code}); "
            f"see {child.log_path}. Stopping the others.",
            file=sys.stderr,
        )
        return 1
    except Stop as stop:
        print(f"\n{stop.args[0]} received: stopping ...", flush=True)
        return 0
    except StartupError as exc:
        print(f"\nCould not start the assistant: {exc}", file=sys.stderr)
        return 1


def run_all(settings: Settings) -> int:
    """Start every process, wait until each is healthy, supervise; 0 on Ctrl-C, 1 on failure."""
    if not RASA_BIN.exists():
        print(f"Rasa is not installed at {RASA_BIN}; run `make setup` first.", file=sys.stderr)
        return 1
    problems = listen_problems(settings) + replica_problems(settings)
    if problems:
        print(f"Configuration error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    endpoints = write_endpoints(settings)
    children = build_children(settings, endpoints)
    supervisor = Supervisor()
    with supervisor:
        code = _supervise(settings, children, supervisor)
    if supervisor.stopped:
        print("All processes stopped.", flush=True)
    return code
