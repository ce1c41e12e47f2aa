"""Fast checks on the NLU data: the held-out split stays held out, every intent is covered,
and the digit-shaped entities can never be mistaken for each other."""

from __future__ import annotations

import re

import pytest

from tests.nlu.nlu_data import (
    HELDOUT_FILE,
    HELDOUT_SPLITS,
    domain_intents,
    examples_by_intent,
    normalised,
    regexes,
    training_files,
)


def test_no_heldout_sentence_is_in_the_training_data() -> None:
    """The project's own split was written next to the training data, so any sentence of it in
    data/nlu is a copy. (The two blind splits were written apart from data/nlu; short messages
    such as "yes" or "pay bill" naturally appear in both, so the accuracy test reports their
    figures on all messages and on the ones absent from the training data.)"""
    training = {normalised(e) for exs in examples_by_intent(training_files()).values() for e in exs}
    heldout = [e for exs in examples_by_intent([HELDOUT_FILE]).values() for e in exs]
    leaked = sorted({normalised(e) for e in heldout} & training)
    assert not leaked, f"held-out sentences copied into data/nlu: {leaked}"


@pytest.mark.parametrize("split", HELDOUT_SPLITS, ids=lambda p: p.name)
def test_heldout_file_lives_outside_the_training_data(split) -> None:
    assert "data" not in split.relative_to(split.parents[2]).parts
    assert split.exists()


def test_every_intent_has_training_and_heldout_examples() -> None:
    intents = domain_intents()
    training = examples_by_intent(training_files())
    heldout = examples_by_intent([HELDOUT_FILE])
    assert len(intents) == len(set(intents)), "an intent is declared twice"
    missing_train = [i for i in intents if len(training.get(i, [])) < 10]
    missing_test = [i for i in intents if len(heldout.get(i, [])) < 3]
    assert not missing_train, f"intents with fewer than 10 training examples: {missing_train}"
    assert not missing_test, f"intents with fewer than 3 held-out examples: {missing_test}"
    undeclared = sorted((set(training) | set(heldout)) - set(intents))
    assert not undeclared, f"examples for intents not in domain/intents.yml: {undeclared}"


@pytest.mark.parametrize("split", HELDOUT_SPLITS, ids=lambda p: p.name)
def test_every_heldout_split_covers_every_intent(split) -> None:
    intents = domain_intents()
    found = examples_by_intent([split])
    thin = [i for i in intents if len(found.get(i, [])) < 3]
    assert not thin, f"{split.name}: intents with fewer than 3 examples: {thin}"
    undeclared = sorted(set(found) - set(intents))
    assert not undeclared, f"{split.name}: examples for intents not in the domain: {undeclared}"


def _extract(text: str) -> dict[str, list[str]]:
    """What RegexEntityExtractor would find (it matches case-insensitively, no added \\b)."""
    found: dict[str, list[str]] = {}
    for name, patterns in regexes(training_files()).items():
        hits = [m.group(0) for p in patterns for m in re.finditer(p, text, re.IGNORECASE)]
        if hits:
            found[name] = hits
    entity_regexes = {"account_number", "zip_code", "otp_code", "phone", "email", "reference"}
    return {k: v for k, v in found.items() if k in entity_regexes}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000004821", {"account_number": ["1000004821"]}),
        ("my account is 1000004821.", {"account_number": ["1000004821"]}),
        ("call me at 706-555-0101", {"phone": ["706-555-0101"]}),
        ("(706) 555-0104", {"phone": ["(706) 555-0104"]}),
        ("706.555.0133", {"phone": ["706.555.0133"]}),
        ("+1 706 555 0155", {"phone": ["+1 706 555 0155"]}),
        ("+17065550101", {"phone": ["+17065550101"]}),
        ("30833", {"zip_code": ["30833"]}),
        ("zip 30824-1142", {"zip_code": ["30824-1142"]}),
        ("482913", {"otp_code": ["482913"]}),
        ("code 000417", {"otp_code": ["000417"]}),
        ("acct 1000004821 zip 30833", {"account_number": ["1000004821"], "zip_code": ["30833"]}),
        ("status of R-20331", {"reference": ["R-20331"]}),
        ("confirmation P-7Q2K9D", {"reference": ["P-7Q2K9D"]}),
        ("dana.whitfield@example.com", {"email": ["dana.whitfield@example.com"]}),
        ("pay $45.20", {}),
        ("412 mill st", {}),
        ("i want e-bills", {}),
        ("12345678901", {}),  # 11 digits: neither an account nor a code
        ("4111 1111 1111 1111", {}),  # a card number is none of these
    ],
)
def test_digit_entities_are_never_confused(text: str, expected: dict[str, list[str]]) -> None:
    assert _extract(text) == expected
