"""The periodic job that keeps the outage promises: "power is back" and "outage near you" texts.

Runs every `EVERY_SECONDS`: a restore recorded by the import, the outage system's endpoint or the
console is texted within seconds. Exactly once per address comes from the database (see
`bot.services.outage.notices`), so two worker copies may run it at the same moment.
"""

from __future__ import annotations

from bot.services.outage.notices import send_outage_notices
from bot.worker.base import JobContext, PeriodicTask

EVERY_SECONDS = 10.0


async def run(ctx: JobContext) -> int:
    return await send_outage_notices(ctx.sessions, ctx.notifier, ctx.profile, ctx.clock())


TASK = PeriodicTask(name="outage_notices", every_seconds=EVERY_SECONDS, run=run)
