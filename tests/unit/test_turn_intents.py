"""The turn's intent travels from Rasa to the stored reply (for the console's insights page):
our Rasa channel reads it from Rasa's tracker, the gateway's client keeps only a well-formed one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.gateway.rasa_client import normalise_replies


def test_the_gateway_keeps_a_well_formed_intent_and_drops_junk() -> None:
    raw = [
        {
            "text": "Your balance is $142.87.",
            "nlu": {"intent": "check_balance", "confidence": 0.97},
        },
        {"text": "Anything else?", "nlu": "junk"},
        {"text": "Or this?", "nlu": {"intent": "x" * 200, "confidence": 0.5}},
        {"text": "Clamped.", "nlu": {"intent": "pay_bill", "confidence": 7}},
    ]
    assert normalise_replies(raw) == [
        {
            "text": "Your balance is $142.87.",
            "nlu": {"intent": "check_balance", "confidence": 0.97},
        },
        {"text": "Anything else?"},
        {"text": "Or this?"},
        {"text": "Clamped.", "nlu": {"intent": "pay_bill", "confidence": 1.0}},
    ]
    # an intent alone is not a message: nothing to show the member
    assert normalise_replies([{"nlu": {"intent": "x", "confidence": 1}}]) == []


RASA_PYTHON = Path(os.environ.get("RASA_PYTHON") or PROJECT_ROOT / "rasa-env/.venv/bin/python")
LATEST_INTENT = """
import asyncio, types
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_addons.gateway_channel import _latest_intent

async def main():
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker("c1", [])
    tracker.update(UserUttered("whats my balance", {"name": "check_balance", "confidence": 0.97}))
    await store.save(tracker)
    agent = types.SimpleNamespace(tracker_store=store)
    print(await _latest_intent(agent, "c1"), await _latest_intent(agent, "nobody"))

asyncio.run(main())
"""


def test_our_rasa_channel_reads_the_turns_intent_from_rasas_tracker() -> None:
    out = subprocess.run(
        [str(RASA_PYTHON), "-c", LATEST_INTENT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == "{'intent': 'check_balance', 'confidence': 0.97} None"
