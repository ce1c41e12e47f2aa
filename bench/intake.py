"""`make bench-intake`: the SMS webhook's acknowledgement alone, against a stand-in assistant.

The storm benchmark (`make bench-storm`) runs the whole stack and takes a quarter of an hour; this
one isolates what a storm's acknowledgement costs. It starts the real gateway process
(`python -m bot.gateway`, SQLite, its queue workers) against a stand-in for Rasa's channel that
answers each turn after BENCH_INTAKE_TURN_SECONDS (0.5 s), at most BENCH_INTAKE_ASSISTANT_TURNS
(2) at once, like one busy Rasa, and posts BENCH_INTAKE_TEXTS (1,000) signed texts at
BENCH_INTAKE_RATE (50/s) from distinct numbers. Printed: HTTP statuses, ack p50/p95/p99, the
gateway's CPU seconds per text.

The same run measures it three ways, so the figures sit beside each other on one machine:
1. the gateway alone (the machine otherwise idle);
2. with BENCH_INTAKE_HOGS (2) CPU-bound processes at the gateway's own priority: what Rasa and
   the action server did to the gateway before `jecbot run` lowered their priority;
3. with the same hogs at ASSISTANT_NICE (10), as `jecbot run` starts Rasa and the action server.
Its reference is (1); a figure means nothing alone on these shared machines.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench import gateway_load as gl
from bench.config import BENCH_DIR, PROFILE_PATH, env_number, free_port
from bench.stats import percentile
from bot.config import PROJECT_ROOT, Settings
from bot.gateway.rasa_client import CHANNEL_PATH

APP_PYTHON = Path(sys.executable)
ANSWER = "There's an outage near you. Crews are working on it."


@dataclass(frozen=True)
class IntakeConfig:
    texts: int
    rate: float
    turn_seconds: float
    assistant_turns: int
    hogs: int
    nice: int


def load_config() -> IntakeConfig:
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    return IntakeConfig(
        texts=int(env_number("BENCH_INTAKE_TEXTS", 30 if quick else 1000)),
        rate=env_number("BENCH_INTAKE_RATE", 10 if quick else 50),
        turn_seconds=env_number("BENCH_INTAKE_TURN_SECONDS", 0.5),
        assistant_turns=max(1, int(env_number("BENCH_INTAKE_ASSISTANT_TURNS", 2))),
        hogs=int(env_number("BENCH_INTAKE_HOGS", 0 if quick else 2, zero_allowed=True)),
        nice=int(env_number("ASSISTANT_NICE", 10, zero_allowed=True)),
    )


class StandInAssistant:
    """Answers like Rasa's gateway channel, `turns` at a time, each after `seconds`."""

    def __init__(self, seconds: float, turns: int) -> None:
        self.seconds, self.gate, self.calls = seconds, asyncio.Semaphore(turns), 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _turn(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self.gate:
            self.calls += 1
            await asyncio.sleep(self.seconds)
        return web.json_response([{"recipient_id": body["sender"], "text": ANSWER}])

    async def _hello(self, _request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(CHANNEL_PATH, self._turn)
        app.router.add_get("/", self._hello)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hogs(count: int, nice: int) -> list[subprocess.Popen[bytes]]:
    """CPU-bound stand-ins for Rasa and the action server, at `nice` below us."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    for hog in hogs:
        if nice > 0:
            os.setpriority(os.PRIO_PROCESS, hog.pid, min(19, os.getpriority(0, 0) + nice))
    return hogs


async def _gateway(
    assistant: StandInAssistant, var_dir: Path
) -> tuple[subprocess.Popen[bytes], str, Settings]:
    var_dir.mkdir(parents=True, exist_ok=True)
    for stale in var_dir.glob("intake.db*"):
        stale.unlink()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = uuid.uuid4().hex
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JEC_", "REDIS"))},
        "JEC_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'intake.db'}",
        "COOP_PROFILE": str(PROFILE_PATH),
        "RASA_URL": assistant.url,
        "RASA_TOKEN": secrets.token_urlsafe(40),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "PUBLIC_BASE_URL": url,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_FROM_NUMBER": "",
        "REDIS_URL": "",
        "QUEUE_BACKEND": "sql",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [str(APP_PYTHON), "-m", "bot.cli", "init-db"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = open(var_dir / "gateway.log", "ab")  # noqa: SIM115 (closed below, the child keeps it)
    proc = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.gateway"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"the gateway exited; see {var_dir / 'gateway.log'}")
            try:
                async with http.get(url + "/livez") as resp:
                    if resp.status == 200:
                        return proc, url, Settings(public_base_url=url, twilio_auth_token=token)
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the gateway did not start; see {var_dir / 'gateway.log'}")


async def one_run(config: IntakeConfig, name: str, hogs: int, nice: int) -> dict[str, Any]:
    assistant = StandInAssistant(config.turn_seconds, config.assistant_turns)
    await assistant.start()
    proc, url, settings = await _gateway(assistant, BENCH_DIR / "intake" / name)
    running = _hogs(hogs, nice)
    target = gl.SmsTarget(url, settings)
    acks: list[float] = []
    statuses: Counter[int] = Counter()
    try:
        timeout = aiohttp.ClientTimeout(total=180)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
        ) as http:
            cpu_before = _cpu_seconds(proc.pid)

            async def text(i: int) -> None:
                result = await gl.send_text(
                    http, target, gl.phone_number(i), gl.pick(gl.STORM_MIX, i)
                )
                acks.append(result.ack_ms)
                statuses[result.status] += 1

            wall = await gl.open_loop(gl.arrivals(config.rate, config.texts), text)
            cpu = _cpu_seconds(proc.pid) - cpu_before
    finally:
        for hog in running:
            hog.kill()
            hog.wait()
        proc.terminate()
        proc.wait(20)
        await assistant.stop()
    figures = {
        "run": name,
        "hogs": hogs,
        "hog_nice": nice if hogs else None,
        "http_statuses": dict(statuses),
        "ack_p50_ms": round(percentile(acks, 50), 1),
        "ack_p95_ms": round(percentile(acks, 95), 1),
        "ack_p99_ms": round(percentile(acks, 99), 1),
        "gateway_cpu_ms_per_text": round(cpu / max(len(acks), 1) * 1000, 1),
        "wall_s": round(wall, 1),
        "turns_answered_meanwhile": assistant.calls,
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(
        f"  {name:<32} HTTP {dict(statuses)}  ack p50/p95/p99 {figures['ack_p50_ms']:.0f} / "
        f"{figures['ack_p95_ms']:.0f} / {figures['ack_p99_ms']:.0f} ms  gateway CPU "
        f"{figures['gateway_cpu_ms_per_text']} ms/text  load {figures['load_average']}",
        flush=True,
    )
    return figures


async def run_all(config: IntakeConfig) -> list[dict[str, Any]]:
    print(
        f"Intake: {config.texts} signed texts at {config.rate:g}/s from distinct numbers; the "
        f"stand-in assistant answers {config.assistant_turns} at a time after "
        f"{config.turn_seconds:g} s",
        flush=True,
    )
    runs = [await one_run(config, "alone (reference)", 0, 0)]
    if config.hogs:
        runs.append(await one_run(config, f"{config.hogs} hogs at our priority", config.hogs, 0))
        runs.append(
            await one_run(
                config, f"{config.hogs} hogs at nice {config.nice}", config.hogs, config.nice
            )
        )
    return runs


def main() -> int:
    config = load_config()
    runs = asyncio.run(run_all(config))
    out = BENCH_DIR / "intake.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": config.__dict__, "runs": runs}, indent=2) + "\n")
    print(f"\nFigures written to {out}  ({time.strftime('%Y-%m-%d %H:%M')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
