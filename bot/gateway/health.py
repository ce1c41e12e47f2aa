"""`GET /health`: is the database reachable, is Rasa answering? JSON for load balancers and IT.

Status 200 while the database works (member messages are then stored and never lost, even with
Rasa down: replies apologise); 503 when the database does not answer.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from bot.gateway.state import GATEWAY


async def health(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        async with asyncio.timeout(3):
            async with gw.engine.connect() as conn:
                await conn.execute(text("select 1"))
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        database = f"error: {type(exc).__name__}"
    rasa = "ok" if await gw.rasa.ping() else "unreachable"
    healthy = database == "ok"
    body = {
        "status": ("ok" if rasa == "ok" else "degraded") if healthy else "down",
        "database": database,
        "rasa": rasa,
    }
    return web.json_response(body, status=200 if healthy else 503)
