"""The action server can start: rasa-sdk registers every action of `bot.actions`, and every custom
action the domain names is served by it. (A failure here is what would stop `jecbot run`.)"""

from __future__ import annotations

import yaml
from rasa_sdk.executor import ActionExecutor

from bot.config import PROJECT_ROOT


def _registered() -> set[str]:
    executor = ActionExecutor()
    executor.register_package("bot.actions")  # exactly what `python -m rasa_sdk --actions` does
    return set(executor.actions)


def _domain_custom_actions() -> set[str]:
    names: set[str] = set()
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        for entry in (yaml.safe_load(path.read_text()) or {}).get("actions") or []:
            name = entry if isinstance(entry, str) else next(iter(entry))
            if name.startswith(("action_", "validate_")):
                names.add(name)
    return names


def test_action_server_registers_the_skeleton_actions() -> None:
    assert {
        "action_greet",
        "action_help",
        "action_office_hours",
        "action_outage_status",
    } <= _registered()


def test_every_custom_action_in_the_domain_is_served() -> None:
    missing = _domain_custom_actions() - _registered()
    assert not missing, f"domain names actions the action server does not serve: {sorted(missing)}"
