"""Health and metrics endpoints for load balancers, orchestrators and Prometheus.

- `GET /livez`: the process is alive and its event loop answers. No dependency is checked, so a
  Rasa or database outage never makes an orchestrator restart a healthy gateway.
- `GET /readyz`: may this gateway take traffic? Checks the database, Rasa, the action server and
  Redis (when REDIS_URL is set), as READY_CHECKS selects; 200 when all are up, else 503 with a
  JSON body naming what is down.
- `GET /health`: the older combined view, kept for existing clients: 200 while the database works
  (member messages are stored and never lost, even with Rasa down: replies apologise), `status`
  "degraded" while Rasa is unreachable, 503 when the database does not answer.
- `GET /metrics`: Prometheus text format (`bot.ops.metrics`), only with the METRICS_TOKEN bearer
  token or, without a token, from METRICS_ALLOW networks and never through a proxy.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import text

from bot.config import Settings
from bot.gateway.state import GATEWAY, Gateway
from bot.ops.metrics import CONTENT_TYPE, GatewayMetrics

log = logging.getLogger(__name__)

METRICS = web.AppKey("metrics", GatewayMetrics)
CHECK_TIMEOUT_SECONDS = 3.0
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _database(gw: Gateway) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with gw.engine.connect() as conn:
                await conn.execute(text("select 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"error: {type(exc).__name__}"


async def _rasa(gw: Gateway) -> str:
    return "ok" if await gw.rasa.ping() else "unreachable"


async def _actions(gw: Gateway) -> str:
    s = gw.settings
    url = f"http://{s.action_server_host}:{s.action_server_port}/health"
    try:
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_SECONDS)
        async with gw.http.get(url, timeout=timeout) as resp:
            return "ok" if resp.status == 200 else f"error: HTTP {resp.status}"
    except (TimeoutError, aiohttp.ClientError):
        return "unreachable"


async def _redis(gw: Gateway) -> str:
    client = aioredis.from_url(
        gw.settings.redis_url,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await client.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"error: {type(exc).__name__}"
    finally:
        await client.aclose()


CHECKS: dict[str, Callable[[Gateway], Awaitable[str]]] = {
    "database": _database,
    "rasa": _rasa,
    "actions": _actions,
    "redis": _redis,
}


def _selected(settings: Settings) -> list[str]:
    return [c for c in settings.ready_checks if c != "redis" or settings.redis_url]


async def run_checks(app: web.Application) -> dict[str, str]:
    """The selected readiness checks, concurrently; also sets `jec_dependency_up`."""
    gw = app[GATEWAY]
    names = _selected(gw.settings)
    results = dict(zip(names, await asyncio.gather(*(CHECKS[n](gw) for n in names)), strict=True))
    metrics = app.get(METRICS)
    if metrics is not None:
        for name, result in results.items():
            metrics.dependency_up.labels(name=name).set(1 if result == "ok" else 0)
    return results


async def readyz(request: web.Request) -> web.Response:
    results = await run_checks(request.app)
    down = sorted(name for name, result in results.items() if result != "ok")
    body = {"status": "ready" if not down else "not ready", "checks": results, "down": down}
    if down:
        log.warning("not ready: %s", ", ".join(f"{n} ({results[n]})" for n in down))
    return web.json_response(body, status=503 if down else 200)


async def health(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    database, rasa = await asyncio.gather(_database(gw), _rasa(gw))
    healthy = database == "ok"
    body = {
        "status": ("ok" if rasa == "ok" else "degraded") if healthy else "down",
        "database": database,
        "rasa": rasa,
    }
    return web.json_response(body, status=200 if healthy else 503)


def metrics_allowed(request: web.Request, settings: Settings) -> bool:
    """The token when one is set; otherwise a direct request from an allowed network."""
    if settings.metrics_token:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        return hmac.compare_digest(given.encode(), expected.encode())
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False  # came through a proxy: the peer address is the proxy's, not the caller's
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(n, strict=False) for n in settings.metrics_allow)


async def metrics(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    if not metrics_allowed(request, gw.settings):
        return web.json_response({"error": "forbidden"}, status=403)
    registry = request.app[METRICS]
    await run_checks(request.app)  # jec_dependency_up, fresh at every scrape
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS * 2):
            await registry.refresh(gw.sessions, gw.clock())
    except Exception as exc:  # noqa: BLE001 - in-process metrics are still worth serving
        log.warning("database metrics unavailable: %s", type(exc).__name__)
    body = registry.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
