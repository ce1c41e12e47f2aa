"""The gateway reads the test-only clock (JEC_FAKE_NOW_FILE) itself, exactly like the action
server: a payment link the assistant makes "now" opens on the gateway, and the after-hours sweep
closes the queue at that time, whatever the machine's real time is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.core.clock import FAKE_NOW_ENV, FAKE_NOW_FILE_ENV, clock_from_env, system_clock
from bot.services.payment_links import LinkProblem, create_link, verify_link
from bot.store.models import HandoffRequest
from gateway.agent_fixtures import console_client
from gateway.agent_helpers import add_handoff, add_member
from gateway.helpers import rows

EASTERN = ZoneInfo("America/New_York")
# Long past: with the real clock a link made at this time would have expired long ago.
MONDAY_10AM = datetime(2026, 3, 2, 10, 0, tzinfo=EASTERN)
MONDAY_AFTER_HOURS = datetime(2026, 3, 2, 17, 30, tzinfo=EASTERN)


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fake-now.txt"
    path.write_text(MONDAY_10AM.isoformat(), encoding="utf-8")
    monkeypatch.delenv(FAKE_NOW_ENV, raising=False)
    monkeypatch.setenv(FAKE_NOW_FILE_ENV, str(path))
    return path


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, sms: Any, clock_file: Path) -> TestClient:
    """The gateway as production builds it: no clock injected, so it reads the environment."""
    return await console_client(aiohttp_client, settings, None, notifier=sms)


async def test_a_link_made_now_by_the_assistant_opens_on_the_gateway(client, gw):
    assert gw.clock() == MONDAY_10AM
    member_id, account_id = await add_member(gw.sessions)
    conv = await gw.store.new_web_conversation()
    link = await create_link(  # what the action server does, with its own clock
        gw.sessions,
        secret_key=gw.settings.secret_key,
        public_base_url=gw.settings.public_base_url,
        member_id=member_id,
        account_id=account_id,
        conversation_id=conv.id,
        now=clock_from_env()(),
    )
    resp = await client.get(f"/pay/{link.token}")
    html = await resp.text()
    assert resp.status == 200, html
    assert "Add a card or bank account" in html and "account ending 4821" in html
    with pytest.raises(LinkProblem) as refused:  # what a gateway on the real clock would say
        await verify_link(gw.sessions, gw.settings.secret_key, link.token, now=system_clock())
    assert refused.value.reason == "expired"


async def test_the_after_hours_sweep_runs_at_the_test_clocks_time(
    client, gw, router, clock_file, db
):
    conv = await gw.store.get_or_create("sms", "+17065550104")
    await gw.store.set_mode(conv.id, "queued")
    await add_handoff(gw.sessions, conv.id, "sms", created_at=MONDAY_10AM)
    assert await router.sweep_after_hours() == 0  # 10 AM on the test clock: agents are working
    clock_file.write_text(MONDAY_AFTER_HOURS.isoformat(), encoding="utf-8")
    assert await router.sweep_after_hours() == 1
    [row] = await rows(db, HandoffRequest)
    assert row.status == "abandoned"
    assert row.ended_at is not None and row.ended_at.astimezone(EASTERN) == MONDAY_AFTER_HOURS
