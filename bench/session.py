"""`make bench-session`: one member holding one long session, the cost of a turn as it grows.

Issue 13 item 5: "the cost of a turn must not grow with the length of the conversation (at most
1.5x after 450 turns in one session)". One member talks to our stack (action server + Rasa, as
`make bench` starts them, over the signed gateway channel) for BENCH_SESSION_TURNS turns (460)
in one Rasa session, one turn at a time, cycling through cheap everyday questions (office
hours, thanks, are you a bot, an outage in a town, help); nothing else talks to Rasa. Printed:
p50 and p95 of the 20 turns after 1, 150, 300 and 450 turns, and p50 after 450 / p50 after 1.

BENCH_TRACKER=rasa runs the same with Rasa's own `SQLTrackerStore` (the store before the fix) for
the comparison; the default is the endpoints `jecbot run` writes (`WindowedSQLTrackerStore`).
BENCH_PYSPY=/path/to/py-spy records a flame graph of the Rasa process during the session
(var/bench/session-rasa.svg) and a top-functions summary (var/bench/session-rasa.txt).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import yaml

from bench.config import BENCH_DIR, REQUEST_TIMEOUT_SECONDS, read_config
from bench.run import our_stack, prepare_database, start_bot
from bench.stats import percentile
from bot.chat import send
from bot.runner import Supervisor, build_children, write_endpoints

TEXTS = (
    "what time do yall close",
    "thanks",
    "are you a bot",
    "is there an outage in wrens",
    "help",
)
MARKS = (1, 150, 300, 450)
BLOCK = 20


def _turns() -> int:
    raw = os.environ.get("BENCH_SESSION_TURNS", "")
    return int(raw) if raw.strip().isdigit() else MARKS[-1] + BLOCK


async def hold_session(rasa_url: str, secret_key: str, turns: int) -> list[float]:
    sender = f"bench-long-{uuid.uuid4().hex[:8]}"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    samples: list[float] = []
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for i in range(turns):
            started = time.perf_counter()
            await send(
                session,
                rasa_url,
                sender,
                TEXTS[i % len(TEXTS)],
                secret_key=secret_key,
                metadata={"channel": "web"},
            )
            samples.append((time.perf_counter() - started) * 1000)
            if (i + 1) % 50 == 0:
                print(
                    f"    {i + 1} turns, last p50 {percentile(samples[-50:], 50):.0f} ms",
                    flush=True,
                )
    return samples


def blocks(samples: list[float]) -> dict[int, dict[str, float]]:
    """p50/p95 of the BLOCK turns after each mark (turn numbers count from 1)."""
    out: dict[int, dict[str, float]] = {}
    for mark in MARKS:
        part = samples[mark - 1 : mark - 1 + BLOCK]
        if part:
            out[mark] = {"p50": percentile(part, 50), "p95": percentile(part, 95)}
    return out


# Where a turn's CPU goes, by the outermost frame that matches (file part, function part).
PROFILE_BUCKETS: tuple[tuple[str, str, str], ...] = (
    ("tracker store: load (query + replay)", "tracker_store.py", "retrieve"),
    ("tracker store: save", "tracker_store.py", "save"),
    ("NLU: featurisers + DIET", "rasa/nlu/", ""),
    ("NLU: featurisers + DIET", "processor.py", "parse_message"),
    ("policies: predictions (featurise tracker, TED, rules, memo)", "rasa/core/policies/", ""),
    ("policies: predictions (featurise tracker, TED, rules, memo)", "processor.py", "predict_next"),
    ("action server round trip", "rasa/core/actions/action.py", "run"),
    ("tracker: events, states, copies", "rasa/shared/core/trackers.py", ""),
)


def folded_path(store: str) -> Path:
    return BENCH_DIR / f"session-rasa-{store}.folded"


def where_the_cpu_goes(path: Path) -> dict[str, float]:
    """Shares of py-spy's collapsed samples per bucket (the rest: 'other')."""
    if not path.exists():
        return {}
    totals: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        bucket = "other (HTTP server, JSON, asyncio, logging)"
        for frame in stack.split(";"):
            func, _, where = frame.partition(" (")
            hit = next(
                (
                    name
                    for name, file_part, func_part in PROFILE_BUCKETS
                    if file_part in where and func_part in func
                ),
                None,
            )
            if hit:
                bucket = hit
                break
        totals[bucket] = totals.get(bucket, 0) + int(count)
    grand = sum(totals.values()) or 1
    return {k: v / grand for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _use_rasa_store(endpoints: Path) -> None:
    config = yaml.safe_load(endpoints.read_text())
    config["tracker_store"] = {"type": "SQL", "url": config["tracker_store"]["url"]}
    endpoints.write_text(yaml.safe_dump(config, sort_keys=False))


def main() -> int:
    config = read_config()
    turns = _turns()
    store = "rasa" if os.environ.get("BENCH_TRACKER", "").strip().lower() == "rasa" else "ours"
    pyspy = os.environ.get("BENCH_PYSPY", "").strip()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    with Supervisor(signals=(signal.SIGTERM,)) as supervisor:
        prepare_database(BENCH_DIR / "jec.db", config)
        for stale in BENCH_DIR.glob("rasa-tracker.db*"):
            stale.unlink()
        settings, env = our_stack(config)
        endpoints = write_endpoints(settings)
        if store == "rasa":
            _use_rasa_store(endpoints)
        children = build_children(settings, endpoints, model=config.model, gateway=False)
        print(f"==> our stack, tracker store: {store}", flush=True)
        start_bot(supervisor, children, env)
        spy = None
        if pyspy:
            rasa_pid = next(c for c in children if c.name == "rasa").process.pid
            spy = subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "-p",
                    str(rasa_pid),
                    "-o",
                    str(folded_path(store)),
                    "-f",
                    "raw",
                    "-r",
                    "50",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        print(f"==> one member, {turns} turns in one session", flush=True)
        samples = asyncio.run(hold_session(settings.rasa_url, settings.secret_key, turns))
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        supervisor.stop_all()
    load_after = os.getloadavg()
    figures = blocks(samples)
    print(
        f"\nOne session, tracker store {store} (load average {load_before[0]:.1f} -> "
        f"{load_after[0]:.1f}):"
    )
    print(f"{'after turn':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for mark, row in figures.items():
        print(f"{mark:>10} {row['p50']:>8.1f} {row['p95']:>8.1f}")
    first, last = figures.get(MARKS[0]), figures.get(MARKS[-1])
    ratio = last["p50"] / first["p50"] if first and last else None
    if ratio is not None:
        print(f"p50 after {MARKS[-1]} turns / after 1: {ratio:.2f}x (target <= 1.5x)")
    profile = where_the_cpu_goes(folded_path(store)) if pyspy else {}
    if profile:
        print("\nWhere Rasa's CPU went (py-spy samples, outermost matching frame):")
        for name, share in profile.items():
            print(f"    {share:6.1%}  {name}")
    out = BENCH_DIR / f"session-{store}.json"
    out.write_text(
        json.dumps(
            {
                "store": store,
                "turns": turns,
                "blocks": figures,
                "ratio": ratio,
                "profile": profile,
                "load": [load_before, load_after],
                "samples_ms": samples,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"Figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
