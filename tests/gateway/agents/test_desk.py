"""The agent desk: the handover summary, canned replies, private notes, typing both ways."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.profile import ProfileError, parse_profile
from bot.store.db import session_scope
from bot.store.models import AuditEntry, ConversationMessage, HandoffNote, HandoffRequest
from gateway.agent_helpers import MONDAY_10AM, add_handoff, add_member, sign_in
from gateway.helpers import rows
from tests.store import rows as seed_rows

SECRET_NOTE = "Staff only: member sounded upset, check the meter reread from Nov 12"


async def add_bill(factory: Any, account_id: int, cents: int = 14287) -> None:
    async with session_scope(factory) as session:
        session.add(
            seed_rows.bill(
                account_id,
                cents,
                (date(2026, 10, 15), date(2026, 11, 14)),
                date(2026, 11, 16),
                date(2026, 12, 15),
                kwh=1020,
            )
        )


async def hello(client: Any) -> tuple[Any, dict[str, Any]]:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def frames_until(ws: Any, text: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every frame the member's browser got, up to the message `text`."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            frames.append(frame)
            if frame.get("type") == "message" and frame.get("text") == text:
                return frames


# ------------------------------------------------------------------ context at a glance


async def test_handover_summary_says_who_how_verified_what_they_asked_and_earlier_chats(
    client, agents, router, gw
):
    member_id, account_id = await add_member(gw.sessions)
    conv = await gw.store.get_or_create("sms", "+17065550101")
    await gw.service.accept_member_message(conv, "why is my bill so high")
    await gw.service.post_outbound(conv, "bot", "Your balance is $142.87, due December 15.")
    earlier = await add_handoff(
        gw.sessions,
        conv.id,
        "sms",
        topic="outage",
        account_id=account_id,
        member_id=member_id,
        created_at=MONDAY_10AM - timedelta(days=20),
    )
    async with session_scope(gw.sessions) as session:
        (await session.get(HandoffRequest, earlier)).status = "ended"
    handoff_id = await add_handoff(
        gw.sessions,
        conv.id,
        "sms",
        topic="pay bill",
        account_id=account_id,
        member_id=member_id,
        created_at=MONDAY_10AM + timedelta(minutes=1),
    )
    async with session_scope(gw.sessions) as session:
        (await session.get(HandoffRequest, handoff_id)).summary = '"why is my bill so high"'
    await sign_in(client, "maria")
    html = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    summary = html[html.index('id="handover-summary"') :]
    assert "Dana Whitfield, account ending 4821" in summary
    assert "verified (account number + ZIP)" in summary
    assert "Text message (SMS)" in summary
    # 15:00 UTC on Monday 30 November is 10:00 in the co-op's time zone (America/New_York)
    assert "10:00 AM EST (Monday)" in summary
    assert "making a payment" in summary
    assert "why is my bill so high" in summary
    assert "Your balance is $142.87, due December 15." in summary
    earlier_list = summary[summary.index('id="earlier"') :]
    assert "Nov 10, 2026 - SMS - outage (ended)" in earlier_list


async def test_unverified_web_member_is_said_to_be_unverified(client, agents, gw):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web", tier="public", how=None)
    await sign_in(client, "maria")
    html = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    assert "Not identified (no account verified in this chat)" in html
    assert "Web chat" in html and "None." in html  # no earlier conversations


# ------------------------------------------------------------------ canned replies


async def test_canned_reply_with_placeholders_reaches_an_sms_member(client, agents, gw, sms):
    member_id, account_id = await add_member(gw.sessions)
    await add_bill(gw.sessions, account_id)
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(
        gw.sessions, conv.id, "sms", account_id=account_id, member_id=member_id
    )
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    html = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    assert 'data-text="Dana, your balance is $142.87, due December 15."' in html
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/reply",
        data={"csrf": csrf, "text": "", "canned": "balance"},
    )
    assert resp.status == 200
    assert sms.sent[-1] == ("+17065550101", "Dana, your balance is $142.87, due December 15.")


async def test_canned_greeting_reaches_a_web_member_with_the_agent_name(client, agents, gw):
    member_id, account_id = await add_member(gw.sessions)
    ws, welcome = await hello(client)
    handoff_id = await add_handoff(
        gw.sessions, welcome["conversation_id"], "web", account_id=account_id, member_id=member_id
    )
    csrf = await sign_in(client, "tom")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    await client.post(
        f"/console/handoffs/{handoff_id}/reply",
        data={"csrf": csrf, "text": "", "canned": "greeting"},
    )
    text = "Hi Dana, this is Tom from member services. How can I help?"
    frames = await frames_until(ws, text)
    assert frames[-1]["sender"] == "agent" and frames[-1]["agent_name"] == "Tom"
    await ws.close()


async def test_a_canned_reply_needing_an_account_is_unavailable_without_one(
    client, agents, gw, sms
):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms", tier="public", how=None)
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    html = await (await client.get(f"/console/handoffs/{handoff_id}")).text()
    assert "Balance and due date (needs {amount_due}, {due_date}, {first_name}" in html
    before = list(sms.sent)
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/reply",
        data={"csrf": csrf, "text": "", "canned": "balance"},
    )
    assert resp.status == 409  # nothing sent with a hole in it
    assert sms.sent == before
    assert not any("{" in body for _to, body in sms.sent)


def test_a_canned_reply_with_an_unknown_placeholder_is_refused_at_load():
    import yaml

    raw = yaml.safe_load((Path(__file__).parents[3] / "profiles" / "jec.yml").read_text())
    raw["canned_replies"] = {"bad": {"title": "Bad", "text": "Your SSN is {ssn}"}}
    with pytest.raises(ProfileError, match=r"canned_replies.bad.text uses unknown placeholder"):
        parse_profile(raw, "profiles/jec.yml")


# ------------------------------------------------------------------ private notes (attack tests)


async def test_a_private_note_never_reaches_the_web_member(client, agents, gw, db):
    ws, welcome = await hello(client)
    conv_id = welcome["conversation_id"]
    handoff_id = await add_handoff(gw.sessions, conv_id, "web")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/notes", data={"csrf": csrf, "text": SECRET_NOTE}
    )
    assert resp.status == 200
    page = await resp.text()
    assert SECRET_NOTE in page and "Note saved (staff only)." in page
    await client.post(f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "Hi!"})
    live = await frames_until(ws, "Hi!")
    await ws.close()
    # a reconnect replays the whole transcript: the note is not in it either
    again = await client.ws_connect("/ws")
    await again.send_json({"type": "hello", "token": welcome["token"], "last_seq": 0})
    replay = await frames_until(again, "Hi!")
    await again.close()
    assert not [f for f in live + replay if "meter reread" in str(f)]
    assert not [m for m in await rows(db, ConversationMessage) if "meter reread" in m.text]
    [note] = await rows(db, HandoffNote)
    assert note.text == SECRET_NOTE and note.handoff_id == handoff_id
    assert await rows(db, AuditEntry, AuditEntry.action == "console.note_added")


async def test_a_private_note_never_reaches_the_sms_member(client, agents, gw, sms, db):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    handoff_id = await add_handoff(gw.sessions, conv.id, "sms")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    await client.post(
        f"/console/handoffs/{handoff_id}/notes", data={"csrf": csrf, "text": SECRET_NOTE}
    )
    await client.post(f"/console/handoffs/{handoff_id}/end", data={"csrf": csrf})
    assert sms.sent  # the member heard the join and the hand-back by text...
    assert not [body for _to, body in sms.sent if "meter reread" in body]  # ...never the note
    assert not [m for m in await rows(db, ConversationMessage) if "meter reread" in m.text]


async def test_only_the_agent_with_the_conversation_may_add_a_note(client, agents, router, gw, db):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    await router.take(handoff_id, await router.agent(agents["tom"]))
    csrf = await sign_in(client, "maria")
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/notes", data={"csrf": csrf, "text": "sneaky"}
    )
    assert resp.status == 409
    assert not await rows(db, HandoffNote)


async def test_a_card_number_in_a_note_is_masked(client, agents, gw, db):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    await client.post(
        f"/console/handoffs/{handoff_id}/notes",
        data={"csrf": csrf, "text": "member read out 4111 1111 1111 1111"},
    )
    [note] = await rows(db, HandoffNote)
    assert "4111 1111 1111 1111" not in note.text


# ------------------------------------------------------------------ typing, both ways


async def test_the_member_sees_the_agent_typing_with_their_first_name(client, agents, gw):
    ws, welcome = await hello(client)
    handoff_id = await add_handoff(gw.sessions, welcome["conversation_id"], "web")
    csrf = await sign_in(client, "maria")
    await client.post(f"/console/handoffs/{handoff_id}/take", data={"csrf": csrf})
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/typing",
        data={"active": "1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 200
    async with asyncio.timeout(5):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == "typing":
                break
    assert frame == {"type": "typing", "active": True, "name": "Maria"}
    await ws.close()


async def test_an_agent_without_the_conversation_cannot_send_typing(client, agents, gw):
    conv = await gw.store.new_web_conversation()
    handoff_id = await add_handoff(gw.sessions, conv.id, "web")
    csrf = await sign_in(client, "maria")
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/typing",
        data={"active": "1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 409


async def test_the_agent_sees_the_member_typing(client, agents, gw):
    from bot.gateway.console.desk import typing_channel

    ws, welcome = await hello(client)
    async with gw.hub.subscribe(typing_channel(welcome["conversation_id"])) as queue:
        await ws.send_json({"type": "typing"})
        event = await asyncio.wait_for(queue.get(), 5)
    assert event == {"type": "member_typing"}
    await ws.close()
