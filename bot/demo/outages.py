"""The demo's two active outages (docs/demo-accounts.md): Wrens with an estimate, Louisville still
being assessed, both timed relative to the run's "now"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.demo.builder import DemoBuilder
from bot.store.models import Outage


def add_outages(g: DemoBuilder) -> list[str]:
    """The two active outages of docs/demo-accounts.md; skipped if already loaded today."""
    made = []
    specs: list[dict[str, Any]] = [
        dict(
            town="Wrens",
            zip="30833",
            feeder="WRE-2",
            cause="storm damage",
            crew_status="on site",
            customers_affected=240,
            started_at=g.now - timedelta(hours=2, minutes=10),
            estimated_restoration_at=g.now + timedelta(hours=3),
        ),
        dict(
            town="Louisville",
            zip="30434",
            feeder="LOU-1",
            cause=None,
            crew_status="assessing",
            customers_affected=85,
            started_at=g.now - timedelta(minutes=40),
            estimated_restoration_at=None,
        ),
    ]
    existing = set(g.w.conn.execute(select(Outage.__table__.c.reference)).scalars())
    for n, spec in enumerate(specs, start=1):
        reference = f"O-{g.today:%y%m%d}-{n}"
        if reference in existing:
            continue
        outage_id = g.w.add(
            "outages",
            {
                "reference": reference,
                "status": "active",
                "cause": spec["cause"],
                "crew_status": spec["crew_status"],
                "customers_affected": spec["customers_affected"],
                "started_at": spec["started_at"],
                "estimated_restoration_at": spec["estimated_restoration_at"],
                "restored_at": None,
                "source": "outage management system",
            },
        )
        g.w.add(
            "outage_areas",
            {
                "outage_id": outage_id,
                "town": spec["town"],
                "zip": spec["zip"],
                "feeder": spec["feeder"],
            },
        )
        made.append(f"{spec['town']} ({spec['zip']})")
    return made
