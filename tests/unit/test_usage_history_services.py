"""Pure pieces of journeys 8 and 9: signed links, the SVG chart, the tiny PDF writer."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.services.history import simple_pdf
from bot.services.members import UsageDay
from bot.services.signed_links import LinkRefused, sign, unsign
from bot.services.usage import change_percent, render_usage_svg

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


def test_signed_link_round_trip_expiry_and_salt():
    token = sign("k", "usage-chart", {"a": 1}, now=NOW)
    assert unsign("k", "usage-chart", token, now=NOW + timedelta(minutes=15)) == {"a": 1}
    for now, salt, reason in (
        (NOW + timedelta(minutes=16), "usage-chart", "expired"),
        (NOW - timedelta(minutes=5), "usage-chart", "expired"),  # dated in the future
        (NOW, "bill-pdf", "invalid"),
    ):
        with pytest.raises(LinkRefused) as refused:
            unsign("k", salt, token, now=now)
        assert refused.value.reason == reason
    for junk in (None, "", "x" * 601, 42):
        with pytest.raises(LinkRefused):
            unsign("k", "usage-chart", junk, now=NOW)


def test_svg_chart_leaves_gaps_for_missing_days_and_escapes_text():
    start = date(2026, 11, 1)
    days = [UsageDay(start + timedelta(days=i), Decimal("20.50") + i, 250) for i in (0, 1, 3)]
    svg = render_usage_svg(days, start, start + timedelta(days=3), title="Use <&>")
    assert svg.count('fill="#2f6f4f"') == 3
    assert "<title>Nov 3:" not in svg and "<title>Nov 4: 23.50 kWh</title>" in svg
    assert "Use &lt;&amp;&gt;, kWh" in svg and "<script" not in svg
    assert "3 days with readings, 66 kWh in all" in svg
    empty = render_usage_svg([], start, start + timedelta(days=29))
    assert "No readings for these days." in empty and 'fill="#2f6f4f"' not in empty


def test_change_percent_is_rounded_and_none_without_a_base():
    assert change_percent(Decimal(927), Decimal(720)) == Decimal("28.8")
    assert change_percent(Decimal(5), Decimal(0)) is None


def test_pdf_escapes_parentheses_backslashes_and_non_latin_text():
    body = simple_pdf(["Title (draft)", "a\\b", "caf\u00e9 \u2603"], title="T")
    assert b"(Title \\(draft\\)) Tj" in body
    assert b"(a\\\\b) Tj" in body
    assert "(caf\u00e9 ?) Tj".encode("latin-1") in body
    start = int(re.search(rb"startxref\n(\d+)\n", body).group(1))
    assert body[start:].startswith(b"xref\n0 7\n")
    assert body.endswith(b"%%EOF\n")
