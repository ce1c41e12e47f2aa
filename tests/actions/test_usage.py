"""Usage and high-bill answers for the demo members, against a real SQLite database."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from bot.actions.usage import ActionUsage, bill_message
from bot.core.gsm7 import is_gsm7
from bot.demo import generate_demo_data
from bot.gateway.sms_format import render_sms
from bot.services.members import BillRecord
from bot.services.signed_links import LinkRefused
from bot.services.usage import read_chart_token
from bot.store.models import Account, UsageReading
from tests.actions.demo_db import NAMED_ACCOUNTS
from tests.actions.identity_helpers import DEMO_TODAY, NOW, make_tracker, run, verified_slots


@pytest.fixture
def demo(sqlite_url, make_deps):
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def account_of(session_factory, number: str) -> Account:
    async with session_factory() as session:
        return (
            await session.scalars(select(Account).where(Account.account_number == number))
        ).one()


async def usage_for(session_factory, number: str, first_name: str):
    account = await account_of(session_factory, number)
    slots = verified_slots(account.member_id, account.id, first_name, number[-4:])
    return await run(
        ActionUsage(),
        make_tracker(text="why is my bill so high", intent="usage_question", slots=slots),
    )


async def test_dana_since_the_bill_the_bill_difference_and_chart(demo, session_factory):
    texts, messages, events = await usage_for(session_factory, "1000004821", "Dana")
    assert texts[:2] == [
        (
            "Account ending 4821: since your latest bill (Nov 27) you've used 24 kWh, about $2.80 "
            "of energy, $2.80 a day. That's 23.5 kWh a day against 29.9 on your latest bill: "
            "21.4% less."
        ),
        (
            "Your latest bill (Nov 27), $142.87, covers 31 days and 927 kWh. The one before "
            "covered 30 days and "
            "720 kWh. So this bill has 1 more day and 28.8% more kWh: 29.9 kWh a day, against 24.0."
        ),
    ]
    assert texts[2].startswith(
        f"Your daily use for the last 30 days: {demo.settings.public_base_url}/usage/"
    )
    assert texts[2].endswith(".svg (the link works for 15 minutes).")
    assert len(texts) == 3 and all(t.strip() for t in texts)  # no empty message after the link
    assert not any(m.get("image") for m in messages)
    # One source per period: no calendar-month figure that the bill would contradict.
    assert "November so far" not in " ".join(texts)
    assert events == {}
    assert [b["payload"] for b in messages[-1]["buttons"]] == [
        "/bill_history",
        "/pay_bill",
        "/help",
    ]


async def test_usage_readings_and_bills_agree_on_every_billed_period(demo, session_factory):
    """The demo readings of a billed period add up to that bill's kWh (issue 9: 601 vs 927)."""
    from bot.store.models import Bill

    async with session_factory() as session:
        bills = (await session.scalars(select(Bill))).all()
        checked = 0
        for bill in bills:
            rows = (
                await session.scalars(
                    select(UsageReading.kwh).where(
                        UsageReading.account_id == bill.account_id,
                        UsageReading.day >= bill.period_start,
                        UsageReading.day <= bill.period_end,
                    )
                )
            ).all()
            if len(rows) == (bill.period_end - bill.period_start).days + 1:
                assert sum(rows) == bill.kwh, (bill.account_id, bill.billing_date)
                checked += 1
    assert checked >= 5


async def test_dana_november_figure_is_the_sum_of_the_readings(demo, session_factory):
    async with session_factory() as session:
        total = await session.scalar(
            select(func.sum(UsageReading.kwh)).where(
                UsageReading.account_id == 1, UsageReading.day >= date(2026, 11, 27)
            )
        )
    assert Decimal(total).quantize(Decimal(1), rounding=ROUND_HALF_UP) == 24


async def test_why_is_it_so_high_after_the_answer_gets_the_bill_part_only(demo, session_factory):
    account = await account_of(session_factory, "1000004821")
    slots = verified_slots(account.member_id, account.id, "Dana", "4821")
    first = make_tracker(text="my usage", intent="usage_question", slots=slots)
    texts, _, _ = await run(ActionUsage(), first)
    follow = make_tracker(text="why is it so high", intent="usage_question", slots=slots)
    follow.events[:0] = [{"event": "action", "name": "action_usage"}]
    again, messages, _ = await run(ActionUsage(), follow)
    assert again == [texts[1]]  # the bill comparison, not the whole block again
    assert messages[-1]["buttons"]

    chart = make_tracker(text="can i see the chart", intent="usage_question", slots=slots)
    chart.events[:0] = [{"event": "action", "name": "action_usage"}]
    only_chart, _, _ = await run(ActionUsage(), chart)
    assert len(only_chart) == 1 and only_chart[0].startswith("Your daily use for the last 30 days")


async def test_chart_is_a_signed_15_minute_link_to_the_last_30_days(demo, session_factory):
    _, messages, _ = await usage_for(session_factory, "1000004821", "Dana")
    url = re.search(r"(http\S+\.svg)", messages[-1]["text"]).group(1)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == demo.settings.public_base_url
    assert parts.path.startswith("/usage/") and parts.path.endswith(".svg")
    token = parts.path[len("/usage/") : -len(".svg")]
    link = read_chart_token(demo.settings.secret_key, token, now=NOW + timedelta(minutes=15))
    assert (link.account_id, link.start, link.end) == (1, date(2026, 10, 29), date(2026, 11, 27))
    with pytest.raises(LinkRefused) as refused:
        read_chart_token(
            demo.settings.secret_key, token, now=NOW + timedelta(minutes=15, seconds=1)
        )
    assert refused.value.reason == "expired"
    with pytest.raises(LinkRefused):
        read_chart_token("another-key", token, now=NOW)


async def test_marcus_lower_bill_is_said_plainly(demo, session_factory):
    texts, _, _ = await usage_for(session_factory, "1000005560", "Marcus")
    assert texts[1] == (
        "Your latest bill (Nov 10), $95.93, covers 31 days and 533 kWh. The one before covered "
        "30 days and 625 kWh. So this bill has 1 more day and 14.7% less kWh: 17.2 kWh a day, "
        "against 20.8."
    )


async def test_every_usage_reply_fits_one_sms_and_guesses_no_cause(demo, session_factory):
    for number, name in NAMED_ACCOUNTS:
        texts, _, _ = await usage_for(session_factory, number, name)
        for text in texts:
            assert len(text) <= 306 and is_gsm7(text), text
            assert not any(
                word in text.lower()
                for word in ("weather", "colder", "hotter", "heater", "because")
            )


async def test_by_sms_the_chart_becomes_a_link_in_a_short_text(demo, session_factory):
    _, messages, _ = await usage_for(session_factory, "1000004821", "Dana")
    texts = render_sms(messages)
    assert all(len(t) <= 306 for t in texts)
    assert texts[-1].startswith(
        f"Your daily use for the last 30 days: {demo.settings.public_base_url}/usage/"
    )
    assert texts[-1].endswith(
        ".svg (the link works for 15 minutes). Reply 1 for Bill history, 2 for Pay now, 3 for "
        "Something else."
    )


def _bill(id_: int, start: date, end: date, kwh: int, cents: int) -> BillRecord:
    return BillRecord(
        id_, 1, start, end, end + timedelta(days=1), end + timedelta(days=16), cents, kwh
    )


def test_bill_message_names_fewer_days_and_last_year_when_known():
    bills = [
        _bill(3, date(2026, 10, 27), date(2026, 11, 24), 900, 14000),
        _bill(2, date(2026, 9, 27), date(2026, 10, 26), 900, 14000),
        _bill(1, date(2025, 10, 27), date(2025, 11, 26), 800, 12000),
    ]
    assert bill_message(bills) == (
        "Your latest bill (Nov 25), $140.00, covers 29 days and 900 kWh. The one before covered 30 "
        "days and "
        "900 kWh. So this bill has 1 fewer day and the same kWh: 31.0 kWh a day, against 30.0. A "
        "year ago the "
        "bill was $120.00 for 800 kWh over 31 days."
    )
    assert (
        bill_message(bills[:1]) == "Your latest bill (Nov 25), $140.00, covers 29 days and 900 kWh."
    )
    assert bill_message([]) is None


async def test_not_verified_gets_no_figures(demo):
    texts, messages, _ = await run(
        ActionUsage(), make_tracker(text="my usage", intent="usage_question")
    )
    assert texts == [
        (
            "I need to verify your account before I can share that. Just ask again and I'll walk "
            "you "
            "through it."
        )
    ]
    assert not any(m.get("image") for m in messages)


async def test_someone_elses_account_id_in_the_slots_is_refused(demo, session_factory):
    earl = await account_of(session_factory, "1000007315")
    slots = verified_slots(1, earl.id, "Dana", "7315")
    texts, messages, _ = await run(
        ActionUsage(), make_tracker(text="usage", intent="usage_question", slots=slots)
    )
    assert texts == [
        "I can't find that account right now. Please call member services at (706) 547-2167."
    ]
    assert "kWh" not in " ".join(texts) and not any(m.get("image") for m in messages)
