"""Deterministic demo data: the named accounts of docs/demo-accounts.md plus generated members.

`jecbot demo-data` (and `make run` on an empty database) calls `generate_demo_data`. The same
(seed, today) always produces the same rows, ids included, on an empty database, so the README,
tests and newcomers can rely on them. Amounts and dates are relative to "today", so a balance is
always current.

The demo is an entry point, not data-layer code: it needs the co-op's business rules (late fee,
due days, draft days, time zone), which it takes from the profile and `bot.services`. The parts:
`catalog` (towns, names, test cards), `builder` (rows from plans, and the writer), `named` (the
documented accounts), `generated` (random members) and `outages`.

Speed matters (40,000 members for scale tests): rows are built as plain dicts with ids assigned
here and written with SQLAlchemy Core `executemany` in chunks, in one transaction, never as ORM
objects one by one. Money is integer cents throughout; every timestamp is aware UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.core.dates import local_date
from bot.demo.builder import TABLES, DemoBuilder, DemoWriter, local_time
from bot.demo.conversations import add_demo_conversations
from bot.demo.generated import add_generated_members
from bot.demo.named import DANA_ACCOUNT, NAMED_MEMBERS, add_named_accounts
from bot.demo.outages import add_outages
from bot.profile import load_profile
from bot.store.db import make_sync_engine
from bot.store.migrate import ensure_schema, sync_id_sequences
from bot.store.models import Account, Contact, Member

__all__ = ["DEFAULT_PROFILE", "generate_demo_data"]

DEFAULT_PROFILE = Settings().coop_profile


def _existing(conn: Connection, column: Any) -> set[str]:
    return set(conn.execute(select(column)).scalars())


def generate_demo_data(
    database_url: str,
    *,
    members: int = 300,
    seed: int = 2026,
    only_if_empty: bool = False,
    usage_days: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
    profile_path: Path | None = None,
    conversations: int = 0,
) -> str:
    """Load the named demo accounts plus `members` generated members; return a summary.

    `today` (local date in the profile's time zone) and `now` (aware) default to the clock; given
    `today` alone, "now" is noon local time that day, so (seed, today) fully determines the rows.
    Runs the migrations first when the schema is missing. With `only_if_empty`, does nothing if
    members exist. `conversations` closed demo conversations (with handoffs, survey answers and
    outage reports) fill the console's insights page and search (`jecbot demo-data` asks for 60).
    """
    profile = load_profile(profile_path or DEFAULT_PROFILE)
    if now is None:
        now = local_time(today, 12, 0, profile.timezone) if today is not None else datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = today or local_date(now, profile.timezone)
    usage_days = 365 if usage_days is None else max(0, usage_days)
    shown_url = make_url(database_url).render_as_string(hide_password=True)

    ensure_schema(database_url)
    started = time.monotonic()
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as conn:
            existing_members = conn.execute(select(func.count()).select_from(Member)).scalar_one()
            if existing_members and only_if_empty:
                return (
                    f"Demo data not loaded: {shown_url} already has {existing_members:,} "
                    "members (--if-empty leaves a database with members alone)."
                )
            writer = DemoWriter(conn)
            existing_accounts = _existing(conn, Account.__table__.c.account_number)
            g = DemoBuilder(
                writer,
                profile,
                seed,
                today,
                now,
                usage_days,
                existing_accounts,
                _existing(conn, Contact.__table__.c.value),
            )
            named_skipped = DANA_ACCOUNT in existing_accounts
            if not named_skipped:
                add_named_accounts(g)
            outages = add_outages(g)
            writer.flush()
            add_generated_members(
                g, members, writer.next_id["members"] - 1, progress=members >= 2000
            )
            writer.flush()
            seeded = add_demo_conversations(conn, now, conversations, seed) if conversations else 0
            sync_id_sequences(conn, [t.name for t in TABLES])
    finally:
        engine.dispose()

    c = writer.counts
    named = (
        "the named demo accounts were already there"
        if named_skipped
        else f"{NAMED_MEMBERS} named demo members (docs/demo-accounts.md)"
    )
    return (
        f"Loaded demo data into {shown_url} in {time.monotonic() - started:.1f}s "
        f"(seed {seed}, today {today.isoformat()}): {c['members']:,} members "
        f"({named}; {members:,} generated) holding {c['accounts']:,} accounts, "
        f"{c['contacts']:,} contacts, {c['bills']:,} bills, {c['payments']:,} payments, "
        f"{c['usage_readings']:,} daily usage readings ({usage_days} days), "
        f"{g.card_methods:,} saved cards and {g.bank_methods:,} bank accounts, "
        f"{c['draft_enrollments']:,} bank drafts, {g.past_due_accounts:,} accounts with a "
        f"past-due bill, and {len(outages)} active outage(s)"
        f"{': ' + ', '.join(outages) if outages else ''}"
        f"{f', and {seeded} closed demo conversations' if seeded else ''}."
    )
