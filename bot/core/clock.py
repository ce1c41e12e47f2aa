"""One injectable clock per process: `Clock` is a function returning an aware `datetime` (UTC).

Nothing reads `datetime.now()` directly; processes build their clock once with
`clock_from_env()` and pass it down.

Tests only: `JEC_FAKE_NOW` (an ISO timestamp with a UTC offset, e.g.
`2026-12-01T10:00:00-05:00`) freezes the clock; `JEC_FAKE_NOW_FILE` names a file holding such a
timestamp, read again on every call, so an end-to-end test can move the clock of running
processes (office hours on a holiday, say) without restarting them. While the file is missing or
empty the clock falls back to `JEC_FAKE_NOW`, then to the real time. Never set them in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from bot.core.errors import ConfigError

FAKE_NOW_ENV = "JEC_FAKE_NOW"  # tests only: freezes the clock
FAKE_NOW_FILE_ENV = "JEC_FAKE_NOW_FILE"  # tests only: a file holding the time, re-read

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stuck at `at` (must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware datetime")
    return lambda: at


def _parse_fake_now(raw: str, source: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{source} must be an ISO timestamp, not {raw!r}") from None
    if at.tzinfo is None:
        raise ConfigError(f"{source} must include a UTC offset, e.g. 2026-12-01T10:00:00-05:00")
    return at


def file_clock(path: Path, fallback: Clock) -> Clock:
    """TESTS ONLY: a clock that reads an ISO timestamp from `path` on every call (a tiny local
    file, so the blocking read is negligible; never used in production). A missing or empty
    file means `fallback`; a malformed one raises ConfigError, so a broken test setup is loud."""

    def now() -> datetime:
        try:
            raw = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raw = ""
        return _parse_fake_now(raw, f"{FAKE_NOW_FILE_ENV} ({path})") if raw else fallback()

    return now


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Clock:
    """The system clock, or the frozen one named by JEC_FAKE_NOW, or the settable one in the file
    named by JEC_FAKE_NOW_FILE (end-to-end tests only)."""
    raw = environ.get(FAKE_NOW_ENV, "").strip()
    clock = fixed_clock(_parse_fake_now(raw, FAKE_NOW_ENV)) if raw else system_clock
    file_name = environ.get(FAKE_NOW_FILE_ENV, "").strip()
    return file_clock(Path(file_name), clock) if file_name else clock
