"""Run a script of this folder in the Rasa environment (Python 3.10), as these tests do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.runner import RASA_BIN, RASA_PYTHON

HERE = Path(__file__).parent


def script_command(script: str, *args: str) -> list[str]:
    """The command line that runs `script` (a file beside this one) with `args` under Rasa."""
    if not RASA_BIN.exists():
        pytest.fail(f"Rasa is not installed at {RASA_BIN}; run `make setup`")
    return [str(RASA_PYTHON), "-W", "ignore", str(HERE / script), *args]


def script_env() -> dict[str, str]:
    """Its environment: our `rasa_addons` importable, no telemetry, no SQLAlchemy 2.0 nagging."""
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
