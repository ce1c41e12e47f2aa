"""Shared set-up for action tests that run on the generated demo database (today Sat Nov 28 2026).

Why: the settings and service-request action tests each merged the same domain files, built the
same demo database and looked up a confirmed member the same way; one copy keeps them in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import PROJECT_ROOT
from bot.demo import generate_demo_data
from bot.store.models import Account
from tests.actions.identity_helpers import DEMO_TODAY, NOW, verified_slots

# One account of each named demo member (docs/demo-accounts.md), with the first name the
# assistant greets: a reply about every one of them shows each kind of account situation.
NAMED_ACCOUNTS = (
    ("1000004821", "Dana"),
    ("1000007315", "Earl"),
    ("1000009914", "Bobbie Jo"),
    ("1000005560", "Marcus"),
    ("1000002209", "Loretta"),
)


def merged_domain(*names: str) -> dict[str, Any]:
    """The slots and forms of the named domain/*.yml files, merged in order."""
    merged: dict[str, Any] = {"slots": {}, "forms": {}}
    for name in names:
        data = yaml.safe_load(Path(PROJECT_ROOT / "domain" / f"{name}.yml").read_text())
        merged["slots"].update(data.get("slots") or {})
        merged["forms"].update(data.get("forms") or {})
    return merged


def demo_deps(sqlite_url: str, make_deps: Any) -> Any:
    """Five demo members in the SQLite test database, and action deps whose clock reads NOW."""
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def confirmed(
    session_factory: async_sessionmaker[AsyncSession], number: str, first_name: str
) -> dict[str, Any]:
    """Slots of a member who passed the one-time code for the account with this number."""
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == number))
        ).one()
    return verified_slots(account.member_id, account.id, first_name, number[-4:], tier="confirmed")
