"""Co-op insights: computed from stored data (the seeded demo conversations), charts and CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter

from bot.demo.conversations import FALLBACK_REPLY, add_demo_conversations
from bot.gateway.agents_cli import set_role
from bot.store.db import make_sync_engine
from bot.store.models import Conversation, ConversationMessage, HandoffRequest, OutageReport
from gateway.agent_helpers import MONDAY_10AM, as_operator, sign_in, text_in
from gateway.helpers import rows


def seed(settings, count: int = 60) -> int:
    engine = make_sync_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            return add_demo_conversations(conn, MONDAY_10AM, count, 2026)
    finally:
        engine.dispose()


async def test_an_agent_cannot_see_insights(client, agents):
    await sign_in(client, "maria")
    assert (await client.get("/console/insights")).status == 403
    assert (await client.get("/console/insights.csv")).status == 403


async def test_insights_numbers_match_the_stored_data(client, settings, agents, db):
    assert seed(settings) == 60
    await as_operator(set_role, settings, "tom", "supervisor")
    await sign_in(client, "tom")
    convs = await rows(db, Conversation)
    handoffs = await rows(db, HandoffRequest)
    reports = await rows(db, OutageReport)
    messages = await rows(db, ConversationMessage)
    handed = {h.conversation_id for h in handoffs}
    scores = Counter(h.survey_score for h in handoffs if h.survey_score is not None)
    fallbacks = [m for m in messages if m.text == FALLBACK_REPLY]
    assert handed and reports and fallbacks and scores  # the seed covers every chart

    resp = await client.get("/console/insights", params={"days": "30"})
    html = await resp.text()
    assert resp.status == 200
    for chart in ("chart-daily", "chart-containment", "chart-topics", "chart-outages"):
        assert f'id="{chart}"' in html and "<svg" in html
    contained = len(convs) - len(handed)
    assert f'data-values="{contained},{len(handed)}"' in html
    assert f"{round(100 * contained / len(convs))}%" in html
    satisfaction = ",".join(str(scores[n]) for n in range(5, 0, -1))
    assert f'data-values="{satisfaction}"' in html
    towns = Counter(r.town for r in reports)
    assert f'data-values="{",".join(str(n) for _, n in towns.most_common(10))}"' in html
    assert f"{len(fallbacks)} fallback" in html
    assert "do you sell solar panels" in html or "is there a senior discount" in html
    daily = html[html.index('id="chart-daily"') :]
    assert daily.count('data-channel="web"') + daily.count('data-channel="sms"') >= 10

    csv_resp = await client.get("/console/insights.csv", params={"days": "30"})
    assert csv_resp.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(await csv_resp.text())))
    values = {(m, k): v for m, k, v in table[1:]}
    assert values[("conversations", "")] == str(len(convs))
    assert values[("handed_to_a_person", "")] == str(len(handed))
    assert values[("fallbacks", "")] == str(len(fallbacks))
    assert sum(int(v) for (m, _k), v in values.items() if m == "conversations_per_day") == len(
        convs
    )
    for n in range(1, 6):
        assert values[("satisfaction", str(n))] == str(scores[n])
    for town, n in towns.items():
        assert values[("outage_reports", town)] == str(n)
    # counts only: no member's words leave in the export
    assert "solar" not in await csv_resp.text()


async def test_a_seven_day_window_counts_only_those_days(client, settings, agents, db):
    seed(settings)
    await as_operator(set_role, settings, "tom", "supervisor")
    await sign_in(client, "tom")
    table = list(
        csv.reader(io.StringIO(await (await client.get("/console/insights.csv?days=7")).text()))
    )
    per_day = [r for r in table if r[0] == "conversations_per_day"]
    assert len(per_day) == 14  # 7 days x web and SMS


async def test_top_intents_come_from_the_intent_stored_with_each_reply(
    client, settings, agents, db
):
    seed(settings)
    await as_operator(set_role, settings, "tom", "supervisor")
    await sign_in(client, "tom")
    stored = Counter(
        m.payload["nlu"]["intent"]
        for m in await rows(db, ConversationMessage)
        if m.sender == "bot" and (m.payload or {}).get("nlu")
    )
    fell_back = stored.pop("nlu_fallback")
    assert fell_back and len(stored) >= 5
    html = await (await client.get("/console/insights", params={"days": "30"})).text()
    chart = html[html.index('id="chart-intents"') :]
    top = ",".join(str(n) for _, n in stored.most_common(8))
    assert f'data-values="{top}"' in chart[: chart.index("</figure>")]
    table = list(
        csv.reader(io.StringIO(await (await client.get("/console/insights.csv?days=30")).text()))
    )
    assert {k: int(v) for m, k, v in table if m == "intent"} == dict(stored)
    assert {m: v for m, _k, v in table}["fallbacks"] == str(fell_back)


async def test_a_live_turns_intent_is_stored_never_shown_and_counted(
    client, settings, agents, fake_rasa, gw, sms
):
    """Our Rasa channel adds `nlu` to the turn's first reply: the gateway keeps it with the reply
    for insights; the member's text and web frames never carry it."""
    fake_rasa.reply = lambda body: [
        {
            "recipient_id": body["sender"],
            "text": "Your balance is $142.87, due December 15.",
            "nlu": {"intent": "check_balance", "confidence": 0.97},
        }
    ]
    texts = await (await text_in(client, settings, "whats my balance", sid="SM-intent")).text()
    assert "Your balance is $142.87" in texts and "check_balance" not in texts
    assert all("check_balance" not in body and "nlu" not in body for _to, body in sms.sent)
    conv = await gw.store.get_or_create("sms", "+17065550101")
    [reply] = [m for m in await gw.store.messages_after(conv.id, 0) if m.sender == "bot"]
    assert reply.payload["nlu"] == {"intent": "check_balance", "confidence": 0.97}
    assert "nlu" not in reply.to_wire() and "check_balance" not in str(reply.to_wire())
    await as_operator(set_role, settings, "tom", "supervisor")
    await sign_in(client, "tom")
    table = list(
        csv.reader(io.StringIO(await (await client.get("/console/insights.csv?days=7")).text()))
    )
    assert ["intent", "check_balance", "1"] in table
