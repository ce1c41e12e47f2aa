"""Bill history, payment history and bill PDF links for the demo members, on a real SQLite
database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from bot.actions.history import ActionBillHistory, ActionBillPdf, ActionPaymentHistory, pack
from bot.core.gsm7 import is_gsm7
from bot.demo import generate_demo_data
from bot.services.history import named_month, read_bill_token
from bot.services.signed_links import LinkRefused
from bot.store.models import Account, Bill
from tests.actions.demo_db import NAMED_ACCOUNTS
from tests.actions.identity_helpers import DEMO_TODAY, NOW, make_tracker, run, verified_slots

PDF_LINK_TEXT = "as a PDF. The link works for 15 minutes: "


@pytest.fixture
def demo(sqlite_url, make_deps):
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def slots_for(session_factory, number: str, first_name: str) -> dict[str, Any]:
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == number))
        ).one()
    return verified_slots(account.member_id, account.id, first_name, number[-4:])


def after_gate(slots: dict[str, Any], asked: str, intent: str = "bill_pdf") -> Tracker:
    """The tracker as the action sees it after verify_form: the request, then the ZIP answer."""
    ask = {"text": asked, "intent": {"name": intent, "confidence": 0.98}, "entities": []}
    zip_ = {
        "text": "30833",
        "intent": {"name": "inform", "confidence": 0.99},
        "entities": [{"entity": "zip_code", "value": "30833"}],
    }
    return Tracker(
        sender_id="conv-1",
        slots={"tier": "public", **slots},
        latest_message=zip_,
        events=[
            {"event": "user", "text": asked, "parse_data": ask},
            {"event": "bot", "text": "First I need to make sure it's you."},
            {"event": "user", "text": "30833", "parse_data": zip_},
        ],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="verify_form",
    )


# ---------------------------------------------------------------- bill history


async def test_dana_last_12_bills_split_into_sms_sized_messages(demo, session_factory):
    slots = await slots_for(session_factory, "1000004821", "Dana")
    texts, messages, _ = await run(
        ActionBillHistory(), make_tracker(text="bill history", intent="bill_history", slots=slots)
    )
    assert texts == [
        (
            "Your last 12 bills, account ending 4821:\n"
            "Nov 2026: $142.87, due Dec 12, not paid yet\n"
            "Oct 2026: $118.20, due Nov 11, paid\n"
            "Sep 2026: $123.30, due Oct 12, paid\n"
            "Aug 2026: $159.83, due Sep 11, paid\n"
            "Jul 2026: $168.76, due Aug 11, paid\n"
            "Jun 2026: $133.29, due Jul 12, paid\n"
            "May 2026: $101.16, due Jun 11, paid"
        ),
        (
            "Apr 2026: $91.52, due May 12, paid\n"
            "Mar 2026: $114.73, due Apr 11, paid\n"
            "Feb 2026: $158.88, due Mar 14, paid\n"
            "Jan 2026: $173.04, due Feb 11, paid\n"
            "Dec 2025: $129.96, due Jan 11, paid"
        ),
    ]
    assert [b["title"] for b in messages[-1]["buttons"]] == [
        "Latest bill PDF",
        "Payment history",
        "Something else",
    ]


async def test_earl_late_fee_is_shown_next_to_the_past_due_bill(demo, session_factory):
    slots = await slots_for(session_factory, "1000007315", "Earl")
    texts, _, _ = await run(
        ActionBillHistory(), make_tracker(text="my bills", intent="bill_history", slots=slots)
    )
    lines = "\n".join(texts).split("\n")
    assert lines[1:3] == [
        "Nov 2026: $96.55, due Dec 8, not paid yet",
        "Oct 2026: $38.10 plus a $3.00 late fee, due Nov 7, not paid yet",
    ]
    assert len(lines) == 13


# ---------------------------------------------------------------- payment history


async def test_dana_last_payments_with_dates_amounts_and_method_labels(demo, session_factory):
    slots = await slots_for(session_factory, "1000004821", "Dana")
    texts, messages, _ = await run(
        ActionPaymentHistory(),
        make_tracker(text="payment history", intent="payment_history", slots=slots),
    )
    assert texts == [
        (
            "Your last 6 payments, account ending 4821:\n"
            "Nov 8, 2026: $118.20 by Visa ending 4242, received (conf. JEC000000011)\n"
            "Oct 2, 2026: $123.30 by Visa ending 4242, received (conf. JEC000000010)\n"
            "Aug 29, 2026: $159.83 by Visa ending 4242, received (conf. JEC000000009)"
        ),
        (
            "Aug 9, 2026: $168.76 by Visa ending 4242, received (conf. JEC000000008)\n"
            "Jul 2, 2026: $133.29 by Visa ending 4242, received (conf. JEC000000007)\n"
            "Jun 7, 2026: $101.16 by Visa ending 4242, received (conf. JEC000000006)"
        ),
    ]
    assert [b["payload"] for b in messages[-1]["buttons"]] == [
        "/bill_history",
        "/pay_bill",
        "/help",
    ]


async def test_every_history_reply_fits_one_sms(demo, session_factory):
    for number, name in NAMED_ACCOUNTS:
        slots = await slots_for(session_factory, number, name)
        for action, intent in (
            (ActionBillHistory(), "bill_history"),
            (ActionPaymentHistory(), "payment_history"),
            (ActionBillPdf(), "bill_pdf"),
        ):
            texts, _, _ = await run(action, make_tracker(text="x", intent=intent, slots=slots))
            for text in texts:
                assert len(text) <= 306 and is_gsm7(text), text
                assert "4242424242424242" not in text


def test_pack_never_exceeds_the_limit_and_keeps_every_line():
    lines = [f"line {i:02d} " + "x" * 40 for i in range(20)]
    messages = pack("Header:", lines, limit=120)
    assert all(len(m) <= 120 for m in messages)
    assert "\n".join(messages).split("\n") == ["Header:", *lines]


# ---------------------------------------------------------------- bill PDF


def link_token(text: str, base: str) -> str:
    assert PDF_LINK_TEXT in text
    url = text.split(PDF_LINK_TEXT, 1)[1]
    assert url.startswith(f"{base}/bill/") and url.endswith(".pdf")
    return url[len(f"{base}/bill/") : -len(".pdf")]


async def test_latest_bill_pdf_by_default(demo, session_factory):
    slots = await slots_for(session_factory, "1000004821", "Dana")
    texts, _, _ = await run(ActionBillPdf(), after_gate(slots, "send me a copy of my bill"))
    [text] = texts
    assert text.startswith(
        "Here's your Nov 2026 bill ($142.87, due Dec 12) as a PDF. The link works for 15 "
        f"minutes: {demo.settings.public_base_url}/bill/"
    )
    link = read_bill_token(
        demo.settings.secret_key, link_token(text, demo.settings.public_base_url), now=NOW
    )
    async with session_factory() as session:
        bill = await session.get(Bill, link.bill_id)
    assert (link.account_id, bill.account_id, bill.amount_cents) == (
        slots["account_id"],
        slots["account_id"],
        14287,
    )
    with pytest.raises(LinkRefused):
        read_bill_token(
            demo.settings.secret_key,
            link_token(text, demo.settings.public_base_url),
            now=NOW + timedelta(minutes=16),
        )


async def test_the_month_named_in_the_request_picks_the_bill(demo, session_factory):
    slots = await slots_for(session_factory, "1000004821", "Dana")
    texts, _, _ = await run(ActionBillPdf(), after_gate(slots, "need a copy of my october bill"))
    assert texts[0].startswith("Here's your Oct 2026 bill ($118.20, due Nov 11) as a PDF.")
    texts, _, _ = await run(
        ActionBillPdf(), after_gate(slots, "get a copy of my bill from Jan 2026")
    )
    assert texts[0].startswith("Here's your Jan 2026 bill ($173.04, due Feb 11) as a PDF.")


async def test_a_month_without_a_bill_says_which_months_there_are(demo, session_factory):
    slots = await slots_for(session_factory, "1000004821", "Dana")
    texts, messages, _ = await run(ActionBillPdf(), after_gate(slots, "my bill from june 2025"))
    assert texts == [
        (
            "I don't see a bill from June 2025 on account ending 4821. I have bills from Dec 2025 "
            "to "
            "Nov 2026."
        )
    ]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/bill_pdf", "/bill_history"]


def test_named_month_reads_member_wording():
    assert named_month("need a copy of my october bill").month == 10
    assert named_month("Sept 2026 statement") == named_month("september, 2026")
    assert named_month("Sept 2026 statement").year == 2026
    assert named_month("may i get a copy of my bill") is None
    assert named_month("my bill from may").month == 5
    assert named_month("send me my bill") is None
    assert named_month("") is None


async def test_not_verified_gets_no_link_or_list(demo):
    for action, intent in (
        (ActionBillHistory(), "bill_history"),
        (ActionPaymentHistory(), "payment_history"),
        (ActionBillPdf(), "bill_pdf"),
    ):
        texts, _, _ = await run(action, make_tracker(text="x", intent=intent))
        assert texts == [
            (
                "I need to verify your account before I can share that. Just ask again and I'll "
                "walk "
                "you through it."
            )
        ]


async def test_someone_elses_account_id_in_the_slots_is_refused(demo, session_factory):
    earl = await slots_for(session_factory, "1000007315", "Earl")
    slots = {**earl, "member_id": 1}  # Dana's member id with Earl's account
    for action, intent in (
        (ActionBillHistory(), "bill_history"),
        (ActionPaymentHistory(), "payment_history"),
        (ActionBillPdf(), "bill_pdf"),
    ):
        texts, _, _ = await run(action, make_tracker(text="x", intent=intent, slots=slots))
        assert texts == [
            "I can't find that account right now. Please call member services at (706) 547-2167."
        ]
