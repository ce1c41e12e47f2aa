"""The test-only settable clock of the action server (JEC_FAKE_NOW_FILE), used by the end-to-end
tests to move a running action server's clock (a holiday, after hours) without restarting Rasa."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError
from bot.core.clock import clock_from_env, system_clock

EASTERN = ZoneInfo("America/New_York")
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=EASTERN)
CHRISTMAS_10AM = datetime(2026, 12, 25, 10, 0, tzinfo=EASTERN)


def test_the_file_is_read_on_every_call_so_a_test_can_move_the_clock(tmp_path) -> None:
    path = tmp_path / "now"
    clock = clock_from_env(
        {"JEC_FAKE_NOW_FILE": str(path), "JEC_FAKE_NOW": TUESDAY_10AM.isoformat()}
    )

    assert clock() == TUESDAY_10AM  # no file yet: JEC_FAKE_NOW
    path.write_text(CHRISTMAS_10AM.isoformat())
    assert clock() == CHRISTMAS_10AM
    path.write_text("")
    assert clock() == TUESDAY_10AM  # emptied: back to JEC_FAKE_NOW


def test_without_any_fake_the_file_clock_falls_back_to_the_real_time(tmp_path) -> None:
    clock = clock_from_env({"JEC_FAKE_NOW_FILE": str(tmp_path / "missing")})

    assert clock() is not None and clock().tzinfo is not None
    assert clock_from_env({}) is system_clock


def test_a_timestamp_without_a_zone_in_the_file_is_refused_loudly(tmp_path) -> None:
    path = tmp_path / "now"
    path.write_text("2026-12-25T10:00:00")
    clock = clock_from_env({"JEC_FAKE_NOW_FILE": str(path)})

    with pytest.raises(ConfigError, match="UTC offset"):
        clock()
