"""Reading Rasa NLU YAML (training data and the held-out split) without importing Rasa.

The app environment never imports `rasa`, so these helpers parse the YAML themselves: enough
to list examples per intent, strip entity annotations and read the regexes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DIR = ROOT / "data" / "nlu"
HELDOUT_FILE = ROOT / "tests" / "nlu" / "heldout.yml"
# Every held-out split, none ever trained on: the project's own, one written blind outside the
# project, one written from the journey list and member descriptions alone.
INDEPENDENT_FILE = ROOT / "tests" / "nlu" / "independent.yml"
PERSONAS_FILE = ROOT / "tests" / "nlu" / "personas.yml"
HELDOUT_SPLITS = (HELDOUT_FILE, INDEPENDENT_FILE, PERSONAS_FILE)
INTENTS_DOMAIN = ROOT / "domain" / "intents.yml"

# [text](entity), [text](entity:value) or [text]{"entity": ...}
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    """The sentence a member would type: entity annotations removed."""
    return _ANNOTATION.sub(r"\1", example).strip()


def normalised(example: str) -> str:
    """Case- and whitespace-insensitive form used to compare sentences."""
    return " ".join(plain_text(example).lower().split())


def _items(path: Path) -> list[dict]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []


def _examples(block: str) -> list[str]:
    return [
        line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")
    ]


def examples_by_intent(paths: list[Path]) -> dict[str, list[str]]:
    """Intent name -> raw examples (annotations kept) across the given files."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for item in _items(path):
            if "intent" in item:
                found[item["intent"]].extend(_examples(item.get("examples", "")))
    return dict(found)


def training_files() -> list[Path]:
    return sorted(TRAINING_DIR.glob("*.yml"))


def regexes(paths: list[Path]) -> dict[str, list[str]]:
    """Regex name -> patterns, as RegexEntityExtractor and RegexFeaturizer see them."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for item in _items(path):
            if "regex" in item:
                found[item["regex"]].extend(_examples(item.get("examples", "")))
    return dict(found)


def pattern_names(paths: list[Path]) -> set[str]:
    """Names of all regexes and lookup tables (entity names for RegexEntityExtractor)."""
    names: set[str] = set()
    for path in paths:
        for item in _items(path):
            names.update(item[key] for key in ("regex", "lookup") if key in item)
    return names


def domain_entities() -> list[str]:
    return list(
        (yaml.safe_load(INTENTS_DOMAIN.read_text(encoding="utf-8")) or {}).get("entities", [])
    )


def domain_intents() -> list[str]:
    return list(
        (yaml.safe_load(INTENTS_DOMAIN.read_text(encoding="utf-8")) or {}).get("intents", [])
    )
