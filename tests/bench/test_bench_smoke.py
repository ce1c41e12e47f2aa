"""The benchmark's pure parts: percentile math, the table, and the shape of the scripted
conversations (no servers; `make bench` itself is run by hand and asserts nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.report import MODEL_NAME_TIME, our_training_info
from bench.scenarios import (
    BARE_UTTER,
    CATEGORY_ORDER,
    DB_BACKED,
    OUR_PROFILE,
    OUR_UTTER,
    DemoAccount,
    Turn,
    bare_script,
    our_script,
    reply_matches,
)
from bench.stats import format_table, messages_per_second, percentile, summarise
from bot.config import PROJECT_ROOT

ACCOUNT = DemoAccount("1000004821", "30833")


# ---------------------------------------------------------------------------- percentiles


def test_median_of_an_odd_sample_is_its_middle_value() -> None:
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0


def test_median_of_an_even_sample_is_the_mean_of_the_middle_two() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0


def test_p95_interpolates_between_closest_ranks_like_numpy() -> None:
    # numpy.percentile(range(1, 101), 95) == 95.05
    assert percentile([float(v) for v in range(1, 101)], 95) == pytest.approx(95.05)


def test_p0_and_p100_are_the_extremes_and_one_value_is_every_percentile() -> None:
    assert percentile([5.0, 1.0, 9.0], 0) == 1.0
    assert percentile([5.0, 1.0, 9.0], 100) == 9.0
    assert percentile([7.0], 95) == 7.0


def test_an_empty_sample_or_a_percentile_outside_0_100_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_row_and_table_show_count_p50_p95_max_and_unexpected_replies() -> None:
    row = summarise(OUR_UTTER, [10.0, 20.0, 30.0, 40.0], unexpected=1)

    assert (row.count, row.p50_ms, row.max_ms, row.unexpected) == (4, 25.0, 40.0, 1)
    table = format_table([row])
    assert "p50 ms" in table.splitlines()[0]
    assert table.splitlines()[-1].split()[-5:] == ["4", "25.0", "38.5", "40.0", "1"]


def test_messages_per_second_is_turns_over_wall_time() -> None:
    assert messages_per_second(300, 60.0) == 5.0
    assert messages_per_second(0, 0.0) == 0.0


# ---------------------------------------------------------------------------- scripts


def _rule_actions() -> dict[str, list[str]]:
    """intent -> actions of the unconditioned one-intent rules in data/rules/*.yml."""
    found: dict[str, list[str]] = {}
    for path in sorted((PROJECT_ROOT / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text()).get("rules") or []:
            steps = rule.get("steps") or []
            if rule.get("condition") or not steps or "intent" not in steps[0]:
                continue
            if steps[0].get("entities"):
                continue
            found.setdefault(steps[0]["intent"], [s["action"] for s in steps[1:] if "action" in s])
    return found


def test_our_utter_only_turns_are_plain_responses_in_the_rules() -> None:
    rules = _rule_actions()
    for turn in our_script(ACCOUNT, "wrens"):
        if turn.category == OUR_UTTER:
            assert rules[turn.intent], turn.intent
            assert all(a.startswith("utter_") for a in rules[turn.intent]), (
                turn.intent,
                rules[turn.intent],
            )
        if turn.category == OUR_PROFILE:
            assert rules[turn.intent][0].startswith("action_"), turn.intent


def test_every_scripted_intent_is_declared_in_our_domain() -> None:
    intents = set(yaml.safe_load((PROJECT_ROOT / "domain" / "intents.yml").read_text())["intents"])
    assert {t.intent for t in our_script(ACCOUNT, "wrens")} <= intents


def test_a_conversation_mixes_every_category_and_verifies_with_the_given_account() -> None:
    script = our_script(ACCOUNT, "louisville")
    categories = {t.category for t in script}

    assert {OUR_UTTER, OUR_PROFILE, *DB_BACKED} <= categories
    texts = [t.text for t in script]
    assert texts.index("1000004821") + 1 == texts.index("30833")  # account number, then its ZIP
    assert "is there an outage in louisville" in texts
    assert all(t.category in CATEGORY_ORDER for t in script)


def test_the_bare_bots_turns_are_all_utter_only_and_use_its_own_intents() -> None:
    script = bare_script()
    assert {t.category for t in script} == {BARE_UTTER}
    assert {t.intent for t in script} <= {
        "greet",
        "goodbye",
        "affirm",
        "deny",
        "mood_great",
        "mood_unhappy",
        "bot_challenge",
    }


def test_a_reply_matches_when_a_text_contains_the_phrase_case_insensitively() -> None:
    turn = Turn("bye", "goodbye", OUR_UTTER, "take care")

    assert reply_matches(turn, [{"text": "Thanks for contacting us. Take care!"}])
    assert not reply_matches(turn, [{"text": "Sorry, I didn't quite get that."}])
    assert not reply_matches(turn, [])  # no answer at all is never a match


# ---------------------------------------------------------------------------- training figure


def test_training_time_is_read_from_the_models_name_and_write_time(tmp_path: Path) -> None:
    import os
    import time

    archive = tmp_path / "20261128-110854-latent-grade.tar.gz"
    archive.write_bytes(b"")
    began = time.mktime(time.strptime("20261128-110854", "%Y%m%d-%H%M%S"))
    os.utime(archive, (began + 200, began + 200))

    info = our_training_info(tmp_path, make_started=began - 30)

    assert MODEL_NAME_TIME.match(archive.name)
    assert info["training_s"] == 200.0
    assert info["trained_this_run"] is True
    assert info["since_make_started_s"] == 230.0
    assert our_training_info(tmp_path, make_started=began + 500)["trained_this_run"] is False
