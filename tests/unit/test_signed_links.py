"""Signed links to account documents (usage chart, bill PDF): round trip, expiry, salt, junk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services.signed_links import LinkRefused, sign, unsign

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
