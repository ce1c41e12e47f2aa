"""The console's outage page (`/console/outages`), for staff on dispatch.

Lists the outage reports of the last `REPORT_WINDOW` grouped by area (town, else ZIP), hazards
first and then newest first, each with the known outage it was linked to; and the known outages
that are still out, each with a "Mark restored" button. Marking one restored (any signed-in
agent or admin, CSRF-checked, audit-logged as `outage.restored` by `agent:<username>`) records
the restore; the worker's outage job then texts every member who asked (docs/agent-console.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.gateway.console import pages
from bot.gateway.console.pages import e
from bot.gateway.console.views import Ctx, _html, _redirect, route
from bot.services.outage.notices import where
from bot.services.outage.status import format_local_time
from bot.services.outage.updates import mark_restored
from bot.store.models import Outage, OutageNotification, OutageReport

REPORT_WINDOW = timedelta(hours=48)
FLASH = {
    "restored": "Marked restored. Members who asked for a text get one within a minute.",
    "not_active": "That outage is already restored or no longer exists.",
}


def _area(report: OutageReport) -> str:
    return (report.town or "").strip().title() or (report.zip or "").strip() or "Unknown area"


def outages_page(
    *,
    agent_name: str,
    presence: str,
    csrf: str,
    reports: list[OutageReport],
    outages: dict[int, Outage],
    active: list[Outage],
    recent: list[tuple[Outage, int]],
    now: datetime,
    tz: tzinfo,
    flash: str | None = None,
) -> str:
    note = f'<p class="notice" role="status">{e(flash)}</p>' if flash else ""
    by_area: dict[str, list[OutageReport]] = {}
    for r in sorted(reports, key=lambda r: (not r.hazard, -r.created_at.timestamp(), r.id)):
        by_area.setdefault(_area(r), []).append(r)
    # areas with a hazard first, then the area with the newest report
    areas = sorted(
        by_area.items(),
        key=lambda kv: (
            not any(r.hazard for r in kv[1]),
            -max(r.created_at.timestamp() for r in kv[1]),
        ),
    )
    sections = []
    for area, rows in areas:
        body = "".join(
            f"""<tr class="{"hazard" if r.hazard else ""}">
              <td>{e(r.reference)}</td>
              <td>{e(format_local_time(r.created_at, now, tz))}</td>
              <td>{e(r.address)}</td>
              <td>{_hazard_cell(r)}</td>
              <td>{"Yes" if r.notify_on_restore else "No"}</td>
              <td>{_outage_cell(outages.get(r.outage_id) if r.outage_id else None)}</td></tr>"""
            for r in rows
        )
        sections.append(
            f"""<section aria-label="Reports in {e(area)}"><h3>{e(area)} ({len(rows)})</h3>
            <table class="reports"><thead><tr><th scope="col">Reference</th>
            <th scope="col">Reported</th><th scope="col">Address</th><th scope="col">Hazard</th>
            <th scope="col">Text when back</th><th scope="col">Known outage</th></tr></thead>
            <tbody>{body}</tbody></table></section>"""
        )
    reports_html = "".join(sections) or '<p class="muted">No reports in the last 48 hours.</p>'
    active_rows = "".join(
        f"""<tr><td>{e(o.reference)}</td><td>{e(where(o))}</td>
          <td>{e(o.customers_affected)}</td><td>{e(o.crew_status or "-")}</td>
          <td>{e(_estimate(o, now, tz))}</td>
          <td><form method="post" action="/console/outages/{o.id}/restore">
            <input type="hidden" name="csrf" value="{e(csrf)}">
            <button type="submit"
              aria-label="Mark outage {e(o.reference)} restored">Mark restored</button>
          </form></td></tr>"""
        for o in active
    )
    active_html = (
        f"""<table class="outages"><thead><tr><th scope="col">Outage</th><th scope="col">Where</th>
        <th scope="col">Members out</th><th scope="col">Crews</th><th scope="col">Estimate</th>
        <th scope="col"><span class="sr">Action</span></th></tr></thead>
        <tbody>{active_rows}</tbody></table>"""
        if active
        else '<p class="muted">No known outages right now.</p>'
    )
    recent_html = "".join(
        f"<li>{e(o.reference)} {e(where(o))}: restored "
        f"{e(format_local_time(o.restored_at, now, tz) if o.restored_at else '-')}, "
        f"{texts} text{'s' if texts != 1 else ''} sent</li>"
        for o, texts in recent
    )
    body = f"""
    <h1>Outages</h1>{note}
    <p><a href="/console">Back to the queue</a></p>
    <section aria-label="Known outages"><h2>Known outages</h2>{active_html}</section>
    <section aria-label="Outage reports"><h2>Reports by area (hazards first)</h2>
    {reports_html}</section>
    <section aria-label="Restored today"><h2>Restored in the last 24 hours</h2>
    <ul>{recent_html or "<li>None.</li>"}</ul></section>"""
    return pages.layout(
        "Outages", body, agent_name=agent_name, csrf=csrf, presence=presence, page="outages"
    )


def _hazard_cell(r: OutageReport) -> str:
    if not r.hazard:
        return "-"
    return "<strong>Hazard</strong>: " + e(r.hazard_description or "reported")


def _estimate(o: Outage, now: datetime, tz: tzinfo) -> str:
    est = o.estimated_restoration_at
    return format_local_time(est, now, tz) if est else "-"


def _outage_cell(outage: Outage | None) -> str:
    if outage is None:
        return '<span class="muted">not linked</span>'
    state = "restored" if outage.restored_at else "out"
    return f"{e(outage.reference)} ({state})"


async def _page(ctx: Ctx) -> web.StreamResponse:
    gw = ctx.gw
    now = gw.clock()
    async with gw.sessions() as session:
        reports = list(
            (
                await session.scalars(
                    select(OutageReport).where(OutageReport.created_at >= now - REPORT_WINDOW)
                )
            ).all()
        )
        ids = {r.outage_id for r in reports if r.outage_id}
        outages: dict[int, Outage] = {}
        if ids:
            for o in await session.scalars(select(Outage).where(Outage.id.in_(ids))):
                outages[o.id] = o
        active = list(
            (
                await session.scalars(
                    select(Outage)
                    .options(selectinload(Outage.areas))
                    .where(Outage.restored_at.is_(None), Outage.status == "active")
                    .order_by(Outage.customers_affected.desc(), Outage.id)
                )
            ).all()
        )
        restored = (
            await session.scalars(
                select(Outage)
                .options(selectinload(Outage.areas))
                .where(Outage.restored_at >= now - timedelta(hours=24))
                .order_by(Outage.restored_at.desc())
            )
        ).all()
        counts: dict[int, Any] = dict(
            (
                await session.execute(
                    select(OutageNotification.outage_id, func.count())
                    .where(OutageNotification.status.in_(("sent", "outbox", "delivered")))
                    .group_by(OutageNotification.outage_id)
                )
            ).all()
        )
    html = outages_page(
        agent_name=ctx.agent.display_name,
        presence=ctx.agent.presence,
        csrf=ctx.session.csrf,
        reports=reports,
        outages=outages,
        active=active,
        recent=[(o, int(counts.get(o.id, 0))) for o in restored],
        now=now,
        tz=gw.profile.timezone,
        flash=FLASH.get(ctx.request.query.get("m", "")),
    )
    return _html(html)


async def _restore(ctx: Ctx) -> web.StreamResponse:
    try:
        outage_id = int(ctx.request.match_info["outage_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    done = await mark_restored(
        ctx.gw.sessions, outage_id, ctx.gw.clock(), actor=f"agent:{ctx.agent.username}"[:80]
    )
    return _redirect(f"/console/outages?m={'restored' if done else 'not_active'}")


page = route(_page)
restore = route(_restore)


def setup(r: web.UrlDispatcher) -> None:
    r.add_get("/console/outages", page, name="console_outages")
    r.add_post("/console/outages/{outage_id}/restore", restore)
