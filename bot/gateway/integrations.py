"""Inbound requests from the co-op's systems: signed JSON, checked before anything is read.

`signed_json` is the one check every `/integrations/...` endpoint uses (docs/integration.md,
"Signature"): the body is HMAC-SHA256 signed with `INTEGRATION_INBOUND_SECRET` over the timestamp
and the raw bytes (`bot.core.webhook_signature`), the timestamp within 5 minutes of our clock.
A request with a missing, stale or wrong signature gets 401 and changes nothing. With no secret
configured the endpoints answer 404: they do not exist.

`POST /integrations/drafts`: draft results (paid or returned), all or nothing, once per result id
(bot/store/draft_results.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot.core.webhook_signature import signature_problem
from bot.gateway.state import GATEWAY
from bot.store.db import session_scope
from bot.store.draft_results import DraftResult, DraftResultError, apply_draft_result

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_RESULTS = 1000


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def signed_json(request: web.Request) -> tuple[Any, web.Response | None]:
    """The request's JSON if its signature is good, else (None, the refusal to return)."""
    gw = request.app[GATEWAY]
    secret = gw.settings.integration_inbound_secret
    if not secret:
        return None, web.Response(status=404, text="not found")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None, _error(413, "body too large")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return None, _error(413, "body too large")
    problem = signature_problem([secret], request.headers, body, now=gw.clock().timestamp())
    if problem:
        log.warning("refused an integration request to %s: %s", request.path, problem)
        return None, _error(401, "invalid signature")
    try:
        return json.loads(body), None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, _error(400, "body must be JSON")


async def draft_results(request: web.Request) -> web.Response:
    payload, refused = await signed_json(request)
    if refused is not None:
        return refused
    raw = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_RESULTS:
        return _error(400, f'body must be {{"results": [...]}} with 1-{MAX_RESULTS} results')
    results: list[DraftResult] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        try:
            results.append(DraftResult.parse(item))
        except DraftResultError as exc:
            errors.append({"index": index, "error": str(exc)})
    if errors:
        return _error(422, "no result was applied", problems=errors)
    gw = request.app[GATEWAY]
    now = gw.clock()
    applied = duplicates = 0
    try:
        async with session_scope(gw.sessions) as session:
            for result in results:
                new, _ = await session.run_sync(apply_draft_result, result, now, "endpoint")
                applied, duplicates = applied + int(new), duplicates + int(not new)
    except DraftResultError as exc:
        return _error(422, "no result was applied", problems=[{"error": str(exc)}])
    log.info("draft results: %d applied, %d already recorded", applied, duplicates)
    return web.json_response({"applied": applied, "already_recorded": duplicates})


def setup_integrations(app: web.Application) -> None:
    app.router.add_post("/integrations/drafts", draft_results, name="integrations_drafts")
