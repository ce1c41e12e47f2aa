"""`make bench`: latency of our assistant next to a bare `rasa init` bot, on this machine, now.

Steps (each process this starts is stopped in a `finally`, also on Ctrl-C, SIGTERM or a failure):
1. the bare bot (var/bench/bare, created once with `rasa init --no-prompt`; retrained only when its
   files' fingerprint changes) is started with the same Rasa environment and the same kind of SQL
   tracker store as ours, so the comparison is about the model and the actions;
2. it is checked (/model/parse: every scripted sentence gets its intended intent), warmed up with
   one unmeasured conversation, then BENCH_MEMBERS concurrent members each hold BENCH_ROUNDS
   scripted conversations over the REST channel; then it is stopped;
3. the same for our stack (action server + Rasa on the newest model in models/, or BENCH_MODEL),
   against a throwaway SQLite database in var/bench/ with ~300 demo members and the action server's
   clock frozen (JEC_FAKE_NOW) at a Tuesday 10 AM Eastern, so office-hours answers are fixed;
4. the figures are printed (and written to var/bench/last.json): count, p50, p95 and max latency
   per turn category, messages per second per bot, the database-backed p50 minus the utter-only
   p50 (the issue's budget is 30 ms: printed, never asserted), and how long training our model
   took when `make bench` trained it.

The figures are wall-clock latencies seen by a REST client on loopback. The machine may be shared;
the load average is recorded with the figures.

This is a supervisor and a load generator, not a server: blocking calls outside the event loop are
deliberate (process start/stop, the demo data load); the timed phase is all aiohttp.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from bench.scenarios import (
    BARE_UTTER,
    CATEGORY_ORDER,
    DB_BACKED,
    OUR_UTTER,
    OUTAGE_TOWNS,
    DemoAccount,
    Turn,
    bare_script,
    our_script,
    reply_matches,
)
from bench.stats import Summary, format_table, messages_per_second, summarise
from bot.chat import send
from bot.config import PROJECT_ROOT, Settings
from bot.runner import (
    RASA_BIN,
    STARTUP_TIMEOUT_SECONDS,
    Child,
    StartupError,
    build_children,
    wait_healthy,
    write_endpoints,
)

BENCH_DIR = PROJECT_ROOT / "var" / "bench"
BARE_DIR = BENCH_DIR / "bare"
LOG_DIR = BENCH_DIR / "log"
FAKE_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday
DEMO_MEMBERS = 300
REQUEST_TIMEOUT_SECONDS = 120.0  # one turn; generous because the machine may be very busy
BUDGET_MS = 30.0
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}
MODEL_NAME_TIME = re.compile(r"(\d{8}-\d{6})-")


@dataclass(frozen=True)
class BenchConfig:
    members: int
    rounds: int
    model: Path
    make_started: float | None  # epoch seconds when `make bench` began, to tell if it trained


@dataclass(frozen=True)
class Sample:
    category: str
    ms: float
    ok: bool


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, not {raw!r}")
    return value


def read_config() -> BenchConfig:
    started = os.environ.get("BENCH_MAKE_STARTED", "")
    model = Path(os.environ.get("BENCH_MODEL") or PROJECT_ROOT / "models")
    return BenchConfig(
        members=_positive_int("BENCH_MEMBERS", 10),
        rounds=_positive_int("BENCH_ROUNDS", 3),
        model=model if model.is_absolute() else PROJECT_ROOT / model,
        make_started=float(started) if started.strip().isdigit() else None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- models


def _fingerprint(folder: Path) -> str:
    """A hash of the bare bot's training inputs: retrain only when one changes."""
    digest = hashlib.sha256()
    inputs = [
        folder / "config.yml",
        folder / "domain.yml",
        *sorted((folder / "data").rglob("*.yml")),
    ]
    for path in inputs:
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def _run_logged(argv: list[str], cwd: Path, log_name: str) -> float:
    """Run a Rasa command to completion with its output in var/bench/log; return seconds taken."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / log_name
    started = time.monotonic()
    with open(log_path, "ab") as log:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **RASA_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if result.returncode != 0:
        raise StartupError(
            f"{' '.join(argv[:3])} failed (exit {result.returncode}); see {log_path}"
        )
    return time.monotonic() - started


def ensure_bare_bot() -> float | None:
    """Create (once) and train (when changed) the reference bot; seconds spent training or None."""
    marker = BARE_DIR / ".bench-fingerprint"
    models = BARE_DIR / "models"
    if not (BARE_DIR / "config.yml").exists():
        print(
            "==> Creating the reference bot with `rasa init --no-prompt` (trains it once)",
            flush=True,
        )
        BARE_DIR.mkdir(parents=True, exist_ok=True)
        seconds = _run_logged(
            [str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(BARE_DIR)],
            PROJECT_ROOT,
            "bare-init.log",
        )
        marker.write_text(_fingerprint(BARE_DIR))
        return seconds
    if (
        any(models.glob("*.tar.gz"))
        and marker.exists()
        and marker.read_text() == _fingerprint(BARE_DIR)
    ):
        print("==> Reference bot unchanged: reusing its model", flush=True)
        return None
    print("==> Training the reference bot", flush=True)
    seconds = _run_logged(
        [str(RASA_BIN), "train", "--out", "models", "--quiet"], BARE_DIR, "bare-train.log"
    )
    marker.write_text(_fingerprint(BARE_DIR))
    return seconds


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


# ---------------------------------------------------------------------------- database


def prepare_database(path: Path) -> list[DemoAccount]:
    """A fresh demo database; the active accounts members will verify with."""
    from sqlalchemy import select

    from bot.demo import generate_demo_data
    from bot.store.db import make_sync_engine
    from bot.store.models import Account

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    print(f"==> Demo database with {DEMO_MEMBERS} members: {path}", flush=True)
    generate_demo_data(url, members=DEMO_MEMBERS, usage_days=30, now=FAKE_NOW)
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Account.account_number, Account.service_zip)
                .where(Account.status == "active")
                .order_by(Account.id)
            ).all()
    finally:
        engine.dispose()
    return [DemoAccount(number, zip_code[:5]) for number, zip_code in rows]


# ---------------------------------------------------------------------------- processes


class _Stop(Exception):
    """SIGTERM: leave like Ctrl-C, through the `finally` that stops the children."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def start_all(children: list[Child], started: list[Child], env: dict[str, str]) -> None:
    """Start each child and wait for its health check; `started` lists what to stop later."""
    for child in children:
        child.env.update(env)
        print(
            f"    starting {child.name} (log: {child.log_path.relative_to(PROJECT_ROOT)})",
            flush=True,
        )
        child.start()
        started.append(child)
        timeout = STARTUP_TIMEOUT_SECONDS["rasa" if "rasa" in child.name else "actions"]
        wait_healthy(child, timeout)


def stop_all(started: list[Child]) -> None:
    """Stop in reverse order; a second Ctrl-C while stopping is ignored so nothing is orphaned."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while started:
            started.pop().stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bare_child(port: int, token: str) -> Child:
    endpoints = BENCH_DIR / "bare-endpoints.yml"
    endpoints.write_text(
        "# Generated by bench/run.py: the same tracker store kind as ours, no action server.\n"
        f"tracker_store:\n  type: SQL\n  url: sqlite:///{BENCH_DIR / 'bare-tracker.db'}\n"
        "lock_store:\n  type: in_memory\n"
    )
    return Child(
        name="bare-rasa",
        argv=[
            str(RASA_BIN),
            "run",
            "--enable-api",
            "--auth-token",
            token,
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(BARE_DIR / "credentials.yml"),
            "--model",
            str(BARE_DIR / "models"),
        ],
        health_url=f"http://127.0.0.1:{port}/status?token={token}",
        log_path=LOG_DIR / "bare-rasa.log",
    )


# ---------------------------------------------------------------------------- load


def _timeout() -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS, connect=10)


async def check_nlu(rasa_url: str, token: str, turns: Iterable[Turn]) -> list[str]:
    """Every distinct scripted sentence must get its intended intent; returns the misses."""
    misses: list[str] = []
    seen: set[str] = set()
    async with aiohttp.ClientSession(timeout=_timeout()) as session:
        for turn in turns:
            if turn.text in seen:
                continue
            seen.add(turn.text)
            async with session.post(
                f"{rasa_url}/model/parse", params={"token": token}, json={"text": turn.text}
            ) as response:
                response.raise_for_status()
                parsed = await response.json()
            got = (parsed.get("intent") or {}).get("name")
            if got != turn.intent:
                misses.append(f"{turn.text!r}: expected {turn.intent}, NLU says {got}")
    return misses


async def converse(
    session: aiohttp.ClientSession,
    rasa_url: str,
    sender: str,
    script: list[Turn],
    samples: list[Sample],
    misses: list[str],
) -> None:
    """One conversation, turn after turn, timing each; errors are recorded, never raised."""
    for turn in script:
        started = time.perf_counter()
        try:
            replies = await send(session, rasa_url, sender, turn.text)
            ok = reply_matches(turn, replies)
            detail = " | ".join(str(r.get("text")) for r in replies)
        except (TimeoutError, aiohttp.ClientError) as exc:
            ok, detail = False, f"error: {exc!r}"
        samples.append(Sample(turn.category, (time.perf_counter() - started) * 1000, ok))
        if not ok and len(misses) < 10:
            misses.append(f"{turn.text!r} -> {detail[:200]}")


async def drive(
    rasa_url: str, script_for: Callable[[int, int], list[Turn]], members: int, rounds: int, tag: str
) -> tuple[list[Sample], float, list[str]]:
    """`members` concurrent members, each holding `rounds` conversations one after another;
    returns the samples, the timed phase's wall seconds and the first unexpected replies."""
    samples: list[Sample] = []
    misses: list[str] = []
    run = uuid.uuid4().hex[:6]
    connector = aiohttp.TCPConnector(limit=members + 2)
    async with aiohttp.ClientSession(timeout=_timeout(), connector=connector) as session:
        # Warm-up (not measured): the first turns of a fresh Rasa load lazily built graphs.
        await converse(session, rasa_url, f"warm-{tag}-{run}", script_for(0, 0), [], [])

        async def member(m: int) -> None:
            for r in range(rounds):
                await converse(
                    session,
                    rasa_url,
                    f"bench-{tag}-{run}-{m}-{r}",
                    script_for(m, r),
                    samples,
                    misses,
                )

        started = time.perf_counter()
        await asyncio.gather(*(member(m) for m in range(members)))
        wall = time.perf_counter() - started
    return samples, wall, misses


def summarise_samples(samples: list[Sample]) -> list[Summary]:
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
        rows.append(
            summarise("ours: DB-backed (all)", [s.ms for s in db], sum(not s.ok for s in db))
        )
    return rows


# ---------------------------------------------------------------------------- the run


def bench_bot(
    name: str,
    children: list[Child],
    env: dict[str, str],
    rasa_url: str,
    token: str,
    script_for: Callable[[int, int], list[Turn]],
    nlu_turns: list[Turn],
    config: BenchConfig,
    started: list[Child],
) -> dict[str, object]:
    print(f"==> {name}: starting", flush=True)
    t0 = time.monotonic()
    start_all(children, started, env)
    print(f"    up in {time.monotonic() - t0:.0f}s", flush=True)
    nlu_misses = asyncio.run(check_nlu(rasa_url, token, nlu_turns))
    for miss in nlu_misses:
        print(f"    NLU miss (its latency still counts): {miss}", flush=True)
    print(f"==> {name}: {config.members} members x {config.rounds} conversations", flush=True)
    samples, wall, misses = asyncio.run(
        drive(rasa_url, script_for, config.members, config.rounds, name.split()[0])
    )
    for miss in misses:
        print(f"    unexpected reply: {miss}", flush=True)
    stop_all(started)
    print(format_table(summarise_samples(samples)), flush=True)
    print(f"    {messages_per_second(len(samples), wall):.2f} messages/s\n", flush=True)
    return {
        "samples": samples,
        "wall_s": wall,
        "nlu_misses": nlu_misses,
        "unexpected_examples": misses,
        "messages_per_second": messages_per_second(len(samples), wall),
    }


def report(
    results: dict[str, dict[str, object]],
    training: dict[str, object],
    bare_training_s: float | None,
    config: BenchConfig,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, object]:
    samples = [s for r in results.values() for s in r["samples"]]  # type: ignore[union-attr]
    rows = summarise_samples(samples)
    by_name = {row.category: row for row in rows}
    utter = by_name.get(OUR_UTTER)
    db_all = by_name.get("ours: DB-backed (all)")
    differences = {
        name: round(by_name[name].p50_ms - utter.p50_ms, 1)
        for name in (*DB_BACKED, "ours: DB-backed (all)")
        if utter and name in by_name
    }
    print()
    print(format_table(rows))
    print()
    for name, result in results.items():
        print(
            f"{name:<12} {result['messages_per_second']:>7.2f} messages/s "
            f"({len(result['samples'])} turns in {result['wall_s']:.1f}s, "  # type: ignore[arg-type]
            f"{config.members} concurrent members)"
        )
    if utter and db_all:
        print(
            f"\nDB-backed p50 minus utter-only p50: {differences['ours: DB-backed (all)']:+.1f} ms "
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
        "messages_per_second": {n: r["messages_per_second"] for n, r in results.items()},
        "timed_phase_seconds": {n: round(r["wall_s"], 1) for n, r in results.items()},  # type: ignore[arg-type]
        "nlu_misses": {n: r["nlu_misses"] for n, r in results.items()},
        "db_p50_minus_utter_p50_ms": differences,
        "budget_ms": BUDGET_MS,
        "our_model_training": training,
        "bare_training_s": None if bare_training_s is None else round(bare_training_s, 1),
    }


def main() -> int:
    config = read_config()
    if not RASA_BIN.exists():
        print(f"Rasa is not installed at {RASA_BIN}; run `make setup` first.", file=sys.stderr)
        return 1
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    training = our_training_info(config.model, config.make_started)
    if training.get("model") is None:
        print(f"No trained model in {config.model}; run `make train` first.", file=sys.stderr)
        return 1
    started: list[Child] = []
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    load_before = os.getloadavg()
    try:
        bare_training_s = ensure_bare_bot()
        for stale in BENCH_DIR.glob("*tracker.db*"):
            stale.unlink()
        results: dict[str, dict[str, object]] = {}

        token = uuid.uuid4().hex
        bare_port = free_port()
        results["bare bot"] = bench_bot(
            "bare bot",
            [bare_child(bare_port, token)],
            RASA_ENV,
            f"http://127.0.0.1:{bare_port}",
            token,
            lambda m, r: bare_script(),
            bare_script(),
            config,
            started,
        )

        accounts = prepare_database(BENCH_DIR / "jec.db")
        if not accounts:
            raise StartupError("the demo database has no active accounts")
        settings = Settings(
            var_dir=BENCH_DIR,
            database_url=f"sqlite:///{BENCH_DIR / 'jec.db'}",
            rasa_tracker_url=f"sqlite:///{BENCH_DIR / 'rasa-tracker.db'}",
            rasa_url=f"http://127.0.0.1:{free_port()}",
            rasa_token=uuid.uuid4().hex,
            action_server_port=free_port(),
        )
        env = {
            **RASA_ENV,
            "JEC_VAR_DIR": str(BENCH_DIR),
            "DATABASE_URL": settings.database_url,
            "RASA_TRACKER_URL": settings.rasa_tracker_url,
            "COOP_PROFILE": str(PROJECT_ROOT / "profiles" / "jec.yml"),
            "ACTION_SERVER_PORT": str(settings.action_server_port),
            "JEC_FAKE_NOW": FAKE_NOW.isoformat(),
            "REDIS_URL": "",
        }
        children = build_children(
            settings, write_endpoints(settings), model=config.model, gateway=False
        )

        def script_for(m: int, r: int) -> list[Turn]:
            account = accounts[(m * config.rounds + r) % len(accounts)]
            return our_script(account, OUTAGE_TOWNS[(m + r) % len(OUTAGE_TOWNS)])

        nlu_turns = [t for town in OUTAGE_TOWNS for t in our_script(accounts[0], town)]
        results["our stack"] = bench_bot(
            "our stack",
            children,
            env,
            settings.rasa_url,
            settings.rasa_token,
            script_for,
            nlu_turns,
            config,
            started,
        )
        figures = report(results, training, bare_training_s, config, (load_before, os.getloadavg()))
        out = BENCH_DIR / "last.json"
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"Figures written to {out.relative_to(PROJECT_ROOT)}")
        return 0
    except (KeyboardInterrupt, _Stop):
        print("\nInterrupted: stopping the benchmark's processes ...", file=sys.stderr, flush=True)
        return 130
    except StartupError as exc:
        print(f"\nBenchmark failed: {exc}", file=sys.stderr)
        return 1
    except (TimeoutError, aiohttp.ClientError) as exc:
        print(f"\nBenchmark failed talking to Rasa: {exc!r}; logs in {LOG_DIR}", file=sys.stderr)
        return 1
    finally:
        stop_all(started)
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
