"""The per-conversation lease (a database row): one holder at a time, across copies."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.queue import ConversationLeases
from bot.store.db import async_session_factory, make_async_engine
from jobqueue.conftest import Clock


async def test_one_holder_at_a_time_until_the_lease_runs_out(db_url: str, clock: Clock) -> None:
    engine = make_async_engine(db_url)
    try:
        leases = ConversationLeases(async_session_factory(engine), clock)
        assert await leases.acquire("conv-1", "copy-a", 10)
        assert not await leases.acquire("conv-1", "copy-b", 10)  # held
        assert await leases.acquire("conv-2", "copy-b", 10)  # another conversation is free
        assert await leases.renew("conv-1", "copy-a", 10)
        assert not await leases.renew("conv-1", "copy-b", 10)
        clock.advance(11)  # copy-a died: its lease ran out
        assert await leases.acquire("conv-1", "copy-b", 10)
        await leases.release("conv-1", "copy-a")  # a late release by the dead holder: no effect
        assert not await leases.acquire("conv-1", "copy-c", 10)
        await leases.release("conv-1", "copy-b")
        assert await leases.acquire("conv-1", "copy-c", 10)
    finally:
        await engine.dispose()


async def test_racing_copies_get_one_lease(db_url: str, clock: Clock) -> None:
    engine = make_async_engine(db_url)
    try:
        leases = ConversationLeases(async_session_factory(engine), clock)
        got: list[Any] = await asyncio.gather(
            *(leases.acquire("conv-race", f"copy-{n}", 10) for n in range(6))
        )
        assert got.count(True) == 1
    finally:
        await engine.dispose()
