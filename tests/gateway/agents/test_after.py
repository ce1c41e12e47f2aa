"""After the conversation: the one-question survey on web and SMS, and searching closed ones."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.config import Settings
from bot.gateway.handoff import SURVEY_QUESTION, SURVEY_THANKS, survey_score
from bot.store.db import session_scope
from bot.store.models import AuditEntry, HandoffRequest
from gateway.agent_helpers import MONDAY_10AM, add_handoff, add_member, sign_in, text_in
from gateway.helpers import rows


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, console_survey="on")


def test_what_counts_as_a_score():
    assert [survey_score(t) for t in ("5", " 4 stars", "3/5", "2 out of 5", "1!")] == [
        5,
        4,
        3,
        2,
        1,
    ]
    assert [survey_score(t) for t in ("6", "0", "55", "5 dollars", "what is my balance")] == [
        None
    ] * 5


async def test_sms_member_is_asked_after_the_hand_back_and_the_answer_is_recorded(
    client, gw, agents, fake_rasa, sms, db
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    await client.post(f"/console/handoffs/{handoff_id}/end", data={"csrf": csrf})
    assert sms.sent[-1] == ("+17065550101", SURVEY_QUESTION)
    resp = await text_in(client, gw.settings, "4", sid="SM7")
    assert resp.status == 200
    [row] = await rows(db, HandoffRequest)
    assert row.survey_score == 4 and row.survey_answered_at is not None
    assert sms.sent[-1] == ("+17065550101", SURVEY_THANKS)
    assert not [c for c in fake_rasa.calls if c.get("message") == "4"]  # not the assistant's
    # the next text is the assistant's again
    resp = await text_in(client, gw.settings, "what is my balance", sid="SM8")
    for _ in range(50):
        if [c for c in fake_rasa.calls if c.get("message") == "what is my balance"]:
            break
        await asyncio.sleep(0.05)
    assert [c for c in fake_rasa.calls if c.get("message") == "what is my balance"]


async def test_web_member_rates_with_a_button_and_a_non_answer_goes_to_the_assistant(
    client, gw, agents, router, fake_rasa, db
):
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    conv_id = welcome["conversation_id"]
    handoff_id = await add_handoff(gw.sessions, conv_id, "web")
    maria = await router.agent(agents["maria"])
    await router.take(handoff_id, maria)
    await router.hand_back(handoff_id, maria)
    async with asyncio.timeout(5):
        while True:
            frame = await ws.receive_json()
            if frame.get("text") == SURVEY_QUESTION:
                break
    assert [b["title"] for b in frame["buttons"]] == ["1", "2", "3", "4", "5"]
    await ws.send_json({"type": "message", "client_id": "c1", "text": "", "payload": "5"})
    async with asyncio.timeout(5):
        while True:
            frame = await ws.receive_json()
            if frame.get("text") == SURVEY_THANKS:
                break
    [row] = await rows(db, HandoffRequest)
    assert row.survey_score == 5
    assert not [c for c in fake_rasa.calls if c.get("message") in ("5", "/5")]
    await ws.close()


async def test_a_member_who_ignores_the_survey_just_goes_on_with_the_assistant(
    client, gw, agents, router, fake_rasa, db
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    maria = await router.agent(agents["maria"])
    await router.take(handoff_id, maria)
    await router.hand_back(handoff_id, maria)
    await text_in(client, gw.settings, "report an outage", sid="SM9")
    for _ in range(50):
        if [c for c in fake_rasa.calls if c.get("message") == "report an outage"]:
            break
        await asyncio.sleep(0.05)
    assert [c for c in fake_rasa.calls if c.get("message") == "report an outage"]
    [row] = await rows(db, HandoffRequest)
    assert row.survey_score is None and row.survey_answered_at is not None
    assert (await gw.store.get(conv.id)).mode == "bot"


# ------------------------------------------------------------------ search


async def closed(gw, conv_id, channel, *, agent_id, days_ago=0, **kw) -> int:
    handoff_id = await add_handoff(
        gw.sessions, conv_id, channel, created_at=MONDAY_10AM - timedelta(days=days_ago), **kw
    )
    async with session_scope(gw.sessions) as session:
        row = await session.get(HandoffRequest, handoff_id)
        row.status, row.agent_id, row.ended_at = "ended", agent_id, row.created_at
    return handoff_id


async def test_search_finds_a_closed_conversation_by_member_account_date_agent_and_text(
    client, gw, agents, db
):
    member_id, account_id = await add_member(gw.sessions)
    conv = await gw.store.get_or_create("sms", "+17065550101")
    await gw.service.accept_member_message(conv, "my meter is making a buzzing noise")
    dana = await closed(
        gw,
        conv.id,
        "sms",
        agent_id=agents["maria"],
        days_ago=3,
        account_id=account_id,
        member_id=member_id,
        topic="meter",
    )
    other = await gw.store.new_web_conversation()
    await gw.service.accept_member_message(other, "how do I sign up for paperless")
    await closed(gw, other.id, "web", agent_id=agents["maria"], days_ago=10, topic="paperless")
    toms = await closed(gw, "web-toms", "web", agent_id=agents["tom"], topic="outage")
    await sign_in(client, "maria")

    async def found(**query) -> str:
        return await (await client.get("/console/search", params=query)).text()

    link = f'href="/console/handoffs/{dana}"'
    assert link in await found(member="dana whit")
    assert link in await found(account="4821")
    assert link in await found(text="BUZZING")
    assert link in await found(agent="maria", **{"from": "2026-11-26", "to": "2026-11-28"})
    assert link not in await found(**{"from": "2026-11-28"})
    page = await found(text="paperless")
    assert "1 closed conversation," in page and link not in page
    assert "No closed conversations match." in await found(member="nobody")
    # an agent searches their own conversations; Tom's outage is not Maria's
    # (the page's header links the outage page, so look for Tom's conversation, not the word)
    page = await found(agent="tom")
    assert f'href="/console/handoffs/{toms}"' not in page
    assert "No closed conversations match." in page
    assert await rows(db, AuditEntry, AuditEntry.action == "console.search")
    # the closed conversation opens for the agent who had it
    assert (
        "my meter is making a buzzing noise"
        in await (await client.get(f"/console/handoffs/{dana}")).text()
    )


async def test_search_wildcards_are_literal(client, gw, agents):
    conv = await gw.store.new_web_conversation()
    await gw.service.accept_member_message(conv, "hello there")
    await closed(gw, conv.id, "web", agent_id=agents["maria"])
    await sign_in(client, "maria")
    page = await (await client.get("/console/search", params={"text": "%"})).text()
    assert "No closed conversations match." in page
