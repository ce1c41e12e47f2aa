"""Every test story in tests/stories/*.yml, through the trained model (`rasa test`).

The stories carry the members' own words (`user:`), so this checks the NLU and the dialogue
policies together: each story must be predicted exactly (`--fail-on-prediction-errors`). Custom
actions are not called here (the stories list the slots they set); tests/actions and tests/e2e
cover the actions themselves.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / "rasa-env" / ".venv" / "bin" / "rasa"
STORIES = ROOT / "tests" / "stories"


def _latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model under models/: run `make train` (make test does it first)")
    return models[-1]


def test_every_journey_has_test_stories() -> None:
    files = sorted(p.name for p in STORIES.glob("test_*.yml"))
    for journey in [
        "welcome",
        "identity",
        "balance",
        "payment",
        "draft",
        "outage",
        "usage",
        "history",
        "settings",
        "service_request",
        "info",
        "handoff",
        "recovery",
    ]:
        assert f"test_{journey}.yml" in files, f"no test stories for the {journey} journey"


@pytest.mark.rasa
@pytest.mark.slow
def test_stories_are_predicted_exactly(tmp_path: Path) -> None:
    model = _latest_model()
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    run = subprocess.run(
        [
            str(RASA),
            "test",
            "core",
            "--model",
            str(model),
            "--stories",
            str(STORIES),
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path),
        ],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    summary = "\n".join(
        line
        for line in run.stdout.splitlines()
        if "Correct:" in line
        or "F1-Score" in line
        or "Accuracy" in line
        or "stories" in line.lower()
    )
    print(summary)
    assert run.returncode == 0, (
        f"rasa test core found prediction errors (exit {run.returncode}).\n{summary}\n"
        f"{details[-6000:]}\n{run.stderr[-3000:]}"
    )
