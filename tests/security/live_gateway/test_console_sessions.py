"""Item 9, as the attack: a console cookie copied from an agent's browser, used after sign-out,
after a password change, after the agent is disabled, a day later, or on a live stream; and a
stolen password without the agent's second factor."""

from __future__ import annotations

import asyncio

import pyotp
import pytest
from gateway.agent_helpers import PASSWORD, hidden_csrf, sign_in
from gateway.helpers import rows

from bot.config import Settings
from bot.gateway import agents_cli
from bot.gateway.console import views
from bot.gateway.console.auth import SESSION_COOKIE, totp_required
from bot.store.models import Agent, ConsoleSessionRow


def _stolen(client) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == SESSION_COOKIE)


async def _replay(aiohttp_client, client, cookie: str) -> int:
    """The copied cookie, sent from the attacker's own browser."""
    attacker = await aiohttp_client(client.server)
    attacker.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    return (await attacker.get("/console", allow_redirects=False)).status


async def test_a_copied_cookie_stops_working_at_sign_out(aiohttp_client, client, agents):
    csrf = await sign_in(client, "maria")
    cookie = _stolen(client)
    assert await _replay(aiohttp_client, client, cookie) == 200  # the copy works while live
    await client.post("/console/logout", data={"csrf": csrf})
    assert await _replay(aiohttp_client, client, cookie) == 303


async def test_a_password_change_ends_every_session(aiohttp_client, client, agents, settings, db):
    await sign_in(client, "maria")
    cookie = _stolen(client)
    changed = await asyncio.to_thread(
        agents_cli.set_password, settings, "maria", "a brand new passphrase"
    )
    assert changed == 1
    assert await _replay(aiohttp_client, client, cookie) == 303
    [row] = await rows(db, ConsoleSessionRow)
    assert row.revoked_reason == "password_changed"


async def test_a_disabled_agent_is_signed_out_and_cannot_sign_in(
    aiohttp_client, client, agents, settings
):
    await sign_in(client, "maria")
    cookie = _stolen(client)
    await asyncio.to_thread(agents_cli.disable_agent, settings, "maria")
    assert await _replay(aiohttp_client, client, cookie) == 303
    page = await client.get("/console/login")
    resp = await client.post(
        "/console/login",
        data={"csrf": hidden_csrf(await page.text()), "username": "maria", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 401
    await asyncio.to_thread(agents_cli.enable_agent, settings, "maria")
    await sign_in(client, "maria")


async def test_the_absolute_lifetime_alone_ends_a_session(client, agents, clock, settings):
    await sign_in(client, "maria")
    for _ in range(int(settings.console_session_hours * 3)):  # a page every 20 minutes
        clock.advance(minutes=20)
        await client.get("/console", allow_redirects=False)
    clock.advance(minutes=1)
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_the_live_stream_closes_once_the_session_is_revoked(
    client, agents, settings, monkeypatch
):
    monkeypatch.setattr(views, "STREAM_RECHECK_SECONDS", 0.2)
    await sign_in(client, "maria")
    stream = await client.get("/console/events")
    assert (await stream.content.readline()).startswith(b": connected")
    await asyncio.to_thread(agents_cli.disable_agent, settings, "maria")
    lines = []
    while not stream.content.at_eof():
        line = await asyncio.wait_for(stream.content.readline(), 5)
        if not line:
            break
        lines.append(line)
    assert b"event: signed_out\n" in lines
    stream.close()


def test_the_second_factor_is_on_by_default_on_a_public_installation(settings):
    from dataclasses import replace

    public = replace(settings, public_base_url="https://chat.jec.coop", console_totp="auto")
    local = replace(public, public_base_url="http://127.0.0.1:8080")
    assert totp_required(public) and not totp_required(local)
    assert not totp_required(replace(public, console_totp="off"))
    assert totp_required(replace(local, console_totp="on"))


@pytest.mark.parametrize("totp_mode", ["on"])
async def test_a_stolen_password_without_the_code_does_not_sign_in(
    client, agents, settings, clock, db
):
    uri = await asyncio.to_thread(agents_cli.enrol_totp, settings, "maria")
    assert uri.startswith("otpauth://totp/") and "maria" in uri
    [maria] = await rows(db, Agent, Agent.username == "maria")
    totp = pyotp.TOTP(maria.totp_secret)

    async def attempt(code: str | None) -> int:
        page = await client.get("/console/login")
        html = await page.text()
        assert 'name="code"' in html
        data = {"csrf": hidden_csrf(html), "username": "maria", "password": PASSWORD}
        if code is not None:
            data["code"] = code
        resp = await client.post("/console/login", data=data, allow_redirects=False)
        return resp.status

    assert await attempt(None) == 401
    assert await attempt("000000" if totp.at(clock.now) != "000000" else "111111") == 401
    good = totp.at(clock.now)
    assert await attempt(good) == 303
    client.session.cookie_jar.clear()
    assert await attempt(good) == 401  # the same code, replayed
    clock.advance(seconds=30)
    assert await attempt(totp.at(clock.now)) == 303


@pytest.mark.parametrize("totp_mode", ["on"])
async def test_an_agent_without_a_second_factor_cannot_sign_in_when_it_is_required(client, agents):
    page = await client.get("/console/login")
    resp = await client.post(
        "/console/login",
        data={
            "csrf": hidden_csrf(await page.text()),
            "username": "tom",
            "password": PASSWORD,
            "code": "123456",
        },
        allow_redirects=False,
    )
    assert resp.status == 401


def test_agents_can_be_listed_disabled_and_enrolled(settings: Settings, agents):
    agents_cli.disable_agent(settings, "tom")
    agents_cli.enrol_totp(settings, "maria")
    lines = agents_cli.list_agents(settings)
    assert "tom\tTom Beasley\tdisabled\tno second factor" in lines
    assert "maria\tMaria Lopez\tTOTP" in lines
    assert "ann\tAnn Lee\tadmin\tno second factor" in lines
    with pytest.raises(agents_cli.AgentError):
        agents_cli.disable_agent(settings, "nobody")
