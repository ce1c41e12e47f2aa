"""End to end in Chromium: the chat widget (with a reload), keyboard-only use, the payment page,
and the agent console answering a member who is played by a second browser context."""

from __future__ import annotations

import pytest
from gateway.agent_helpers import MONDAY_10AM, PASSWORD, add_member
from playwright.async_api import expect

from bot.gateway.agents_cli import create_agent
from bot.gateway.state import GATEWAY
from bot.services.payment_links import create_link

from .conftest import screenshot

pytestmark = pytest.mark.browser


async def send(page, text: str) -> None:
    await page.locator("#jecw-input").fill(text)
    await page.locator("#jecw-input").press("Enter")


async def test_widget_conversation_survives_a_reload(stack, browser):
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(stack["base"] + "/")
    await page.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(page, "hello there")
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("Hi! How can I help?")
    await page.get_by_role("button", name="Check balance").click()
    await expect(log).to_contain_text("Your balance is $142.87")
    await screenshot(page, "widget", publish=True)

    await page.reload()
    await page.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("Your balance is $142.87")  # the transcript came back
    await send(page, "thanks")
    await expect(log).to_contain_text("You said: thanks")
    await expect(page.locator(".jecw-msg", has_text="hello there")).to_have_count(1)
    await expect(page.locator(".jecw-msg", has_text="Your balance is $142.87")).to_have_count(1)
    assert [c["message"] for c in stack["rasa"].calls] == [
        "hello there",
        "/check_balance",
        "thanks",
    ]


async def test_end_chat_clears_the_token_and_the_transcript_from_the_browser(stack, browser):
    """A shared computer: after "End chat" and a reload, the next person sees nothing of it."""
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(stack["base"] + "/")
    await page.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(page, "check balance")
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("Your balance is $142.87")
    first = stack["rasa"].calls[-1]["sender"]
    await page.get_by_role("button", name="End chat and clear it from this browser").click()
    await expect(log).not_to_contain_text("142.87")
    stored = await page.evaluate("JSON.stringify(Object.assign({}, window.localStorage))")
    assert "token" not in stored and first not in stored
    await send(page, "thanks")  # without a reload: a new conversation at once
    await expect(log).to_contain_text("You said: thanks")
    assert stack["rasa"].calls[-1]["sender"] != first
    await page.reload()
    await page.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    log = page.get_by_role("log", name="Conversation")
    await send(page, "hello again")
    await expect(log).to_contain_text("Hi! How can I help?")
    await expect(log).not_to_contain_text("142.87")
    assert stack["rasa"].calls[-1]["sender"] != first  # a new conversation


# Keeps the page's WebSockets reachable, so that a test can drop the connection.
RECORD_SOCKETS = """
(function () {
  var Native = window.WebSocket;
  window.__jecSockets = [];
  window.WebSocket = function (url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.__jecSockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""


async def test_a_chat_left_open_is_cleared_once_the_identity_expired(stack, browser):
    """A shared computer: the page left open reconnects after the member's verified identity
    expired; the widget clears what it showed, and the chat goes on in the same conversation."""
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.add_init_script(RECORD_SOCKETS)
    await page.goto(stack["base"] + "/")
    await page.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(page, "check balance")
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("Your balance is $142.87")
    first = stack["rasa"].calls[-1]["sender"]

    idle = stack["app"][GATEWAY].profile.verification.session_idle_minutes
    stack["clock"].advance(minutes=idle + 1)
    await page.evaluate("window.__jecSockets.forEach(function (ws) { ws.close(); })")
    await expect(log).not_to_contain_text("142.87")
    await expect(log).not_to_contain_text("check balance")
    await send(page, "thanks")
    await expect(log).to_contain_text("You said: thanks")
    assert stack["rasa"].calls[-1]["sender"] == first


async def test_widget_works_with_the_keyboard_only_on_a_phone_screen(stack, browser):
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(stack["base"] + "/")
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.classList.contains('jecw-bubble')"):
            break
    else:
        raise AssertionError("the chat button is not reachable with Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("#jecw-input")).to_be_focused()
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("log")).to_contain_text("Hi! How can I help?")
    quick = page.get_by_role("button", name="Check balance")
    for _ in range(10):
        if await quick.evaluate("el => el === document.activeElement"):
            break
        await page.keyboard.press("Shift+Tab")
    await expect(quick).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("log")).to_contain_text("Your balance is $142.87")
    await screenshot(page, "widget-phone", publish=True)
    await page.keyboard.press("Escape")
    await expect(page.locator(".jecw-bubble")).to_be_focused()


async def test_payment_page_checks_in_the_page_then_saves(stack, browser):
    sessions = stack["app"][GATEWAY].sessions
    member_id, account_id = await add_member(sessions)
    link = await create_link(
        sessions,
        secret_key=stack["settings"].secret_key,
        public_base_url=stack["base"],
        member_id=member_id,
        account_id=account_id,
        conversation_id="web-none",
        now=MONDAY_10AM,
    )
    page = await browser.new_page(viewport={"width": 390, "height": 900})
    await page.goto(link.url)
    await expect(page.get_by_role("heading", name="Add a card or bank account")).to_be_visible()
    await page.get_by_label("Card number").fill("4242 4242 4242 4241")
    await page.get_by_label("Expiry month").select_option("8")
    await page.get_by_label("Expiry year").select_option("2028")
    await page.get_by_label("Security code (CVV)").fill("123")
    await page.get_by_label("Name on the card").fill("Dana Whitfield")
    await page.get_by_role("button", name="Save securely").click()
    await expect(page.locator("#card_number-error")).to_have_text(
        "That card number doesn't look right. Please check it."
    )
    await expect(page.get_by_label("Card number")).to_be_focused()
    await screenshot(page, "payment-page-error")
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name="Save securely").click()
    await expect(page.get_by_role("status")).to_have_text("Your Visa ending 4242 is saved.")
    await screenshot(page, "payment-page-saved", publish=True)
    await page.goto(link.url)
    await expect(page.get_by_role("heading")).to_have_text("This link was already used")


async def test_agent_takes_and_answers_a_web_member_then_hands_back(stack, browser):
    create_agent(stack["settings"], "maria", "Maria Lopez", PASSWORD)
    member_ctx = await browser.new_context(viewport={"width": 1000, "height": 800})
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    member = await member_ctx.new_page()
    agent = await agent_ctx.new_page()

    await member.goto(stack["base"] + "/")
    await member.get_by_role("button", name="Open chat: Jefferson Energy chat").click()
    await send(member, "talk to a person")
    member_log = member.get_by_role("log", name="Conversation")
    await expect(member_log).to_contain_text("number 1 in line")

    await agent.goto(stack["base"] + "/console")
    await agent.get_by_label("Username").fill("maria")
    await agent.get_by_label("Password").fill(PASSWORD)
    await agent.get_by_role("button", name="Sign in").click()
    await expect(agent.get_by_role("heading", name="Queue (1 waiting)")).to_be_visible()
    await expect(agent.locator("#queue-region")).to_contain_text("high bill")
    await screenshot(agent, "console-queue", publish=True)
    await agent.get_by_role("button", name="Take conversation 1 (high bill)").click()
    await expect(agent.get_by_role("heading", name="WEB conversation: high bill")).to_be_visible()
    await expect(member_log).to_contain_text("Maria from member services has joined the chat.")

    await agent.get_by_label("Reply as Maria").fill(
        "Hi, this is Maria. I'm looking at your bill now."
    )
    await agent.get_by_role("button", name="Send").click()
    await expect(member_log).to_contain_text("Maria (member services)")
    await expect(member_log).to_contain_text("I'm looking at your bill now.")
    await send(member, "thank you, it doubled this month")
    await expect(agent.locator("#transcript")).to_contain_text(
        "it doubled this month"
    )  # live, no reload
    await screenshot(agent, "console-conversation", publish=True)
    await screenshot(member, "widget-with-agent", publish=True)

    await agent.get_by_role("button", name="End and hand back to the assistant").click()
    await expect(agent.get_by_role("status")).to_have_text("Handed back to the assistant.")
    await expect(member_log).to_contain_text("You're back with the automated assistant.")
    await send(member, "bye")
    await expect(member_log).to_contain_text("You said: bye")
    assert "it doubled this month" not in [c["message"] for c in stack["rasa"].calls]
    await member_ctx.close()
    await agent_ctx.close()
