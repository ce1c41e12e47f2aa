"""The agent desk in Chromium against the real gateway (fake Rasa): the handover summary, canned
replies with placeholders on web and SMS, a private note that never reaches the member, typing
both ways, the SMS length counter, the survey, search, and auto-assignment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from gateway.agent_fixtures import RecordingSms
from gateway.agent_helpers import PASSWORD, Clock, add_member
from playwright.async_api import expect
from sqlalchemy import select, update

from bot.config import Settings
from bot.gateway.agents_cli import create_agent
from bot.gateway.handoff import SURVEY_QUESTION
from bot.gateway.state import GATEWAY
from bot.store.db import session_scope
from bot.store.models import Agent, HandoffRequest
from tests.store import rows as seed_rows

from .conftest import screenshot, served_gateway

pytestmark = pytest.mark.browser
NOTE = "Staff only: second high-bill call this month, offer a meter reread"


@pytest.fixture
async def desk(sqlite_url: str, tmp_path: Path, request: Any) -> AsyncIterator[dict[str, Any]]:
    extra = getattr(request, "param", {}) or {}
    sms = RecordingSms()
    settings_more = {"console_survey": "on", **extra}
    async with served_gateway(sqlite_url, tmp_path, Clock(), sms, **settings_more) as served:
        yield {
            "base": served.base,
            "gw": served.app[GATEWAY],
            "settings": served.settings,
            "rasa": served.rasa,
            "sms": sms,
        }


async def send(page: Any, text: str) -> None:
    await page.locator("#jecw-input").fill(text)
    await page.locator("#jecw-input").press("Enter")


async def sign_in(page: Any, base: str, username: str) -> None:
    await page.goto(base + "/console")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()


async def dana_with_a_bill(gw: Any) -> tuple[int, int]:
    member_id, account_id = await add_member(gw.sessions)
    async with session_scope(gw.sessions) as session:
        session.add(
            seed_rows.bill(
                account_id,
                14287,
                (date(2026, 10, 15), date(2026, 11, 14)),
                date(2026, 11, 16),
                date(2026, 12, 15),
                kwh=1020,
            )
        )
    return member_id, account_id


async def verify_waiting(gw: Any, member_id: int, account_id: int) -> HandoffRequest:
    """The fake Rasa queued the member unverified; make it Dana's verified account."""
    async with session_scope(gw.sessions) as session:
        row = await session.scalar(select(HandoffRequest).order_by(HandoffRequest.id.desc()))
        row.member_id, row.account_id = member_id, account_id
        row.summary = '"talk to a person"'
        return row


async def test_web_member_and_agent_canned_reply_note_typing_survey_and_search(desk, browser):
    gw = desk["gw"]
    create_agent(desk["settings"], "maria", "Maria Lopez", PASSWORD)
    member_id, account_id = await dana_with_a_bill(gw)
    member_ctx = await browser.new_context(viewport={"width": 1000, "height": 800})
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    member = await member_ctx.new_page()
    agent = await agent_ctx.new_page()

    await sign_in(agent, desk["base"], "maria")
    await member.goto(desk["base"] + "/")
    await member.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(member, "talk to a person")
    member_log = member.get_by_role("log", name="Conversation")
    await expect(member_log).to_contain_text("number 1 in line")
    await verify_waiting(gw, member_id, account_id)
    # the open queue page heard of it: a sound and (when allowed) a browser notification
    await expect(agent.locator("body")).to_have_attribute("data-last-alert", "queued")
    await expect(agent.locator("#queue-region")).to_contain_text("high bill")

    await agent.get_by_role("button", name="Take conversation 1 (high bill)").click()
    summary = agent.locator("#handover-summary")
    await expect(summary).to_contain_text("Dana Whitfield, account ending 4821")
    await expect(summary).to_contain_text("verified (account number + ZIP)")
    await expect(summary).to_contain_text("Web chat")
    await expect(summary).to_contain_text("talk to a person")

    # typing, both ways (the widget says so at most every 3 seconds: it did for its first message)
    await member.wait_for_timeout(3100)
    await member.locator("#jecw-input").fill("are you there")
    await expect(agent.locator("#member-typing")).to_be_visible()
    await agent.get_by_label("Reply as Maria").press_sequentially("One moment")
    await expect(member.locator(".jecw-typing")).to_contain_text("Maria is typing")
    await agent.get_by_label("Reply as Maria").fill("")

    # a canned reply, filled from the account
    await agent.get_by_label("Canned reply").select_option(label="Balance and due date")
    await expect(agent.get_by_label("Reply as Maria")).to_have_value(
        "Dana, your balance is $142.87, due December 15."
    )
    await agent.get_by_role("button", name="Send", exact=True).click()
    await expect(member_log).to_contain_text("Dana, your balance is $142.87, due December 15.")

    # a private note stays with staff
    await agent.get_by_label("Add a private note").fill(NOTE)
    await agent.get_by_role("button", name="Save note").click()
    await expect(agent.locator("#notes")).to_contain_text(NOTE)
    await screenshot(agent, "console-desk", publish=True)
    await agent.get_by_label("Reply as Maria").fill("Anything else?")
    await agent.get_by_role("button", name="Send", exact=True).click()
    await expect(member_log).to_contain_text("Anything else?")
    assert "meter reread" not in await member_log.inner_text()

    # hand back: the survey; the member answers with a button
    await agent.get_by_role("button", name="End and hand back to the assistant").click()
    await expect(member_log).to_contain_text(SURVEY_QUESTION)
    await screenshot(member, "widget-survey", publish=True)
    await member.get_by_role("button", name="5", exact=True).click()
    await expect(member_log).to_contain_text("Thank you for your rating.")
    async with session_scope(gw.sessions) as session:
        row = await session.scalar(select(HandoffRequest))
        assert row.survey_score == 5
    assert "meter reread" not in await member_log.inner_text()
    assert "5" not in [c["message"] for c in desk["rasa"].calls]

    # search finds the closed conversation
    await agent.get_by_role("link", name="Closed conversations").click()
    await agent.get_by_label("Member name or number").fill("Dana")
    await agent.get_by_role("button", name="Search").click()
    results = agent.locator("#search-results")
    await expect(results).to_contain_text("Dana Whitfield")
    await expect(results).to_contain_text("ending 4821")
    await screenshot(agent, "console-search", publish=True)
    await member_ctx.close()
    await agent_ctx.close()


async def test_sms_reply_counter_and_canned_reply_by_text(desk, browser):
    gw = desk["gw"]
    create_agent(desk["settings"], "maria", "Maria Lopez", PASSWORD)
    member_id, account_id = await dana_with_a_bill(gw)
    conv = await gw.store.get_or_create("sms", "+17065550101")
    await gw.service.accept_member_message(conv, "I need help with my bill")
    async with session_scope(gw.sessions) as session:
        row = HandoffRequest(
            conversation_id=conv.id,
            channel="sms",
            status="waiting",
            topic="high bill",
            verified_tier="verified",
            verified_how="account number + ZIP",
            account_id=account_id,
            member_id=member_id,
            created_at=gw.clock(),
        )
        session.add(row)
        await session.flush()
        handoff_id = row.id
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await sign_in(page, desk["base"], "maria")
    await page.goto(f"{desk['base']}/console/handoffs/{handoff_id}")
    await page.get_by_role("button", name="Take this conversation").click()
    box = page.get_by_label("Reply as Maria")
    count = page.locator("#sms-count")
    await box.fill("Hello Dana")
    await expect(count).to_have_text("10 characters, 1 text message (GSM-7)")
    await box.fill("x" * 161)
    await expect(count).to_contain_text("161 characters, 2 text messages (GSM-7)")
    await box.fill("Thanks \U0001f600")
    await expect(count).to_contain_text("(Unicode")
    await screenshot(page, "console-sms-counter", publish=True)
    await box.fill("")
    await page.get_by_label("Canned reply").select_option(label="Greeting")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.locator("#transcript")).to_contain_text("Hi Dana, this is Maria")
    assert (
        "+17065550101",
        "Hi Dana, this is Maria from member services. How can I help?",
    ) in desk["sms"].sent
    await page.close()


@pytest.mark.parametrize("desk", [{"console_auto_assign": "on"}], indirect=True)
async def test_auto_assignment_gives_the_member_to_the_least_loaded_agent(desk, browser):
    gw = desk["gw"]
    create_agent(desk["settings"], "maria", "Maria Lopez", PASSWORD)
    create_agent(desk["settings"], "tom", "Tom Beasley", PASSWORD)
    maria_ctx = await browser.new_context()
    tom_ctx = await browser.new_context()
    maria, tom = await maria_ctx.new_page(), await tom_ctx.new_page()
    await sign_in(maria, desk["base"], "maria")
    await sign_in(tom, desk["base"], "tom")
    # Maria already has a conversation
    async with session_scope(gw.sessions) as session:
        maria_id = await session.scalar(select(Agent.id).where(Agent.username == "maria"))
        session.add(
            HandoffRequest(
                conversation_id="web-earlier",
                channel="web",
                status="assigned",
                agent_id=maria_id,
                topic="outage",
                created_at=gw.clock(),
                assigned_at=gw.clock(),
            )
        )
        await session.execute(update(Agent).values(last_seen_at=gw.clock()))
    member_ctx = await browser.new_context()
    member = await member_ctx.new_page()
    await member.goto(desk["base"] + "/")
    await member.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(member, "talk to a person")
    member_log = member.get_by_role("log", name="Conversation")
    await expect(member_log).to_contain_text("Tom from member services has joined the chat.")
    await expect(tom.locator("#queue-region")).to_contain_text("WEB - high bill")
    await expect(tom.locator("body")).to_have_attribute("data-last-alert", "auto_assigned")
    for ctx in (maria_ctx, tom_ctx, member_ctx):
        await ctx.close()


# ------------------------------------------------------------------ insights and accessibility

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page (WCAG 2.x A and AA rules)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        """async () => {
          const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def seed_conversations(settings: Settings, now: Any) -> None:
    from bot.demo.conversations import add_demo_conversations
    from bot.store.db import make_sync_engine

    engine = make_sync_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            add_demo_conversations(conn, now, 60, 2026)
    finally:
        engine.dispose()


async def test_insights_draws_charts_from_seeded_conversations(desk, browser):
    from bot.gateway import agents_cli

    gw = desk["gw"]
    seed_conversations(desk["settings"], gw.clock())
    create_agent(desk["settings"], "sue", "Sue Carter", PASSWORD)
    agents_cli.set_role(desk["settings"], "sue", "supervisor")
    async with session_scope(gw.sessions) as session:
        handed = len(set((await session.execute(select(HandoffRequest.conversation_id))).scalars()))
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    await sign_in(page, desk["base"], "sue")
    await page.get_by_role("link", name="Insights").click()
    await expect(page.get_by_role("heading", name="Co-op insights")).to_be_visible()
    await expect(page.locator("#tile-conversations .tile-v")).to_have_text("60")
    chart = page.get_by_role("img", name="Resolved by the assistant or by a person")
    await expect(chart).to_have_attribute("data-values", f"{60 - handed},{handed}")
    bars = page.locator("#chart-daily rect")
    assert await bars.count() >= 10
    await expect(page.get_by_role("img", name="Outage reports by town")).to_be_visible()
    await screenshot(page, "console-insights", publish=True)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await download_info.value
    text = Path(await download.path()).read_text()
    assert "conversations,,60" in text
    await page.close()


async def test_console_and_widget_have_no_serious_accessibility_violations(desk, browser):
    from bot.gateway import agents_cli

    gw = desk["gw"]
    seed_conversations(desk["settings"], gw.clock())
    create_agent(desk["settings"], "ann", "Ann Lee", PASSWORD, admin=True)
    agents_cli.set_role(desk["settings"], "ann", "admin")
    member_id, account_id = await dana_with_a_bill(gw)
    context = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 1000})
    member = await context.new_page()
    await member.goto(desk["base"] + "/")
    assert await axe_violations(member) == [], "widget closed"
    await member.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(member, "talk to a person")
    await expect(member.get_by_role("log", name="Conversation")).to_contain_text("number 1 in line")
    assert await axe_violations(member) == [], "widget open"
    await verify_waiting(gw, member_id, account_id)

    agent_ctx = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 1000})
    agent = await agent_ctx.new_page()
    await agent.goto(desk["base"] + "/console")
    assert await axe_violations(agent) == [], "sign-in"
    # keyboard only: sign in, then reach the Take button with Tab
    await agent.get_by_label("Username").focus()
    await agent.keyboard.type("ann")
    await agent.keyboard.press("Tab")
    await agent.keyboard.type(PASSWORD)
    await agent.keyboard.press("Enter")
    await expect(agent.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    assert await axe_violations(agent) == [], "queue"
    take = agent.get_by_role("button", name="Take conversation 1 (high bill)")
    for _ in range(40):
        if await take.evaluate("b => b === document.activeElement"):
            break
        await agent.keyboard.press("Tab")
    assert await take.evaluate("b => b === document.activeElement"), "Take is reachable by Tab"
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#handover-summary")).to_be_visible()
    assert await axe_violations(agent) == [], "conversation"
    for path, name in (
        ("/console/team", "team"),
        ("/console/insights", "insights"),
        ("/console/search?member=a", "search"),
    ):
        await agent.goto(desk["base"] + path)
        assert await axe_violations(agent) == [], name
    await screenshot(agent, "console-team-a11y")
    await agent.goto(desk["base"] + "/console/team")
    await screenshot(agent, "console-team", publish=True)
    await context.close()
    await agent_ctx.close()
