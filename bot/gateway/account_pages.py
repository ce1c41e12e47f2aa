"""Read-only account documents behind signed 15-minute links: the usage chart and a bill's PDF.

- `GET /usage/{token}.svg`: a bar chart of daily kWh (server-side SVG text, no scripts).
- `GET /bill/{token}.pdf`: a one-page copy of a bill (bot.services.history.simple_pdf).

The assistant makes the links for a verified member (bot/actions/usage.py, history.py); the link is
the only key, so nothing is shown without a valid signature. An expired or tampered link gets a
short HTML page that says so (410 or 404) and holds no account data. Responses are `no-store`.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from sqlalchemy import select

from bot.adapters.sql_member_services import bill_record
from bot.core.dates import local_date
from bot.gateway.state import GATEWAY
from bot.services.history import bill_copy_lines, read_bill_token, simple_pdf
from bot.services.signed_links import LinkRefused
from bot.services.usage import read_chart_token, render_usage_svg
from bot.store.models import Bill

_TOKEN = r"[A-Za-z0-9_\-\.]{1,600}"
_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_TITLES = {"expired": "This link has expired", "invalid": "This link isn't valid"}


def problem_page(reason: str, what: str) -> web.Response:
    """A clear page for a link that cannot be used, with no account data in it."""
    title = _TITLES.get(reason, _TITLES["invalid"])
    detail = (
        "Links to your usage chart and bills work for 15 minutes."
        if reason == "expired"
        else "This link was changed or isn't one of ours."
    )
    html = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{escape(title, quote=False)}</title></head>
<body>
<main>
<h1>{escape(title, quote=False)}</h1>
<p role="alert">{escape(detail, quote=False)} Ask the assistant for your
{escape(what, quote=False)} again and you'll get a new link.</p>
</main>
</body>
</html>"""
    return web.Response(
        text=html,
        status=410 if reason == "expired" else 404,
        content_type="text/html",
        headers={**_HEADERS, "Content-Security-Policy": "default-src 'none'"},
    )


async def usage_chart(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        link = read_chart_token(gw.settings.secret_key, request.match_info["token"], now=gw.clock())
    except LinkRefused as refused:
        return problem_page(refused.reason, "usage chart")
    if await gw.members.account(link.account_id) is None:
        return problem_page("invalid", "usage chart")
    days = await gw.members.usage(link.account_id, link.start, link.end)
    svg = render_usage_svg(days, link.start, link.end)
    return web.Response(
        text=svg,
        content_type="image/svg+xml",
        headers={
            **_HEADERS,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


async def bill_pdf(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        link = read_bill_token(gw.settings.secret_key, request.match_info["token"], now=gw.clock())
    except LinkRefused as refused:
        return problem_page(refused.reason, "bill")
    account = await gw.members.account(link.account_id)
    async with gw.sessions() as session:
        row = await session.scalar(
            select(Bill).where(Bill.id == link.bill_id, Bill.account_id == link.account_id)
        )
        bill = bill_record(row) if row is not None else None
    if account is None or bill is None:
        return problem_page("invalid", "bill")
    lines = bill_copy_lines(
        bill,
        account,
        coop_name=gw.texts.coop_name,
        phone=gw.texts.member_services_phone,
        made_on=local_date(gw.clock(), gw.profile.timezone),
    )
    body = simple_pdf(lines, title=lines[1])
    filename = f"bill-{bill.billing_date:%Y-%m}-{account.last4}.pdf"
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={**_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'},
    )


def setup_account_pages(app: web.Application) -> None:
    app.router.add_get("/usage/{token:" + _TOKEN + "}.svg", usage_chart, name="usage_chart")
    app.router.add_get("/bill/{token:" + _TOKEN + "}.pdf", bill_pdf, name="bill_pdf")
