"""The console's outage page in Chromium: hazards first, and "Mark restored" records the restore
the worker then texts members about."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gateway.agent_helpers import PASSWORD, add_member
from playwright.async_api import expect
from sqlalchemy import select

from bot.gateway.agents_cli import create_agent
from bot.gateway.state import GATEWAY
from bot.services.outage import OutageService
from bot.store.db import session_scope
from bot.store.models import Outage, OutageArea

from .conftest import screenshot

pytestmark = pytest.mark.browser


async def test_dispatch_sees_hazards_first_and_marks_an_outage_restored(stack, browser):
    gw = stack["app"][GATEWAY]
    create_agent(stack["settings"], "maria", "Maria Lopez", PASSWORD)
    _member, account = await add_member(gw.sessions)
    async with session_scope(gw.sessions) as s:
        outage = Outage(
            reference="OMS-88",
            started_at=gw.clock() - timedelta(hours=1),
            customers_affected=120,
            crew_status="on site",
        )
        s.add(outage)
        await s.flush()
        s.add(OutageArea(outage_id=outage.id, town="Wrens"))
    service = OutageService(gw.sessions, "R-", gw.profile.timezone)
    common = {"town": "Wrens", "zip": "30833", "channel": "sms", "conversation_id": None}
    plain = await service.report(
        account_id=account,
        address="412 Mill St, Wrens",
        notify_on_restore=True,
        notify_phone="+17065550101",
        idempotency_key=None,
        now=gw.clock() - timedelta(minutes=5),
        **common,
    )
    hazard = await service.report(
        account_id=None,
        address="9 Railroad Ave, Wrens",
        hazard=True,
        hazard_description="line down across the road",
        idempotency_key=None,
        now=gw.clock() - timedelta(minutes=40),
        **common,
    )

    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(stack["base"] + "/console")
    await page.get_by_label("Username").fill("maria")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Outages").click()
    await expect(page.get_by_role("heading", name="Outages", exact=True)).to_be_visible()
    rows = page.locator("table.reports tbody tr")
    await expect(rows.nth(0)).to_contain_text(hazard.reference)
    await expect(rows.nth(0)).to_contain_text("line down across the road")
    await expect(rows.nth(1)).to_contain_text(plain.reference)
    await screenshot(page, "console-outages", publish=True)

    await page.get_by_role("button", name="Mark outage OMS-88 restored").click()
    await expect(page.get_by_role("status")).to_contain_text("Marked restored.")
    await expect(page.get_by_text("No known outages right now.")).to_be_visible()
    async with gw.sessions() as s:
        restored = await s.scalar(select(Outage).where(Outage.reference == "OMS-88"))
    assert restored.status == "restored" and restored.restored_at == gw.clock()
