"""`make bench` and `make bench-storm`: our stack through the gateway next to the bare bot.

`python -m bench.gateway_run` (make bench), in one run:
1. the bare `rasa init` bot (bench.bare) over Rasa's REST channel, then ours (action server, Rasa
   and the gateway, started by `bot.runner` as `jecbot run` starts them, on the bench database
   with the frozen clock) through the gateway's real endpoints: the chat WebSocket and the
   signed Twilio webhook. Each bot is stopped before the next starts (they never share the CPU);
2. per bot and path, open-loop arrivals (a Poisson process) at each offered rate in
   BENCH_RATES (5, 10, 20 msg/s) for BENCH_RATE_SECONDS (20 s), every message from a new member
   (a distinct number / a new web visitor from its own address): p50/p95/p99 from the message to
   its answer, and how many were not answered within BENCH_ANSWER_WAIT (60 s);
3. capacity at saturation: BENCH_CONCURRENCY (32) members, each sending its next message as soon
   as the last is answered, for BENCH_SATURATION_SECONDS (20 s): answered messages per second;
   printed as ours / bare.

`python -m bench.gateway_run storm` (make bench-storm): BENCH_STORM_TEXTS (1,000) signed texts at
BENCH_STORM_RATE (50/s) from distinct numbers, mixed like a storm night (outage in a town, outage
with a hazard, balance, hours), plus BENCH_STORM_WEB (20) web members arriving over the same
time; then waits (up to BENCH_STORM_WAIT, 600 s) until every member is answered. Printed: webhook
ack p50/p99, time from the first text until the last member is answered, and, from the stored
outbound messages and the outbox (bench.gateway_load.AnswerBook), per member: real answers,
courtesy messages, apologies, slow-down notices, unanswered.

BENCH_QUICK=1: a few messages at low rates and seconds instead (a smoke run: the figures mean
nothing). Everything is also written to var/bench/gateway.json or var/bench/storm.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import gateway_load as gl
from bench.bare import bare_child, ensure_bare_bot
from bench.config import (
    BENCH_DIR,
    PROFILE_PATH,
    RASA_ENV,
    BenchConfig,
    env_number,
    free_port,
    read_config,
)
from bench.drive import send_rest
from bench.run import our_stack, prepare_database, start_bot
from bench.stats import percentile
from bot.config import Settings
from bot.runner import StartupError, Stop, Supervisor, build_children, write_endpoints


@dataclass(frozen=True)
class LoadConfig:
    rates: tuple[float, ...]
    rate_seconds: float
    saturation_seconds: float
    concurrency: int
    answer_wait: float
    storm_texts: int
    storm_rate: float
    storm_web: int
    storm_wait: float
    quick: bool


def load_config() -> LoadConfig:
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    rates_raw = os.environ.get("BENCH_RATES", "2" if quick else "5,10,20")
    try:
        rates = tuple(float(r) for r in rates_raw.split(",") if r.strip())
    except ValueError:
        raise SystemExit(
            f"BENCH_RATES must be numbers separated by commas: {rates_raw!r}"
        ) from None
    return LoadConfig(
        rates=rates,
        rate_seconds=env_number("BENCH_RATE_SECONDS", 3 if quick else 20),
        saturation_seconds=env_number("BENCH_SATURATION_SECONDS", 4 if quick else 20),
        concurrency=int(env_number("BENCH_CONCURRENCY", 4 if quick else 32)),
        answer_wait=env_number("BENCH_ANSWER_WAIT", 60),
        storm_texts=int(env_number("BENCH_STORM_TEXTS", 20 if quick else 1000)),
        storm_rate=env_number("BENCH_STORM_RATE", 10 if quick else 50),
        storm_web=int(env_number("BENCH_STORM_WEB", 2 if quick else 20)),
        storm_wait=env_number("BENCH_STORM_WAIT", 120 if quick else 600),
        quick=quick,
    )


def summary(
    latencies_ms: list[float], offered: int, wall_s: float, apologies: int = 0
) -> dict[str, Any]:
    """Percentiles over the real answers; apologies and the unanswered counted apart."""
    row: dict[str, Any] = {"offered": offered, "answered": len(latencies_ms)}
    row["apologies"] = apologies
    row["unanswered"] = offered - len(latencies_ms) - apologies
    row["wall_s"] = round(wall_s, 1)
    for pct in (50, 95, 99):
        row[f"p{pct}_ms"] = round(percentile(latencies_ms, pct), 1) if latencies_ms else None
    return row


def print_rows(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(
        f"{'offered':>14} {'msgs':>6} {'answers':>8} {'apolog.':>8} {'unansw.':>8} "
        f"{'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    )
    for name, row in rows.items():
        cells = [
            f"{row[k]:>9.1f}" if row[k] is not None else f"{'-':>9}"
            for k in ("p50_ms", "p95_ms", "p99_ms")
        ]
        print(
            f"{name:>14} {row['offered']:>6} {row['answered']:>8} {row['apologies']:>8} "
            f"{row['unanswered']:>8} {' '.join(cells)}"
        )


# ------------------------------------------------------------------------------ the stacks


@dataclass
class Ours:
    settings: Settings
    gateway_url: str
    database_url: str
    target: gl.SmsTarget


def start_ours(config: BenchConfig, supervisor: Supervisor) -> Ours:
    """Action server, Rasa and the gateway on the bench database, free ports, frozen clock."""
    prepare_database(BENCH_DIR / "jec.db", config)
    for stale in BENCH_DIR.glob("rasa-tracker.db*"):
        stale.unlink()
    base, env = our_stack(config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    twilio_token = uuid.uuid4().hex
    settings = Settings(
        var_dir=base.var_dir,
        database_url=base.database_url,
        rasa_tracker_url=base.rasa_tracker_url,
        rasa_url=base.rasa_url,
        rasa_token=base.rasa_token,
        action_server_port=base.action_server_port,
        secret_key=base.secret_key,
        gateway_port=port,
        public_base_url=url,
        twilio_auth_token=twilio_token,
    )
    env.update(
        {
            "RASA_URL": settings.rasa_url,
            "RASA_TOKEN": settings.rasa_token,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(port),
            "PUBLIC_BASE_URL": url,
            # Texts are signed with this token (Twilio's), and with no account they go to the
            # outbox table, where the bench reads them.
            "TWILIO_AUTH_TOKEN": twilio_token,
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_FROM_NUMBER": "",
            "SMTP_HOST": "",
            "SMTP_FROM": "",
            # Each simulated web visitor has its own address behind this "proxy" (the bench), so
            # the per-address limits apply per visitor, as deployed.
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "LOG_LEVEL": "WARNING",
            "COOP_PROFILE": str(PROFILE_PATH),
        }
    )
    children = build_children(settings, write_endpoints(settings), model=config.model)
    if not any(c.name == "gateway" for c in children):
        raise StartupError("the gateway is not installed (bot/gateway)")
    # Rasa and the action server answer on the frozen Tuesday-10-AM clock (office hours), but
    # the gateway's clock must move: it stamps waiting turns, and the courtesy message goes to
    # members who have waited `busy.courtesy_after_seconds` by it (a frozen clock never sends it).
    gateway_env = {k: v for k, v in env.items() if k != "JEC_FAKE_NOW"}
    start_bot(supervisor, [c for c in children if c.name != "gateway"], env)
    start_bot(supervisor, [c for c in children if c.name == "gateway"], gateway_env)
    return Ours(settings, url, settings.database_url, gl.SmsTarget(url, settings))


def _session(limit: int = 0) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=180, connect=30)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=limit))


# ------------------------------------------------------------------------------ one message


async def bare_message(
    session: aiohttp.ClientSession, rasa_url: str, i: int
) -> tuple[float, str] | None:
    texts = ("hello there", "I am feeling very good", "are you a bot?", "I am sad")
    started = time.perf_counter()
    try:
        replies = await send_rest(session, rasa_url, f"bare-{uuid.uuid4().hex[:10]}", texts[i % 4])
    except (TimeoutError, aiohttp.ClientError):
        return None
    return ((time.perf_counter() - started) * 1000, gl.ANSWER) if replies else None


async def web_message(
    session: aiohttp.ClientSession, ours: Ours, i: int, wait: float
) -> gl.WebResult:
    return await gl.web_turn(
        session, ours.gateway_url, gl.web_address(i + 1), gl.pick(gl.WEB_MIX, i), wait
    )


class SmsWaiter:
    """Answers to texts: in the webhook's TwiML (the webhook held for Rasa), else from the
    database (the answer went out later: outbox / queue), polled for all pending numbers."""

    def __init__(self, ours: Ours) -> None:
        self.book = gl.AnswerBook(ours.database_url)
        self.pending: dict[str, asyncio.Future[tuple[float, str]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SmsWaiter:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task:
            self._task.cancel()
        self.book.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            phones = [p for p, f in self.pending.items() if not f.done()]
            if not phones:
                continue
            seen = await self.book.read(phones)
            now = time.perf_counter()
            for phone, bodies in seen.items():
                kinds = [gl.classify(b) for b in bodies]
                kind = next((k for k in (gl.ANSWER, gl.APOLOGY) if k in kinds), None)
                future = self.pending.get(phone)
                if kind and future and not future.done():
                    future.set_result((now, kind))

    async def text(
        self, session: aiohttp.ClientSession, ours: Ours, phone: str, body: str, wait: float
    ) -> tuple[float, str] | None:
        """(ms until the member's answer or apology, its kind), or None (no answer)."""
        future: asyncio.Future[tuple[float, str]] = asyncio.get_running_loop().create_future()
        self.pending[phone] = future
        result = await gl.send_text(session, ours.target, phone, body)
        try:
            kinds = [gl.classify(b) for b in result.twiml]
            for kind in (gl.ANSWER, gl.APOLOGY):
                if kind in kinds:
                    return result.ack_ms, kind
            if result.error or result.status != 200:
                return None
            try:
                at, kind = await asyncio.wait_for(asyncio.shield(future), wait)
            except TimeoutError:
                return None
            return (at - result.sent_at) * 1000, kind
        finally:
            self.pending.pop(phone, None)


# ------------------------------------------------------------------------------ phases


async def rate_phase(one: Any, rate: float, seconds: float) -> tuple[list[float], int, float]:
    """Open-loop arrivals at `rate` for `seconds`; `one(i)` returns (ms, kind) or None.
    Returns the real answers' latencies, the apologies, the messages offered, wall seconds."""
    offsets = gl.arrivals(rate, max(int(rate * seconds), 1), seed=int(rate * 100))
    latencies: list[float] = []
    apologies = 0

    async def run(i: int) -> None:
        nonlocal apologies
        got = await one(i)
        if got is not None and got[1] == gl.ANSWER:
            latencies.append(got[0])
        elif got is not None and got[1] == gl.APOLOGY:
            apologies += 1

    wall = await gl.open_loop(offsets, run)
    return latencies, apologies, len(offsets), wall


async def saturate(one: Any, concurrency: int, seconds: float) -> float:
    """Closed loop: `concurrency` members back to back for `seconds`; answered msgs/s."""
    answered = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def member() -> None:
        nonlocal answered
        while time.perf_counter() < deadline:
            got = await one(next(counter))
            if got is not None and got[1] == gl.ANSWER and time.perf_counter() <= deadline:
                answered += 1

    started = time.perf_counter()
    await asyncio.gather(*(member() for _ in range(concurrency)))
    return answered / max(time.perf_counter() - started, 1e-9)


async def bench_bare(rasa_url: str, load: LoadConfig) -> dict[str, Any]:
    async with _session() as session:
        await bare_message(session, rasa_url, 0)  # warm-up

        async def one(i: int) -> tuple[float, str] | None:
            return await bare_message(session, rasa_url, i)

        rows = {}
        for rate in load.rates:
            lat, sorry, offered, wall = await rate_phase(one, rate, load.rate_seconds)
            rows[f"{rate:g} msg/s"] = summary(lat, offered, wall, sorry)
        capacity = await saturate(one, load.concurrency, load.saturation_seconds)
    print_rows("bare bot, REST channel (open-loop arrivals)", rows)
    print(f"    capacity at saturation: {capacity:.1f} msg/s ({load.concurrency} members)")
    return {"rest": rows, "capacity_msg_s": round(capacity, 2)}


async def bench_ours(ours: Ours, load: LoadConfig) -> dict[str, Any]:
    wait = load.answer_wait
    out: dict[str, Any] = {}
    async with _session() as session, SmsWaiter(ours) as waiter:
        phones = iter(range(10**6))

        async def web(i: int) -> tuple[float, str] | None:
            result = await web_message(session, ours, i, wait)
            if result.answer_ms is None or not result.texts:
                return None
            return result.answer_ms, gl.classify(result.texts[-1])

        async def sms(i: int) -> tuple[float, str] | None:
            body = gl.pick(gl.STORM_MIX, i)
            return await waiter.text(session, ours, gl.phone_number(next(phones)), body, wait)

        await web(10**6)  # warm-up, not measured
        await sms(10**6)
        for name, one in (("web", web), ("sms", sms)):
            rows = {}
            for rate in load.rates:
                lat, sorry, offered, wall = await rate_phase(one, rate, load.rate_seconds)
                rows[f"{rate:g} msg/s"] = summary(lat, offered, wall, sorry)
            print_rows(f"our stack through the gateway, {name} (open-loop arrivals)", rows)
            capacity = await saturate(one, load.concurrency, load.saturation_seconds)
            print(f"    capacity at saturation: {capacity:.1f} msg/s ({load.concurrency} members)")
            out[name] = {"rates": rows, "capacity_msg_s": round(capacity, 2)}
    return out


async def storm(ours: Ours, load: LoadConfig) -> dict[str, Any]:
    n, rate = load.storm_texts, load.storm_rate
    phones = [gl.phone_number(i) for i in range(n)]
    acks: list[float] = []
    statuses: Counter[int] = Counter()
    web_results: list[gl.WebResult] = []
    book = gl.AnswerBook(ours.database_url)
    async with _session() as session:
        await web_message(session, ours, 10**6, load.answer_wait)  # warm-up
        started = time.perf_counter()
        duration = n / rate

        async def text(i: int) -> None:
            result = await gl.send_text(session, ours.target, phones[i], gl.pick(gl.STORM_MIX, i))
            acks.append(result.ack_ms)
            statuses[result.status] += 1
            if any(gl.classify(b) == gl.ANSWER for b in result.twiml):
                book.first_answer.setdefault(phones[i], time.perf_counter())

        async def web(i: int) -> None:
            web_results.append(await web_message(session, ours, i, load.storm_wait))

        web_offsets = gl.arrivals(max(load.storm_web / duration, 1e-3), load.storm_web, seed=7)
        watch = asyncio.create_task(book.watch(phones, started + load.storm_wait, every=0.5))
        await asyncio.gather(
            gl.open_loop(gl.arrivals(rate, n), text),
            gl.open_loop(web_offsets, web) if load.storm_web else asyncio.sleep(0),
        )
        sent_s = time.perf_counter() - started
        print(f"    {n} texts sent in {sent_s:.1f}s; waiting for the answers ...", flush=True)
        await watch
    answers = await book.read(phones)
    book.close()
    counts: Counter[str] = Counter()
    for phone in phones:
        kinds = [gl.classify(b) for b in answers.get(phone, [])]
        counts["real answers"] += gl.ANSWER in kinds
        counts["courtesy messages"] += kinds.count(gl.COURTESY)
        counts["apologies"] += kinds.count(gl.APOLOGY)
        counts["slow-down notices"] += kinds.count(gl.SLOW_DOWN)
        counts["unanswered"] += gl.ANSWER not in kinds  # no real answer (maybe an apology)
        counts["nothing at all"] += not kinds
    web_kinds = [gl.classify(t) for r in web_results for t in r.texts]
    last = max(book.first_answer.values(), default=None)
    web_last = max((r.answered_at for r in web_results if r.answered_at), default=None)
    figures: dict[str, Any] = {
        "texts": n,
        "rate_per_s": rate,
        "http_statuses": dict(statuses),
        "ack_p50_ms": round(percentile(acks, 50), 1) if acks else None,
        "ack_p99_ms": round(percentile(acks, 99), 1) if acks else None,
        "last_text_answered_s": round(last - started, 1) if last else None,
        "sms": dict(counts),
        "web_members": load.storm_web,
        "web": {
            "real answers": sum(
                1 for r in web_results if r.texts and gl.classify(r.texts[-1]) == gl.ANSWER
            ),
            "courtesy messages": web_kinds.count(gl.COURTESY),
            "apologies": web_kinds.count(gl.APOLOGY),
            "unanswered": sum(1 for r in web_results if r.answered_at is None),
            "last_answered_s": round(web_last - started, 1) if web_last else None,
        },
    }
    print(f"\nStorm: {n} texts at {rate:g}/s from distinct numbers + {load.storm_web} web members")
    print(
        f"    webhook: HTTP {dict(statuses)}, ack p50 {figures['ack_p50_ms']} ms, "
        f"p99 {figures['ack_p99_ms']} ms"
    )
    print(f"    last texter answered {figures['last_text_answered_s']} s after the first text")
    print(f"    texters: {dict(counts)}")
    print(f"    web members: {figures['web']}")
    return figures


# ------------------------------------------------------------------------------ main


def _write(name: str, figures: dict[str, Any]) -> Path:
    out = BENCH_DIR / name
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nFigures written to {out}")
    return out


def run(mode: str) -> int:
    config = read_config()
    load = load_config()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    with Supervisor(signals=(signal.SIGTERM,)) as supervisor:
        try:
            figures: dict[str, Any] = {"quick": load.quick}
            if mode == "storm":
                print("==> our stack (actions, Rasa, gateway): starting", flush=True)
                ours = start_ours(config, supervisor)
                figures["storm"] = asyncio.run(storm(ours, load))
            else:
                ensure_bare_bot()
                token, port = uuid.uuid4().hex, free_port()
                print("==> bare bot: starting", flush=True)
                start_bot(supervisor, [bare_child(port, token)], RASA_ENV)
                figures["bare"] = asyncio.run(bench_bare(f"http://127.0.0.1:{port}", load))
                supervisor.stop_all()
                print("\n==> our stack (actions, Rasa, gateway): starting", flush=True)
                ours = start_ours(config, supervisor)
                figures["ours"] = asyncio.run(bench_ours(ours, load))
                bare_cap = figures["bare"]["capacity_msg_s"]
                ratios = {
                    path: round(figures["ours"][path]["capacity_msg_s"] / bare_cap, 2)
                    if bare_cap
                    else None
                    for path in ("web", "sms")
                }
                figures["capacity_ratio"] = ratios
                print(
                    f"\nCapacity ratio (ours through the gateway / bare bot, msg/s at "
                    f"saturation): web {ratios['web']}x, SMS {ratios['sms']}x"
                )
            supervisor.stop_all()
        except (KeyboardInterrupt, Stop):
            print("\nInterrupted: stopping the benchmark's processes ...", file=sys.stderr)
            return 130
        except StartupError as exc:
            print(f"\nBenchmark failed: {exc}", file=sys.stderr)
            return 1
    figures["load_average"] = [load_before, os.getloadavg()]
    print(
        f"Load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f} "
        f"(a shared machine: figures are pessimistic)"
    )
    _write("storm.json" if mode == "storm" else "gateway.json", figures)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    storm_mode = (args[:1] == ["storm"]) or os.environ.get("STORM", "") not in ("", "0")
    return run("storm" if storm_mode else "rates")


if __name__ == "__main__":
    sys.exit(main())
