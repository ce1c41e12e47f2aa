"""Every route of the gateway, in one place."""

from __future__ import annotations

from aiohttp import web

from bot.gateway import health, outage_updates, sms
from bot.gateway import web as webchat
from bot.gateway.account_pages import setup_account_pages
from bot.gateway.console import setup_console
from bot.gateway.integrations import setup_integrations
from bot.gateway.payment_page import setup_payment_page


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", webchat.index, name="index")
    app.router.add_get("/health", health.health, name="health")
    app.router.add_get("/livez", health.livez, name="livez")
    app.router.add_get("/readyz", health.readyz, name="readyz")
    app.router.add_get("/metrics", health.metrics, name="metrics")
    app.router.add_get("/ws", webchat.websocket, name="ws")
    app.router.add_post("/sms/twilio", sms.inbound, name="sms_inbound")
    app.router.add_post("/sms/twilio/status", sms.status_callback, name="sms_status")
    app.router.add_post("/integrations/outages", outage_updates.receive, name="outage_updates")
    app.router.add_static("/static/", webchat.STATIC_DIR, name="static", append_version=False)
    setup_console(app)  # /console/... (agent console)
    setup_payment_page(app)  # /pay/{token} (secure payment page)
    setup_integrations(app)  # /integrations/... (signed requests from the co-op's systems)
    setup_account_pages(app)  # /usage/{token}.svg, /bill/{token}.pdf (signed 15-minute links)
