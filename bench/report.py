"""Reporting: the per-category table, throughput, the DB-backed minus utter-only difference
against the budget (printed, never asserted), what the model archive says about its training,
and the figures saved to var/bench/last.json."""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.config import BUDGET_MS, BenchConfig
from bench.drive import Sample
from bench.scenarios import BARE_UTTER, CATEGORY_ORDER, DB_BACKED, OUR_UTTER
from bench.stats import Summary, format_table, messages_per_second, summarise

MODEL_NAME_TIME = re.compile(r"(\d{8}-\d{6})-")
DB_ALL = "ours: DB-backed (all)"


@dataclass(frozen=True)
class BotResult:
    """One bot's timed phase: every turn's sample, its wall time and what went unexpectedly."""

    samples: list[Sample]
    wall_s: float
    nlu_misses: list[str]
    unexpected_examples: list[str]

    @property
    def messages_per_second(self) -> float:
        return messages_per_second(len(self.samples), self.wall_s)


def our_training_info(model: Path, make_started: float | None) -> dict[str, object]:
    """What the newest model says about its training: Rasa names the archive with the local time
    training began and writes it when done, so mtime minus that time is the training proper
    (without Rasa's start-up and data loading, which `since_make_started_s` includes)."""
    archive = (
        model
        if model.is_file()
        else max(model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, default=None)
    )
    if archive is None:
        return {"model": None}
    mtime = archive.stat().st_mtime
    info: dict[str, object] = {"model": archive.name, "trained_this_run": False}
    match = MODEL_NAME_TIME.match(archive.name)
    if match:
        began = time.mktime(time.strptime(match.group(1), "%Y%m%d-%H%M%S"))
        info["training_s"] = round(mtime - began, 1)
    if make_started is not None and mtime >= make_started:
        info["trained_this_run"] = True
        info["since_make_started_s"] = round(mtime - make_started, 1)
    return info


def summarise_samples(samples: list[Sample]) -> list[Summary]:
    """One row per category in CATEGORY_ORDER, plus every DB-backed turn together."""
    by_category: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_category[sample.category].append(sample)
    db = [s for s in samples if s.category in DB_BACKED]
    rows = [
        summarise(c, [s.ms for s in by_category[c]], sum(not s.ok for s in by_category[c]))
        for c in CATEGORY_ORDER
        if by_category.get(c)
    ]
    if db:
        rows.append(summarise(DB_ALL, [s.ms for s in db], sum(not s.ok for s in db)))
    return rows


def print_bot(result: BotResult) -> None:
    """The table and throughput of one bot, printed as soon as its timed phase is over."""
    print(format_table(summarise_samples(result.samples)), flush=True)
    print(f"    {result.messages_per_second:.2f} messages/s\n", flush=True)


def report(
    results: dict[str, BotResult],
    training: dict[str, object],
    bare_training_s: float | None,
    config: BenchConfig,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, object]:
    """Print the figures of both bots together and return them for var/bench/last.json."""
    samples = [s for r in results.values() for s in r.samples]
    rows = summarise_samples(samples)
    by_name = {row.category: row for row in rows}
    utter = by_name.get(OUR_UTTER)
    db_all = by_name.get(DB_ALL)
    differences = {
        name: round(by_name[name].p50_ms - utter.p50_ms, 1)
        for name in (*DB_BACKED, DB_ALL)
        if utter and name in by_name
    }
    print()
    print(format_table(rows))
    print()
    for name, result in results.items():
        print(
            f"{name:<12} {result.messages_per_second:>7.2f} messages/s "
            f"({len(result.samples)} turns in {result.wall_s:.1f}s, "
            f"{config.members} concurrent members)"
        )
    if utter and db_all:
        print(
            f"\nDB-backed p50 minus utter-only p50: {differences[DB_ALL]:+.1f} ms "
            f"(budget {BUDGET_MS:.0f} ms; printed, not asserted)"
        )
        for name in DB_BACKED:
            if name in differences:
                print(f"  {name}: {differences[name]:+.1f} ms")
    bare = by_name.get(BARE_UTTER)
    if bare and utter:
        print(f"Our utter-only p50 minus the bare bot's p50: {utter.p50_ms - bare.p50_ms:+.1f} ms")
    if training.get("trained_this_run"):
        print(
            f"\nOur model was trained by this `make bench`: {training.get('training_s')}s of "
            f"training proper, {training.get('since_make_started_s')}s since `make bench` began "
            f"(includes setup and db steps). Rasa reuses cached components whose inputs did not "
            f"change (.rasa/cache), so a partial retrain is faster than a full one."
        )
    elif training.get("model"):
        print(
            f"\nOur model ({training['model']}) was reused (not trained by this run); its "
            f"training took {training.get('training_s')}s when it was trained"
        )
    if bare_training_s is not None:
        print(f"Reference bot trained in {bare_training_s:.0f}s")
    print(
        f"Load average before/after: {load[0][0]:.1f} / {load[1][0]:.1f} on {os.cpu_count()} CPUs "
        "(figures are pessimistic on a busy shared machine)"
    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": config.members,
        "rounds": config.rounds,
        "cpus": os.cpu_count(),
        "load_average_before": load[0],
        "load_average_after": load[1],
        "categories": [row.as_dict() for row in rows],
        "messages_per_second": {n: r.messages_per_second for n, r in results.items()},
        "timed_phase_seconds": {n: round(r.wall_s, 1) for n, r in results.items()},
        "nlu_misses": {n: r.nlu_misses for n, r in results.items()},
        "db_p50_minus_utter_p50_ms": differences,
        "budget_ms": BUDGET_MS,
        "our_model_training": training,
        "bare_training_s": None if bare_training_s is None else round(bare_training_s, 1),
    }
