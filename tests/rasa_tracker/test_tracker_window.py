"""Item 5: a turn's cost does not grow with the session (rasa_addons/tracker_store.py).

One member holds a 300-turn session (slot sets, two forms, fallbacks whose reverted slot must
not come back, the bot paused for an agent, resumed, paused again), each turn read from and
written to `WindowedSQLTrackerStore`, in the Rasa environment (tests/rasa_tracker/window_check.py).
Rasa's own `SQLTrackerStore`, reading the same table in full, is the reference: the windowed
tracker hands the policies and actions the same slots, form, pause and latest events, every event
is stored exactly once, and what a turn reads stays bounded while the session grows.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from tests.rasa_tracker.rasa_env import script_command, script_env

pytestmark = [pytest.mark.rasa]

WINDOW = 40


def run_check(tmp_path: Path, turns: int, new_session_at: int = -1) -> dict:
    out = subprocess.run(
        script_command(
            "window_check.py",
            str(PROJECT_ROOT / "domain"),
            str(tmp_path / "tracker.db"),
            str(turns),
            str(WINDOW),
            str(new_session_at),
        ),
        cwd=PROJECT_ROOT,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_long_session_reads_a_bounded_window_with_the_same_state_as_rasas_store(
    tmp_path: Path,
) -> None:
    result = run_check(tmp_path, turns=300)

    assert result["mismatches"] == []
    # Every event written is stored once (no loss, no duplicate from the windowed save).
    assert (
        result["stored"]
        == result["written"]
        == result["full_events"]
        == result["all_sessions_events"]
    )
    # What a turn reads: the snapshot's few events plus at most 2 x WINDOW, not the session.
    assert result["max_windowed_events"] <= 2 * WINDOW + 40 < result["full_events"] // 10
    # The state at the end, as the member left it: the ZIP of the last real answer (turn 294,
    # not the reverted 99999 of the fallbacks), the callback form, paused for the agent.
    assert result["final_slots"]["zip_code"] == str(30000 + 294)
    assert result["final_loop"] == "callback_form"
    assert result["final_paused"] is True


def test_a_new_session_after_the_snapshot_starts_from_rasas_own_read(tmp_path: Path) -> None:
    """The member comes back after the session expired (turn 290 of 300): the old session's
    snapshot is not used; the new session's tracker is Rasa's: the form and the pause are gone
    with the old session, and the ZIP is the one given in the new one (turn 294)."""
    result = run_check(tmp_path, turns=300, new_session_at=290)

    assert result["mismatches"] == []
    assert result["stored"] == result["written"] == result["all_sessions_events"]
    assert result["windowed_events"] == result["full_events"] < 100
    assert result["final_loop"] is None and result["final_paused"] is False
    assert result["final_slots"]["zip_code"] == str(30000 + 294)
