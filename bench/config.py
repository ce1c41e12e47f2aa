"""What a `make bench` run uses: its folders, the frozen clock, the Rasa environment variables,
and the figures asked for in the environment (BENCH_MEMBERS, BENCH_ROUNDS, BENCH_MODEL)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.profile import load_profile

# BENCH_DIR=... runs a second benchmark beside one already running (its own databases and logs).
BENCH_DIR = Path(os.environ.get("BENCH_DIR") or PROJECT_ROOT / "var" / "bench").resolve()
BARE_DIR = BENCH_DIR / "bare"
LOG_DIR = BENCH_DIR / "log"
PROFILE_PATH = Settings().coop_profile  # the default co-op profile, as `jecbot` uses it
DEMO_MEMBERS = 300
REQUEST_TIMEOUT_SECONDS = 120.0  # one turn; generous because the machine may be very busy
BUDGET_MS = 30.0
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


@dataclass(frozen=True)
class BenchConfig:
    members: int
    rounds: int
    model: Path
    make_started: float | None  # epoch seconds when `make bench` began, to tell if it trained
    fake_now: datetime  # the action server's frozen clock


def fake_now(profile_path: Path = PROFILE_PATH) -> datetime:
    """Tuesday 2026-12-01, 10 AM in the co-op's time zone: offices open, answers fixed."""
    return datetime(2026, 12, 1, 10, 0, tzinfo=load_profile(profile_path).timezone)


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, not {raw!r}")
    return value


def env_number(name: str, default: float, *, zero_allowed: bool = False) -> float:
    """A number from the environment (BENCH_RATE=...), or `default` when unset; positive unless
    `zero_allowed`. A bad value stops the run with a message, not a traceback."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from None
    if value < 0 or (value == 0 and not zero_allowed):
        raise SystemExit(f"{name} must be positive, not {raw!r}")
    return value


def read_config() -> BenchConfig:
    started = os.environ.get("BENCH_MAKE_STARTED", "")
    model = Path(os.environ.get("BENCH_MODEL") or PROJECT_ROOT / "models")
    return BenchConfig(
        members=_positive_int("BENCH_MEMBERS", 10),
        rounds=_positive_int("BENCH_ROUNDS", 3),
        model=model if model.is_absolute() else PROJECT_ROOT / model,
        make_started=float(started) if started.strip().isdigit() else None,
        fake_now=fake_now(),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
