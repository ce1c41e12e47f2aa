"""Secure payment-page links: signed, single-use, 15 minutes; clear reasons when refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.demo import generate_demo_data
from bot.services.payment_links import (
    LINK_LIFETIME,
    LinkProblem,
    consume_link,
    create_link,
    verify_link,
)
from bot.store.models import Account, PaymentLink

NOW = datetime(2026, 11, 28, 21, 30, tzinfo=ZoneInfo("America/New_York"))
SECRET = "test-secret"


@pytest.fixture
async def dana(sqlite_url, session_factory):
    generate_demo_data(sqlite_url, members=5, today=date(2026, 11, 28))
    async with session_factory() as session:
        account = await session.scalar(
            select(Account).where(Account.account_number == "1000004821")
        )
    return account.member_id, account.id


async def _link(session_factory, dana, now=NOW):
    member_id, account_id = dana
    return await create_link(
        session_factory,
        secret_key=SECRET,
        public_base_url="https://pay.example.coop/",
        member_id=member_id,
        account_id=account_id,
        conversation_id="conv-1",
        now=now,
    )


async def test_link_url_row_and_fifteen_minute_expiry(session_factory, dana):
    link = await _link(session_factory, dana)
    assert link.url == f"https://pay.example.coop/pay/{link.token}"
    assert link.expires_at == NOW + timedelta(minutes=15) == NOW + LINK_LIFETIME
    async with session_factory() as session:
        rows = (await session.scalars(select(PaymentLink))).all()
    assert len(rows) == 1
    assert rows[0].member_id == dana[0] and rows[0].account_id == dana[1]
    assert rows[0].conversation_id == "conv-1" and rows[0].purpose == "add_method"
    assert rows[0].used_at is None
    assert (
        rows[0].nonce not in link.url
    )  # the URL carries the signed, encoded token, not the bare nonce
    info = await verify_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=14))
    assert info.member_id == dana[0] and info.conversation_id == "conv-1"


async def test_expired_link_is_refused_with_reason(session_factory, dana):
    link = await _link(session_factory, dana)
    with pytest.raises(LinkProblem) as problem:
        await verify_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=15))
    assert problem.value.reason == "expired"
    assert "expired" in problem.value.message and "15 minutes" in problem.value.message
    with pytest.raises(LinkProblem):
        await consume_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=16))


async def test_link_works_once(session_factory, dana):
    link = await _link(session_factory, dana)
    used = await consume_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=2))
    assert used.used_at == NOW + timedelta(minutes=2)
    with pytest.raises(LinkProblem) as problem:
        await consume_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=3))
    assert problem.value.reason == "used"
    assert "already used" in problem.value.message
    with pytest.raises(LinkProblem) as again:
        await verify_link(session_factory, SECRET, link.token, now=NOW + timedelta(minutes=3))
    assert again.value.reason == "used"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "x" + t,  # payload changed
        lambda t: "",  # nothing at all
        lambda t: "not-a-token",
    ],
)
async def test_tampered_token_is_invalid(session_factory, dana, mangle):
    link = await _link(session_factory, dana)
    with pytest.raises(LinkProblem) as problem:
        await verify_link(session_factory, SECRET, mangle(link.token), now=NOW)
    assert problem.value.reason == "invalid"
    assert "isn't valid" in problem.value.message


async def test_token_signed_with_another_secret_is_invalid(session_factory, dana):
    link = await _link(session_factory, dana)
    with pytest.raises(LinkProblem) as problem:
        await consume_link(session_factory, "other-secret", link.token, now=NOW)
    assert problem.value.reason == "invalid"
    # and the real link is still usable
    assert (await consume_link(session_factory, SECRET, link.token, now=NOW)).used_at == NOW


async def test_two_links_are_independent(session_factory, dana):
    first = await _link(session_factory, dana)
    second = await _link(session_factory, dana)
    assert first.token != second.token
    await consume_link(session_factory, SECRET, first.token, now=NOW)
    assert (await verify_link(session_factory, SECRET, second.token, now=NOW)).used_at is None
