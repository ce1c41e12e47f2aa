"""The agent console (`/console`): sign-in, the handoff queue, conversations, presence, callbacks.

`setup_console(app)` mounts it; its handlers use the gateway's container and the handoff router
that the app's cleanup context builds (`bot.gateway.app`).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.gateway.console import outages, views
from bot.gateway.console.auth import SessionCodec
from bot.gateway.console.sessions import HashingPool
from bot.gateway.state import SETTINGS

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def _close_pool(app: web.Application) -> None:
    app[views.HASHING].close()


def setup_console(app: web.Application) -> None:
    app[views.CODEC] = SessionCodec(app[SETTINGS])
    app[views.HASHING] = HashingPool()
    app.on_cleanup.append(_close_pool)
    r = app.router
    r.add_get("/console/login", views.login_form, name="console_login")
    r.add_post("/console/login", views.login)
    r.add_post("/console/logout", views.logout)
    r.add_get("/console", views.home, name="console")
    r.add_get("/console/queue", views.queue_fragment)
    r.add_get("/console/search", views.search_closed)
    r.add_get("/console/team", views.team_view)
    r.add_get("/console/insights", views.insights_view)
    r.add_get("/console/insights.csv", views.insights_csv)
    r.add_post("/console/handoffs/{handoff_id}/reassign", views.reassign)
    r.add_post("/console/agents/{agent_id}/{action}", views.administer)
    r.add_get("/console/events", views.events)
    r.add_post("/console/heartbeat", views.heartbeat)
    r.add_post("/console/presence", views.presence)
    r.add_get("/console/handoffs/{handoff_id}", views.conversation)
    r.add_post("/console/handoffs/{handoff_id}/take", views.take)
    r.add_post("/console/handoffs/{handoff_id}/reply", views.reply)
    r.add_post("/console/handoffs/{handoff_id}/transfer", views.transfer)
    r.add_post("/console/handoffs/{handoff_id}/end", views.end)
    r.add_post("/console/handoffs/{handoff_id}/notes", views.add_note)
    r.add_post("/console/handoffs/{handoff_id}/typing", views.typing)
    r.add_post("/console/callbacks/{item_id}/done", views.callback_done)
    r.add_post("/console/service-requests/{item_id}/done", views.service_request_done)
    outages.setup(r)  # /console/outages (dispatch: reports by area, mark restored)
    r.add_static("/console/static/", STATIC_DIR, append_version=False)
