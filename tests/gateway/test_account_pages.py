"""The usage chart and bill PDF pages: served only behind a valid signed 15-minute link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.demo import generate_demo_data
from bot.gateway.app import create_app
from bot.gateway.state import GatewayOptions
from bot.services.history import bill_token
from bot.services.signed_links import BILL_PDF_SALT, sign
from bot.services.usage import chart_token

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("America/New_York"))
DANA, EARL = 1, 2  # account ids of 1000004821 and 1000007315 in the demo data


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def pages(
    aiohttp_client: Any, settings: Settings, sqlite_url: str, clock: Clock
) -> TestClient:
    generate_demo_data(sqlite_url, members=5, today=date(2026, 11, 28))
    app = create_app(settings, clock=clock, options=GatewayOptions(hello_timeout_seconds=5.0))
    return await aiohttp_client(app)


def scalar(sqlite_url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def chart_path(
    settings: Settings,
    account_id: int = DANA,
    start: date = date(2026, 10, 29),
    end: date = date(2026, 11, 27),
    now: datetime = NOW,
) -> str:
    return f"/usage/{chart_token(settings.secret_key, account_id, start, end, now=now)}.svg"


# ---------------------------------------------------------------- usage chart


async def test_chart_draws_one_bar_per_day_with_the_exact_readings(pages, settings, sqlite_url):
    resp = await pages.get(chart_path(settings))
    assert resp.status == 200
    assert resp.content_type == "image/svg+xml"
    assert resp.headers["Cache-Control"] == "no-store"
    svg = await resp.text()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in svg
    assert "Daily use, kWh: Oct 29 - Nov 27, 2026" in svg
    bars = re.findall(r"<title>([A-Z][a-z]{2} \d{1,2}): ([\d.]+) kWh</title>", svg)
    assert len(bars) == 30
    nov27 = Decimal(
        str(
            scalar(
                sqlite_url,
                "select kwh from usage_readings where account_id=:a and day='2026-11-27'",
                a=DANA,
            )
        )
    )
    assert ("Nov 27", str(nov27.quantize(Decimal("0.01")))) == (
        bars[-1][0],
        str(Decimal(bars[-1][1])),
    )
    total = scalar(
        sqlite_url,
        "select round(sum(kwh)) from usage_readings where account_id=:a "
        "and day between '2026-10-29' and '2026-11-27'",
        a=DANA,
    )
    assert f"30 days with readings, {int(total)} kWh in all" in svg


async def test_chart_link_still_works_at_14_minutes(pages, settings, clock):
    path = chart_path(settings)
    clock.now = NOW + timedelta(minutes=14)
    assert (await pages.get(path)).status == 200


async def test_expired_chart_link_gets_a_clear_page_and_no_data(pages, settings, clock):
    path = chart_path(settings)
    clock.now = NOW + timedelta(minutes=16)
    resp = await pages.get(path)
    assert resp.status == 410
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "This link has expired" in page
    assert "work for 15 minutes" in page and "usage chart again" in page
    assert "kWh" not in page and "<svg" not in page


async def test_tampered_chart_link_is_refused(pages, settings):
    good = chart_token(settings.secret_key, DANA, date(2026, 10, 29), date(2026, 11, 27), now=NOW)
    payload, stamp, signature = good.split(".")
    forged = chart_token("someone-elses-key", EARL, date(2026, 10, 29), date(2026, 11, 27), now=NOW)
    for token in (
        f"{forged.split('.')[0]}.{stamp}.{signature}",
        f"{payload}.{stamp}.{signature[:-2]}xx",
        forged,
        "not-a-token",
    ):
        resp = await pages.get(f"/usage/{token}.svg")
        assert resp.status == 404, token
        page = await resp.text()
        assert "This link isn't valid" in page and "kWh" not in page


async def test_a_bill_link_does_not_open_a_chart(pages, settings):
    token = bill_token(settings.secret_key, DANA, 12, now=NOW)
    assert (await pages.get(f"/usage/{token}.svg")).status == 404


async def test_chart_refuses_a_range_longer_than_two_months(pages, settings):
    resp = await pages.get(chart_path(settings, start=date(2025, 12, 1), end=date(2026, 11, 27)))
    assert resp.status == 404


# ---------------------------------------------------------------- bill PDF


def pdf_objects(body: bytes) -> dict[int, bytes]:
    """Parse the cross-reference table and return each object's bytes, checking every offset."""
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", body).group(1))
    assert body[startxref : startxref + 4] == b"xref"
    header = re.match(rb"xref\n0 (\d+)\n", body[startxref:])
    count = int(header.group(1))
    entries = body[startxref + header.end() :].split(b"\n")[:count]
    objects: dict[int, bytes] = {}
    for number, entry in enumerate(entries[1:], start=1):
        offset = int(entry[:10])
        assert body[offset:].startswith(f"{number} 0 obj\n".encode()), number
        objects[number] = body[offset : body.index(b"endobj", offset)]
    return objects


async def test_latest_bill_pdf_is_a_valid_one_page_pdf_with_the_amounts(
    pages, settings, sqlite_url
):
    bill_id = scalar(
        sqlite_url,
        "select id from bills where account_id=:a order by billing_date desc limit 1",
        a=DANA,
    )
    resp = await pages.get(f"/bill/{bill_token(settings.secret_key, DANA, bill_id, now=NOW)}.pdf")
    assert resp.status == 200
    assert resp.content_type == "application/pdf"
    assert resp.headers["Content-Disposition"] == 'inline; filename="bill-2026-11-4821.pdf"'
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.read()
    assert body.startswith(b"%PDF-1.4\n")
    objects = pdf_objects(body)
    assert len(objects) == 6
    assert b"/Type /Catalog" in objects[1] and b"/Count 1" in objects[2]
    stream_obj = objects[5]
    length = int(re.search(rb"/Length (\d+)", stream_obj).group(1))
    stream = stream_obj.split(b"stream\n", 1)[1]
    assert stream[length:] == b"\nendstream\n"
    content = stream[:length].decode("latin-1")
    lines = re.findall(r"\((.*?)\) Tj", content)
    assert lines == [
        "Jefferson Energy Cooperative",
        "Copy of your Nov 2026 bill",
        "",
        "Account: ending 4821",
        "Member: Dana Whitfield",
        "Service address: 412 Mill St, Wrens 30833",
        "Service period: Oct 27, 2026 to Nov 26, 2026 \\(31 days\\)",
        "Billing date: Nov 27, 2026",
        "Energy used: 927 kWh",
        "Amount of this bill: $142.87",
        "Due date: Dec 12, 2026",
        "Status on Nov 28, 2026: not paid yet",
        "",
        "Questions? Call member services at \\(706\\) 547-2167.",
    ]
    assert b"1000004821" not in body  # the full account number is never on the copy


async def test_earl_past_due_bill_shows_the_late_fee(pages, settings, sqlite_url):
    bill_id = scalar(
        sqlite_url, "select id from bills where account_id=:a and late_fee_cents > 0", a=EARL
    )
    resp = await pages.get(f"/bill/{bill_token(settings.secret_key, EARL, bill_id, now=NOW)}.pdf")
    body = await resp.read()
    assert resp.status == 200
    assert b"(Amount of this bill: $38.10) Tj" in body and b"(Late fee: $3.00) Tj" in body


async def test_expired_bill_link_gets_a_clear_page(pages, settings, clock):
    path = f"/bill/{bill_token(settings.secret_key, DANA, 12, now=NOW)}.pdf"
    clock.now = NOW + timedelta(minutes=15, seconds=1)
    resp = await pages.get(path)
    assert resp.status == 410 and resp.content_type == "text/html"
    page = await resp.text()
    assert "This link has expired" in page and "bill again" in page and "$" not in page


async def test_a_bill_of_another_account_is_never_served(pages, settings, sqlite_url):
    earl_bill = scalar(sqlite_url, "select id from bills where account_id=:a limit 1", a=EARL)
    # signed with our key, but the bill does not belong to the account in the link
    token = sign(settings.secret_key, BILL_PDF_SALT, {"a": DANA, "b": earl_bill}, now=NOW)
    resp = await pages.get(f"/bill/{token}.pdf")
    assert resp.status == 404 and "%PDF" not in await resp.text()


async def test_tampered_bill_link_is_refused(pages, settings):
    good = bill_token(settings.secret_key, DANA, 12, now=NOW)
    _payload, stamp, signature = good.split(".")
    other = bill_token(settings.secret_key, EARL, 24, now=NOW).split(".")[0]
    for token in (
        f"{other}.{stamp}.{signature}",
        chart_token(settings.secret_key, DANA, date(2026, 11, 1), date(2026, 11, 27), now=NOW),
    ):
        resp = await pages.get(f"/bill/{token}.pdf")
        assert resp.status == 404
        assert "This link isn't valid" in await resp.text()
