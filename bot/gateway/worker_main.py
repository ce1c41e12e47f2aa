"""`jecbot worker` (the queue's workers as their own process) and `jecbot jobs` (what is queued).

`jecbot worker` builds the same container as the gateway (`create_app`) and starts its cleanup
context without listening on a port: the queue workers, the periodic jobs and the after-hours
sweep run, HTTP is not served. In production run one or more of these next to gateways started
with `QUEUE_WORKERS_IN_GATEWAY=false` (docs/queue.md). SIGTERM or Ctrl-C stops it; a turn in
flight is taken again by another worker after its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any, TextIO

from aiohttp import web

from bot.config import Settings


async def _serve_workers(settings: Settings) -> None:
    from bot.gateway.app import create_app

    runner = web.AppRunner(create_app(settings, run_workers=True))
    await runner.setup()  # runs the container's cleanup context: workers start
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_worker(settings: Settings) -> int:
    from bot.logs import configure_logging

    configure_logging(settings)
    asyncio.run(_serve_workers(settings))
    return 0


async def _jobs(settings: Settings) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.queue import build_queue
    from bot.store.db import async_session_factory, make_async_engine, session_scope
    from bot.store.models import TurnRequest

    engine = make_async_engine(settings.database_url)
    factory = async_session_factory(engine)
    queue = build_queue(settings, factory)
    try:
        stats = await queue.stats()
        async with session_scope(factory) as session:
            stats["waiting_turns"] = int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(TurnRequest)
                        .where(TurnRequest.status == "pending")
                    )
                ).scalar_one()
            )
        return stats
    finally:
        await queue.close()
        await engine.dispose()


def print_jobs(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    stats = asyncio.run(_jobs(settings))
    counts = stats["counts"]
    print(f"Queue engine: {stats['engine']}", file=out)
    print(
        "Jobs: "
        + ", ".join(f"{k} {'-' if v is None else v}" for k, v in counts.items())
        + f"; member messages waiting for the assistant: {stats['waiting_turns']}",
        file=out,
    )
    if stats["failed"]:
        print("Latest failed jobs:", file=out)
        for job in stats["failed"]:
            print(f"  {job['id']} {job['kind']} {job['key'] or ''}: {job['error']}", file=out)
    if stats["periodic"]:
        print("Latest periodic runs:", file=out)
        for run in stats["periodic"]:
            print(f"  {run['key']} {run['status']} {run['finished_at'] or ''}", file=out)
    return 0
