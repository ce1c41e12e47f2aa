"""The supervisor view, reassigning, roles and agent administration (console and `jecbot`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.gateway import agents_cli
from bot.store.db import session_scope
from bot.store.models import Agent, AuditEntry, ConsoleSessionRow, OutboxMessage
from gateway.agent_helpers import MONDAY_10AM, PASSWORD, add_handoff, as_operator, sign_in
from gateway.helpers import rows


async def test_an_agent_cannot_open_the_team_page_or_reassign(client, agents, router, gw):
    handoff_id = await add_handoff(gw.sessions, "web-a", "web")
    csrf = await sign_in(client, "maria")
    assert (await client.get("/console/team")).status == 403
    resp = await client.post(
        f"/console/handoffs/{handoff_id}/reassign",
        data={"csrf": csrf, "agent_id": str(agents["maria"])},
    )
    assert resp.status == 403
    assert (await router.handoff(handoff_id)).status == "waiting"


async def test_supervisor_sees_load_queue_length_and_longest_wait_and_reassigns(
    client, settings, agents, router, gw, db, clock
):
    await as_operator(agents_cli.set_role, settings, "tom", "supervisor")
    conv = await gw.store.new_web_conversation()
    mine = await add_handoff(gw.sessions, conv.id, "web", topic="payment arrangement")
    await router.take(mine, await router.agent(agents["maria"]))
    await add_handoff(gw.sessions, "web-w1", "web", created_at=MONDAY_10AM - timedelta(minutes=7))
    await add_handoff(gw.sessions, "web-w2", "web")
    async with session_scope(gw.sessions) as session:
        await session.execute(
            update(Agent)
            .where(Agent.id == agents["maria"])
            .values(presence="online", last_seen_at=MONDAY_10AM)
        )
    csrf = await sign_in(client, "tom")
    html = await (await client.get("/console/team")).text()
    assert "<dt>Waiting</dt><dd>2</dd>" in html and "<dt>Longest wait</dt><dd>7 min</dd>" in html
    team = html[html.index('id="team"') :]
    maria_row = team[team.index("Maria Lopez") : team.index("</tr>", team.index("Maria Lopez"))]
    assert "online" in maria_row and "1 of 3" in maria_row
    assert "Reassign" in html and "payment arrangement" in html

    resp = await client.post(
        f"/console/handoffs/{mine}/reassign", data={"csrf": csrf, "agent_id": str(agents["tom"])}
    )
    assert "Reassigned; the member has been told." in await resp.text()
    row = await router.handoff(mine)
    assert row.agent_id == agents["tom"] and row.status == "assigned"
    texts = [m.text for m in await gw.store.messages_after(conv.id, 0)]
    assert "Tom from member services has your chat now and can see everything so far." in texts
    [entry] = await rows(db, AuditEntry, AuditEntry.action == "console.reassigned")
    assert entry.actor == "agent:tom" and entry.details["to"] == "tom"
    # a supervisor sees every conversation (read-only), as an admin does
    assert (await client.get(f"/console/handoffs/{mine}")).status == 200


async def test_admin_disables_resets_and_changes_roles_in_the_console_audit_logged(
    client, settings, agents, gw, db
):
    agents_cli.create_agent(settings, "ann", "Ann Lee", PASSWORD, admin=True)
    await sign_in(client, "maria")  # a session to revoke
    client.session.cookie_jar.clear()
    csrf = await sign_in(client, "ann")
    maria = agents["maria"]

    resp = await client.post(f"/console/agents/{maria}/disable", data={"csrf": csrf})
    assert "Maria Lopez is disabled; their sessions ended." in await resp.text()
    [row] = await rows(db, Agent, Agent.id == maria)
    assert row.disabled_at is not None
    live = await rows(
        db,
        ConsoleSessionRow,
        ConsoleSessionRow.agent_id == maria,
        ConsoleSessionRow.revoked_at.is_(None),
    )
    assert live == []
    await client.post(f"/console/agents/{maria}/enable", data={"csrf": csrf})
    short = await client.post(
        f"/console/agents/{maria}/password", data={"csrf": csrf, "password": "short"}
    )
    assert short.status == 400
    await client.post(
        f"/console/agents/{maria}/password",
        data={"csrf": csrf, "password": "a brand new passphrase"},
    )
    await client.post(f"/console/agents/{maria}/role", data={"csrf": csrf, "role": "supervisor"})
    [row] = await rows(db, Agent, Agent.id == maria)
    assert row.disabled_at is None and row.role == "supervisor" and not row.is_admin
    assert row.password_hash.startswith("$argon2id$")
    actions = [e.action for e in await rows(db, AuditEntry) if e.action.startswith("agents.")]
    assert actions == [
        "agents.disabled",
        "agents.enabled",
        "agents.password_reset",
        "agents.role_changed",
    ]
    assert all("brand new" not in str(e.details) for e in await rows(db, AuditEntry))
    # the new password works
    client.session.cookie_jar.clear()
    await sign_in(client, "maria", "a brand new passphrase")


async def test_a_supervisor_cannot_administer_agents(client, settings, agents, db):
    await as_operator(agents_cli.set_role, settings, "tom", "supervisor")
    csrf = await sign_in(client, "tom")
    resp = await client.post(f"/console/agents/{agents['maria']}/disable", data={"csrf": csrf})
    assert resp.status == 403
    resp = await client.post(
        f"/console/agents/{agents['tom']}/role", data={"csrf": csrf, "role": "admin"}
    )
    assert resp.status == 403
    [row] = await rows(db, Agent, Agent.id == agents["tom"])
    assert row.role == "supervisor" and not row.is_admin


def test_jecbot_agents_set_role_is_listed_and_audit_logged(settings, agents):
    from sqlalchemy import select

    from bot.store.db import make_sync_engine, sync_session_factory, sync_session_scope

    assert agents_cli.set_role(settings, "tom", "supervisor") == "agent"
    assert "tom\tTom Beasley\tsupervisor\tno second factor" in agents_cli.list_agents(settings)
    engine = make_sync_engine(settings.database_url)
    with sync_session_scope(sync_session_factory(engine)) as session:
        entries = session.execute(select(AuditEntry)).scalars().all()
        assert [(e.action, e.details) for e in entries] == [
            ("agents.role_changed", {"agent": "tom", "from": "agent", "to": "supervisor"})
        ]
    engine.dispose()


async def test_waiting_conversation_can_be_given_by_a_supervisor(
    client, settings, agents, router, gw
):
    await as_operator(agents_cli.set_role, settings, "tom", "supervisor")
    handoff_id = await add_handoff(gw.sessions, "web-b", "web")
    csrf = await sign_in(client, "tom")
    await client.post(
        f"/console/handoffs/{handoff_id}/reassign",
        data={"csrf": csrf, "agent_id": str(agents["maria"])},
    )
    row = await router.handoff(handoff_id)
    assert row.status == "assigned" and row.agent_id == agents["maria"]


async def test_supervisor_sees_the_contacts_our_texts_kept_failing_to_reach(
    client, settings, agents, gw, clock
):
    """A text given up on (bot/adapters/delivery.py) shows on the team page with its reason and
    whether the email copy went out; one given up on long ago does not."""
    await as_operator(agents_cli.set_role, settings, "tom", "supervisor")
    async with session_scope(gw.sessions) as session:
        for to, gave_up, fallback in (
            ("+17065550142", MONDAY_10AM - timedelta(hours=3), 7),
            ("+17065550142", MONDAY_10AM - timedelta(hours=1), None),
            ("+17065550199", MONDAY_10AM - timedelta(days=45), None),
        ):
            session.add(
                OutboxMessage(
                    channel="sms",
                    to=to,
                    body="Power is back on near Wrens as of 4:05 PM.",
                    status="failed",
                    created_at=gave_up,
                    retryable=True,
                    attempts=4,
                    delivery_status="undelivered",
                    delivery_error_code="30006",
                    gave_up_at=gave_up,
                    fallback_outbox_id=fallback,
                )
            )
    await sign_in(client, "tom")
    html = await (await client.get("/console/team")).text()
    table = html[html.index('id="undeliverable"') :]
    row = table[table.index("+17065550142") : table.index("</tr>", table.index("+17065550142"))]
    assert "<td>2</td><td>1</td>" in row  # two texts given up, one of them emailed instead
    assert "undelivered (30006)" in row and "Nov 30, 9:00 AM" in row  # the latest, local time
    assert "+17065550199" not in html  # given up on 45 days ago


async def test_team_page_says_when_every_contact_was_reached(client, settings, agents):
    await as_operator(agents_cli.set_role, settings, "tom", "supervisor")
    await sign_in(client, "tom")
    html = await (await client.get("/console/team")).text()
    assert "No undeliverable contacts in the last 30 days." in html
