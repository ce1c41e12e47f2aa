"""The closed demo conversations that fill the console's insights page and search."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.demo import generate_demo_data

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def _counts(url: str) -> tuple[int, ...]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(
                conn.execute(text(f"select count(*) from {t}")).scalar_one()
                for t in ("conversations", "messages", "handoff_requests", "outage_reports")
            )
    finally:
        engine.dispose()


def test_demo_conversations_are_seeded_once_and_the_same_every_time(tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    summary = generate_demo_data(a, members=3, usage_days=0, now=NOW, conversations=40)
    assert summary.endswith(", and 40 closed demo conversations.")
    generate_demo_data(b, members=3, usage_days=0, now=NOW, conversations=40)
    first = _counts(a)
    assert first == _counts(b)
    conversations, messages, handoffs, reports = first
    assert conversations == 40 and messages > 80 and handoffs > 0 and reports > 0
    # a second run adds members, not a second copy of the conversations
    again = generate_demo_data(a, members=3, usage_days=0, now=NOW, conversations=40)
    assert "closed demo conversations" not in again
    assert _counts(a) == first


def test_no_conversations_unless_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    summary = generate_demo_data(url, members=3, usage_days=0, now=NOW)
    assert "closed demo conversations" not in summary
    assert _counts(url) == (0, 0, 0, 0)
