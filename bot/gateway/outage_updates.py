"""`POST /integrations/outages`: outage updates from the co-op's outage system (new, estimate
changed, restored), signed with a shared secret (docs/integration.md, "Outage updates").

The request carries `X-JEC-Timestamp` (Unix seconds) and `X-JEC-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<raw body>` under `OUTAGE_UPDATES_SECRET`. A missing or wrong
signature, or a timestamp more than `MAX_SKEW_SECONDS` away from our clock (a replay), gets 401
and changes nothing. With no secret set the endpoint does not exist (404). The update only writes
the outage row; the worker's outage job sends the texts within seconds.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.core.webhook_signature import (  # one signing scheme for every /integrations/ endpoint
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_problem,
)
from bot.core.webhook_signature import signature as sign
from bot.gateway.state import GATEWAY
from bot.services.outage.updates import EVENTS, OutageUpdate, UpdateError, apply_update

log = logging.getLogger(__name__)
__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "receive", "sign"]

MAX_BODY_BYTES = 64 * 1024


def _when(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UpdateError(f"{name} must be an ISO 8601 time with its offset") from None
    if moment.tzinfo is None:
        raise UpdateError(f"{name} must include a UTC offset (e.g. 2026-12-02T16:05:00-05:00)")
    return moment


def _strings(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UpdateError(f"{name} must be a list of strings")
    return tuple(value[:50])


def parse_update(data: Any) -> OutageUpdate:
    if not isinstance(data, dict):
        raise UpdateError("the body must be a JSON object")
    event = str(data.get("event") or "")
    if event not in EVENTS:
        raise UpdateError(f"event must be one of {', '.join(EVENTS)}")
    affected = data.get("customers_affected")
    if affected is not None and (not isinstance(affected, int) or isinstance(affected, bool)):
        raise UpdateError("customers_affected must be a whole number")
    text = {k: data.get(k) for k in ("cause", "crew_status")}
    for k, v in text.items():
        if v is not None and not isinstance(v, str):
            raise UpdateError(f"{k} must be text")
    return OutageUpdate(
        event=event,
        reference=str(data.get("reference") or ""),
        started_at=_when(data, "started_at"),
        estimated_restoration_at=_when(data, "estimated_restoration_at"),
        restored_at=_when(data, "restored_at"),
        cause=text["cause"],
        crew_status=text["crew_status"],
        customers_affected=affected,
        towns=_strings(data, "towns"),
        zips=_strings(data, "zips"),
        feeders=_strings(data, "feeders"),
    )


async def receive(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    secret = gw.settings.outage_updates_secret
    if not secret:
        raise web.HTTPNotFound()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return web.json_response({"error": "body too large"}, status=413)
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return web.json_response({"error": "body too large"}, status=413)
    now = gw.clock()
    problem = signature_problem([secret], request.headers, body, now=now.timestamp())
    if problem:
        log.warning("refused an outage update: %s", problem)
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        update = parse_update(json.loads(body))
        result = await apply_update(gw.sessions, update, now, actor="outage-system")
    except json.JSONDecodeError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    except UpdateError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response(
        {"ok": True, "outage_id": result.outage_id, "created": result.created}, status=200
    )
