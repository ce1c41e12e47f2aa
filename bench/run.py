"""`make bench`: latency of our assistant next to a bare `rasa init` bot, on this machine, now.

Steps (each process this starts is stopped when the run leaves, also on Ctrl-C, SIGTERM or a
failure: `bot.runner.Supervisor`, the same supervision `jecbot run` uses):
1. the bare bot (var/bench/bare, created once with `rasa init --no-prompt`; retrained only when its
   files' fingerprint changes) is started with the same Rasa environment and the same kind of SQL
   tracker store as ours, so the comparison is about the model and the actions;
2. it is checked (/model/parse: every scripted sentence gets its intended intent), warmed up with
   one unmeasured conversation, then BENCH_MEMBERS concurrent members each hold BENCH_ROUNDS
   scripted conversations over the REST channel; then it is stopped;
3. the same for our stack (action server + Rasa on the newest model in models/, or BENCH_MODEL),
   against a throwaway SQLite database in var/bench/ with ~300 demo members and the action server's
   clock frozen (JEC_FAKE_NOW) at a Tuesday 10 AM in the co-op's time zone, so office-hours
   answers are fixed;
4. the figures are printed (and written to var/bench/last.json): count, p50, p95 and max latency
   per turn category, messages per second per bot, the database-backed p50 minus the utter-only
   p50 (our budget is 30 ms: printed, never asserted), and how long training our model
   took when `make bench` trained it.

The parts: `bench.config` (folders, clock, environment), `bench.bare` (the reference bot),
`bench.drive` (the members), `bench.report` (the figures); this module runs them in order.

The figures are wall-clock latencies seen by a REST client on loopback. The machine may be shared;
the load average is recorded with the figures.

This is a supervisor and a load generator, not a server: blocking calls outside the event loop are
deliberate (process start/stop, the demo data load); the timed phase is all aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bench.bare import bare_child, ensure_bare_bot
from bench.config import (
    BENCH_DIR,
    DEMO_MEMBERS,
    LOG_DIR,
    PROFILE_PATH,
    RASA_ENV,
    BenchConfig,
    free_port,
    read_config,
)
from bench.drive import check_nlu, drive
from bench.report import BotResult, our_training_info, print_bot, report
from bench.scenarios import OUTAGE_TOWNS, DemoAccount, Turn, bare_script, our_script
from bot.config import PROJECT_ROOT, Settings
from bot.runner import (
    RASA_BIN,
    STARTUP_TIMEOUT_SECONDS,
    Child,
    StartupError,
    Stop,
    Supervisor,
    build_children,
    write_endpoints,
)


def prepare_database(path: Path, config: BenchConfig) -> list[DemoAccount]:
    """A fresh demo database; the active accounts members will verify with."""
    from sqlalchemy import select

    from bot.demo import generate_demo_data
    from bot.store.db import make_sync_engine
    from bot.store.models import Account

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    print(f"==> Demo database with {DEMO_MEMBERS} members: {path}", flush=True)
    generate_demo_data(
        url, members=DEMO_MEMBERS, usage_days=30, now=config.fake_now, profile_path=PROFILE_PATH
    )
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


def start_bot(supervisor: Supervisor, children: list[Child], env: dict[str, str]) -> None:
    """Start each child with `env` added and wait for its health check."""
    for child in children:
        child.env.update(env)
        print(
            f"    starting {child.name} (log: {child.log_path.relative_to(PROJECT_ROOT)})",
            flush=True,
        )
        timeout = STARTUP_TIMEOUT_SECONDS["rasa" if "rasa" in child.name else "actions"]
        supervisor.start(child, timeout)


def bench_bot(
    name: str,
    children: list[Child],
    env: dict[str, str],
    rasa_url: str,
    token: str,
    script_for: Callable[[int, int], list[Turn]],
    nlu_turns: list[Turn],
    config: BenchConfig,
    supervisor: Supervisor,
) -> BotResult:
    """Start one bot, check its NLU, time the members' conversations, stop it."""
    print(f"==> {name}: starting", flush=True)
    t0 = time.monotonic()
    start_bot(supervisor, children, env)
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
    supervisor.stop_all()
    result = BotResult(samples, wall, nlu_misses, misses)
    print_bot(result)
    return result


def our_stack(config: BenchConfig) -> tuple[Settings, dict[str, str]]:
    """Settings and environment of our action server and Rasa: free ports, the bench database,
    the frozen clock, no Redis."""
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
        "COOP_PROFILE": str(PROFILE_PATH),
        "ACTION_SERVER_PORT": str(settings.action_server_port),
        "JEC_FAKE_NOW": config.fake_now.isoformat(),
        "REDIS_URL": "",
    }
    return settings, env


def _run(config: BenchConfig, training: dict[str, object], supervisor: Supervisor) -> int:
    load_before = os.getloadavg()
    bare_training_s = ensure_bare_bot()
    for stale in BENCH_DIR.glob("*tracker.db*"):
        stale.unlink()
    results: dict[str, BotResult] = {}

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
        supervisor,
    )

    accounts = prepare_database(BENCH_DIR / "jec.db", config)
    if not accounts:
        raise StartupError("the demo database has no active accounts")
    settings, env = our_stack(config)
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
        supervisor,
    )
    figures = report(results, training, bare_training_s, config, (load_before, os.getloadavg()))
    out = BENCH_DIR / "last.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Figures written to {out.relative_to(PROJECT_ROOT)}")
    return 0


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
    # SIGTERM leaves like Ctrl-C (KeyboardInterrupt), through the supervisor's stop.
    with Supervisor(signals=(signal.SIGTERM,)) as supervisor:
        try:
            return _run(config, training, supervisor)
        except (KeyboardInterrupt, Stop):
            print(
                "\nInterrupted: stopping the benchmark's processes ...", file=sys.stderr, flush=True
            )
            return 130
        except StartupError as exc:
            print(f"\nBenchmark failed: {exc}", file=sys.stderr)
            return 1
        except (TimeoutError, aiohttp.ClientError) as exc:
            print(
                f"\nBenchmark failed talking to Rasa: {exc!r}; logs in {LOG_DIR}", file=sys.stderr
            )
            return 1


if __name__ == "__main__":
    sys.exit(main())
