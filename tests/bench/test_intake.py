"""`make bench-intake` for real, in miniature: the gateway process acknowledges every signed text
and its workers take the turns to the stand-in assistant (speed is printed, never asserted)."""

from __future__ import annotations

import pytest

from bench import intake

pytestmark = pytest.mark.slow


async def test_every_text_of_a_small_burst_is_acknowledged_and_its_turns_reach_the_assistant(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(intake, "BENCH_DIR", tmp_path)
    config = intake.IntakeConfig(
        texts=12, rate=20, turn_seconds=0.05, assistant_turns=2, hogs=0, nice=10
    )

    figures = await intake.one_run(config, "small burst", hogs=0, nice=0)

    assert figures["http_statuses"] == {200: 12}
    assert figures["turns_answered_meanwhile"] >= 1
    assert figures["ack_p50_ms"] <= figures["ack_p99_ms"]
    assert (tmp_path / "intake" / "small burst" / "intake.db").exists()
