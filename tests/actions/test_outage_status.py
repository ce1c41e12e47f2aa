"""Outage status by town or ZIP, from the database, as a member reads it."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from bot.actions.outage_status import ActionOutageStatus
from bot.store.db import session_scope
from bot.store.models import Outage, OutageArea
from tests.actions.conftest import TUESDAY_10AM, run_action, tracker_for

NOW = TUESDAY_10AM


@pytest.fixture
async def outages(session_factory) -> None:
    """Wrens: storm damage, 240 homes, estimate 1:30 PM. Louisville: assessing, no estimate.
    Thomson: restored this morning (must not be reported as active)."""
    async with session_scope(session_factory) as session:
        session.add_all(
            [
                Outage(
                    reference="O-1",
                    status="active",
                    cause="storm damage",
                    crew_status="on site",
                    customers_affected=240,
                    started_at=NOW - timedelta(hours=2),
                    estimated_restoration_at=NOW + timedelta(hours=3, minutes=30),
                    areas=[OutageArea(town="Wrens", zip="30833")],
                ),
                Outage(
                    reference="O-2",
                    status="active",
                    cause=None,
                    crew_status="assessing",
                    customers_affected=85,
                    started_at=NOW - timedelta(minutes=40),
                    areas=[OutageArea(town="Louisville", zip="30434")],
                ),
                Outage(
                    reference="O-3",
                    status="restored",
                    cause="tree on line",
                    customers_affected=12,
                    started_at=NOW - timedelta(hours=6),
                    restored_at=NOW - timedelta(hours=1),
                    areas=[OutageArea(town="Thomson", zip="30824")],
                ),
            ]
        )


def town(value: str) -> list[dict]:
    return [{"entity": "town", "value": value, "start": 0, "end": len(value)}]


def zip_code(value: str) -> list[dict]:
    return [{"entity": "zip_code", "value": value, "start": 0, "end": len(value)}]


async def test_known_outage_by_town_gives_cause_and_a_labelled_estimate(make_deps, outages) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOutageStatus(),
        tracker_for("is the power out in wrens", "outage_status", town("wrens")),
    )

    assert [m["text"] for m in messages] == [
        "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
        "Crews: on site. Estimated restoration: 1:30 PM, an estimate that may change."
    ]
    assert events == []


async def test_outage_without_an_estimate_says_crews_are_assessing(make_deps, outages) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("outage in 30434?", "outage_status", zip_code("30434"))
    )

    assert [m["text"] for m in messages] == [
        "Crews already know about an outage near Louisville (about 85 homes, cause not known yet). "
        "Crews are assessing it; there's no restoration estimate yet."
    ]


async def test_no_known_outage_says_so_and_gives_the_24_7_line(make_deps, outages) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("power out in thomson", "outage_status", town("thomson"))
    )

    assert [m["text"] for m in messages] == [
        "I don't see a known outage in Thomson right now. If your power is out, please call our "
        "24/7 line, 1-800-262-5131, to report it."
    ]


async def test_no_town_or_zip_asks_for_one_without_touching_the_database(make_deps) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("is there an outage", "outage_status")
    )

    assert [m["text"] for m in messages] == [
        "Which town or 5-digit ZIP code should I check for outages?"
    ]


async def test_estimate_is_shown_in_eastern_time_whatever_the_clock_zone(
    make_deps, outages
) -> None:
    make_deps(NOW.astimezone(UTC))
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("wrens", "outage_status", town("Wrens"))
    )

    assert "Estimated restoration: 1:30 PM, an estimate that may change." in messages[0]["text"]
