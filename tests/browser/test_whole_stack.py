"""The one whole-stack browser test: real Rasa, real action server, real gateway (tests/stack.py),
a member and an agent in two Chromium contexts; the member on the web widget, then by simulated
SMS (signed Twilio webhook; the co-op's texts land in the outbox table)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import aiohttp
import pytest
from playwright.async_api import expect

from bot.gateway.agents_cli import create_agent
from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies
from tests.stack import max_id

pytestmark = [pytest.mark.browser, pytest.mark.rasa, pytest.mark.slow]

PASSWORD = "correct horse battery desk"
SLOW = 120_000  # ms: a Rasa turn on a busy 2-core machine; generous, never asserted on
OFFICE = "(706) 547-2167"
HANDBACK = "You're back with the automated assistant."
NOTE = "Staff only: whole-stack note, must never reach the member"


async def text_in(gateway, phone: str, body: str, stack=None) -> list[str]:
    """What the member's phone shows for one text: the TwiML (keywords, notices), then what the
    queued turn texted through the notifier (the outbox), once it has stopped arriving."""
    before = max_id(stack, "outbox") if stack is not None else None
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+17065550100",
        "Body": body,
        "NumMedia": "0",
    }
    signature = sign(gateway.settings, f"{gateway.url}/sms/twilio", form)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLOW / 1000)) as http,
        http.post(
            f"{gateway.url}/sms/twilio", data=form, headers={"X-Twilio-Signature": signature}
        ) as resp,
    ):
        assert resp.status == 200
        now = twiml_bodies(await resp.text())
    if stack is None:
        return now
    later: list[str] = []
    deadline = time.monotonic() + SLOW / 1000
    while time.monotonic() < deadline:
        rows = stack.sql(
            'select body from outbox where "to" = :to and id > :after order by id',
            to=phone,
            after=before,
        )
        if rows and len(rows) == len(later):
            break  # nothing more for two seconds
        later = [r[0] for r in rows]
        await asyncio.sleep(2.0)
    return now + later


async def test_member_and_agent_on_the_whole_stack_web_then_sms(rasa_stack, gateway, browser):
    username = f"desk.{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(create_agent, gateway.settings, username, "Maria Lopez", PASSWORD)
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    member_ctx = await browser.new_context(viewport={"width": 1000, "height": 800})
    agent, member = await agent_ctx.new_page(), await member_ctx.new_page()
    try:
        await agent.goto(gateway.url + "/console")
        await agent.get_by_label("Username").fill(username)
        await agent.get_by_label("Password").fill(PASSWORD)
        await agent.get_by_role("button", name="Sign in").click()
        await expect(agent.get_by_role("heading", name="Queue", exact=True)).to_be_visible()

        # -- web: the member asks the real assistant for a person
        await member.goto(gateway.url + "/")
        await member.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
        await member.locator("#jecw-input").fill("can I talk to a real person")
        await member.locator("#jecw-input").press("Enter")
        log = member.get_by_role("log", name="Conversation")
        await expect(log).to_contain_text("in line", timeout=SLOW)
        take = agent.get_by_role("button", name=re.compile(r"^Take conversation 1"))
        await expect(take).to_be_visible(timeout=SLOW)
        await take.click()
        summary = agent.locator("#handover-summary")
        await expect(summary).to_contain_text("Web chat")
        await expect(summary).to_contain_text("can I talk to a real person")
        await expect(log).to_contain_text("Maria from member services has joined the chat.")

        # typing both ways
        await member.wait_for_timeout(3100)
        await member.locator("#jecw-input").fill("hello?")
        await expect(agent.locator("#member-typing")).to_be_visible(timeout=SLOW)
        await agent.get_by_label("Reply as Maria").press_sequentially("On it")
        await expect(member.locator(".jecw-typing")).to_contain_text("Maria is typing")
        await agent.get_by_label("Reply as Maria").fill("")

        # a canned reply with a placeholder, then a private note
        await agent.get_by_label("Canned reply").select_option(label="Call member services")
        await agent.get_by_role("button", name="Send", exact=True).click()
        await expect(log).to_contain_text(f"please call us at {OFFICE}")
        await agent.get_by_label("Add a private note").fill(NOTE)
        await agent.get_by_role("button", name="Save note").click()
        await expect(agent.locator("#notes")).to_contain_text(NOTE)

        # hand back: the real assistant says it's back
        await agent.get_by_role("button", name="End and hand back to the assistant").click()
        await expect(log).to_contain_text(HANDBACK, timeout=SLOW)
        assert "whole-stack note" not in await log.inner_text()

        # -- SMS: a texter asks for a person; the agent answers from the console
        phone = "+17065550177"
        outbox_before = max_id(rasa_stack, "outbox")
        replies = " ".join(await text_in(gateway, phone, "can I talk to a real person", rasa_stack))
        assert "in line" in replies, replies
        await agent.goto(gateway.url + "/console")
        take = agent.get_by_role("button", name=re.compile(r"^Take conversation 1"))
        await expect(take).to_be_visible(timeout=SLOW)
        await take.click()
        await expect(agent.locator("#handover-summary")).to_contain_text("Text message (SMS)")
        await agent.get_by_label("Reply as Maria").fill("Hi")
        await expect(agent.locator("#sms-count")).to_have_text(
            "2 characters, 1 text message (GSM-7)"
        )
        await agent.get_by_label("Reply as Maria").fill("")
        await agent.get_by_label("Canned reply").select_option(label="Call member services")
        await agent.get_by_role("button", name="Send", exact=True).click()
        await expect(agent.locator("#transcript")).to_contain_text(f"please call us at {OFFICE}")
        await agent.get_by_label("Add a private note").fill(NOTE)
        await agent.get_by_role("button", name="Save note").click()
        await expect(agent.locator("#notes")).to_contain_text(NOTE)
        await agent.get_by_role("button", name="End and hand back to the assistant").click()
        texts = [
            row[0]
            for row in rasa_stack.sql(
                "select body from outbox where id > :before order by id", before=outbox_before
            )
        ]
        assert any(f"please call us at {OFFICE}" in t for t in texts), texts
        assert not any("whole-stack note" in t for t in texts), texts
    finally:
        await agent_ctx.close()
        await member_ctx.close()
