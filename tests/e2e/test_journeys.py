"""End to end, journey by journey: the REAL Rasa server and the REAL action server over the
gateway's signed Rasa channel, on the trained model and a temporary demo database (tests/stack.py).

Each test is one member (or two) with a sender id of its own and the metadata the gateway sends
({"channel": "web"} or {"channel": "sms", "phone": ...}). Assertions are what the member reads and
what lands in the database the co-op's staff works from. One-time codes are read where a member's
phone would get them: the outbox table (the code itself is only stored hashed).

Demo members used (docs/demo-accounts.md): Dana (balance, payment, card number, handoff), Earl
(draft), Loretta (lockout: a locked account stays locked on the frozen clock, so no other test
uses her), Marcus (wrong ZIP vs. an account that does not exist).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.models import Agent
from tests.stack import EASTERN, FAKE_NOW, Member, Stack, code_sent_to, max_id

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

ASK_ACCOUNT_QUESTION = "What's your 10-digit account number? It's at the top of your bill."
ASK_ACCOUNT = f"First I need to make sure it's you. {ASK_ACCOUNT_QUESTION}"
ASK_ZIP = (
    "Thanks. What's the ZIP code of the service address? "
    "You can send the amount of your last payment instead."
)
NO_MATCH = "That doesn't match what we have. Let's try once more."
LOCKED = (
    "For your security I've paused verification for 15 minutes. Please try again then, "
    "or call member services at (706) 547-2167 for help."
)
CODE_SENT = (
    "To continue, I'll text a 6-digit code to the phone on file ending 0101. "
    "Reply with it here. It expires in 10 min."
)
DANA_PHONE = "+17065550101"
EARL_PHONE = "+17065550102"
CHRISTMAS_10AM = datetime(2026, 12, 25, 10, 0, tzinfo=EASTERN)  # a Friday and a co-op holiday


# ------------------------------------------------------------------------------------- helpers


def texts_of(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in replies if r.get("text")]


def button(replies: list[dict[str, Any]], title_part: str) -> dict[str, str]:
    """The offered button whose title contains `title_part` (fails listing what was offered)."""
    offered = [b for r in replies for b in (r.get("buttons") or [])]
    for b in offered:
        if title_part in b["title"]:
            return b
    raise AssertionError(f"no button with {title_part!r}; offered: {[b['title'] for b in offered]}")


async def verify(member: Member, ask: str, number: str, zip_code: str) -> list[str]:
    """Ask for something that needs identity, answer the gate; the replies to the ZIP.
    (The gate's exact first words are asserted once, in the balance test.)"""
    asked = await member.texts(ask)
    assert len(asked) == 1 and asked[0].endswith(ASK_ACCOUNT_QUESTION), asked
    assert await member.texts(number) == [ASK_ZIP]
    return await member.texts(zip_code)


async def confirm_with_code(
    member: Member, stack: Stack, after_outbox_id: int, destination: str = DANA_PHONE
) -> list[dict[str, Any]]:
    """Read the code from the outbox like the member's phone would and reply with it."""
    return await member.say(code_sent_to(stack, destination, after_outbox_id))


def add_online_agent(stack: Stack, username: str, seen_at: datetime) -> int:
    """An agent whose console is open: presence online, last seen at `seen_at` (the fake now)."""
    engine = make_sync_engine(stack.database_url)
    try:
        with sync_session_factory(engine)() as session:
            agent = Agent(
                username=username,
                display_name=username.title(),
                password_hash="x",
                presence="online",
                last_seen_at=seen_at,
                created_at=seen_at,
            )
            session.add(agent)
            session.commit()
            return agent.id
    finally:
        engine.dispose()


@pytest.fixture
def undo_new_payments(rasa_stack: Stack) -> Iterator[None]:
    """Payments made by a test are removed afterwards, so Dana owes $142.87 in every test."""
    before = max_id(rasa_stack, "payments")
    yield
    rasa_stack.execute("delete from payments where id > :before", before=before)


@pytest.fixture
def clean_queue(rasa_stack: Stack) -> Iterator[None]:
    """Agents added and handoffs opened by a test are closed afterwards (queue positions stay 1)."""
    agents, handoffs = max_id(rasa_stack, "agents"), max_id(rasa_stack, "handoff_requests")
    yield
    rasa_stack.execute("update agents set presence = 'offline' where id > :a", a=agents)
    rasa_stack.execute(
        "update handoff_requests set status = 'ended' where id > :h and status = 'waiting'",
        h=handoffs,
    )


# ------------------------------------------------------------------------------ verification


async def test_dana_verifies_with_account_and_zip_and_hears_her_balance(
    rasa_stack, member_factory
) -> None:
    dana = member_factory("web")

    assert await dana.texts("what's my balance") == [ASK_ACCOUNT]
    assert await dana.texts("1000004821") == [ASK_ZIP]
    replies = await dana.texts("30833")

    assert replies[0] == "You're verified, Dana."
    assert replies[-1].startswith("Account ending 4821 (412 Mill St, Wrens): $142.87 is due ")
    assert "Your last payment, $118.20, arrived" in replies[-1]
    slots = (await dana.tracker())["slots"]
    assert slots["tier"] == "verified" and slots["account_last4"] == "4821"


async def test_five_wrong_zips_lock_verification_with_the_member_services_phone(
    rasa_stack, member_factory
) -> None:
    loretta_impostor = member_factory("web")
    assert (await loretta_impostor.texts("what's my balance"))[0].endswith(ASK_ACCOUNT_QUESTION)

    answers = []
    for wrong_zip in ("30806", "30807", "30808", "30809", "30810"):
        assert await loretta_impostor.texts("1000002209") == [ASK_ZIP]
        answers.append(await loretta_impostor.texts(wrong_zip))

    for miss in answers[:4]:
        assert miss[0] == NO_MATCH, answers
    assert answers[4][0] == LOCKED, answers
    assert not any("verified" in t for a in answers for t in a)
    # Locked means locked: asking again gets the same answer, not the questions.
    assert await loretta_impostor.texts("what's my balance") == [LOCKED]
    assert (await loretta_impostor.tracker())["slots"]["tier"] in (None, "public")


async def test_an_account_that_does_not_exist_gets_the_same_words_as_a_wrong_zip(
    rasa_stack, member_factory
) -> None:
    assert (
        rasa_stack.sql("select count(*) from accounts where account_number = '1000000017'")[0][0]
        == 0
    )
    wrong_zip, no_such_account = member_factory("web"), member_factory("web")

    after_wrong_zip = await verify(wrong_zip, "what's my balance", "1000005560", "30999")
    after_no_account = await verify(no_such_account, "what's my balance", "1000000017", "30833")

    assert after_wrong_zip[0] == NO_MATCH
    assert after_no_account == after_wrong_zip


async def test_sign_in_on_its_own_then_already_verified_then_the_balance_without_a_gate(
    rasa_stack, member_factory
) -> None:
    """Issue 9 item 4: "I want to sign in to my account" is the gate on its own, not a fallback."""
    dana = member_factory("web")

    assert await dana.texts("I want to sign in to my account") == [ASK_ACCOUNT]
    assert await dana.texts("1000004821") == [ASK_ZIP]
    signed_in = await dana.say("30833")
    assert texts_of(signed_in) == [
        "You're verified, Dana.",
        "You're all set for account ending 4821. I can check your balance, take a payment, set "
        "up a bank draft, or show your bills and usage. What would you like?",
    ]
    assert button(signed_in, "Check my balance")["payload"] == "/check_balance"
    assert "$" not in " ".join(texts_of(signed_in))  # no balance dump

    assert await dana.texts("verify me") == [
        "You're already verified for account ending 4821. I can check your balance, take a "
        "payment, set up a bank draft, or show your bills and usage."
    ]
    balance = await dana.texts("whats my balance")
    assert len(balance) == 1 and balance[0].startswith("Account ending 4821 (412 Mill St, Wrens)")


async def test_a_texter_says_verify_me_and_the_phone_on_file_needs_only_the_zip(
    rasa_stack, member_factory
) -> None:
    dana = member_factory("sms", phone=DANA_PHONE)

    assert await dana.texts("lemme verify real quick") == [
        "I see this number on file. To confirm it's you, reply with the ZIP code of the "
        "service address."
    ]
    replies = await dana.texts("30833")
    assert replies[0] == "You're verified, Dana."
    assert replies[1].startswith("You're all set for account ending 4821.")
    assert all(len(text) <= 306 for text in replies)
    assert (await dana.tracker())["slots"]["tier"] == "verified"


# ---------------------------------------------------------------------------------- payment


async def test_pay_with_the_saved_visa_and_a_second_yes_charges_nothing(
    rasa_stack, member_factory, undo_new_payments
) -> None:
    dana = member_factory("web")
    outbox_before, payments_before = max_id(rasa_stack, "outbox"), max_id(rasa_stack, "payments")

    after_zip = await verify(dana, "pay my bill", "1000004821", "30833")
    assert after_zip == ["You're verified, Dana.", CODE_SENT]
    amount_question = await confirm_with_code(dana, rasa_stack, outbox_before)
    assert texts_of(amount_question)[-1].startswith("$142.87 is due ")
    method_question = await dana.say(button(amount_question, "Full $142.87")["payload"])
    assert texts_of(method_question) == ["Which payment method would you like to use?"]
    confirm_question = await dana.texts(button(method_question, "Visa ending 4242")["payload"])
    assert confirm_question == [
        "Pay $142.87 today with Visa ending 4242? Reply YES to confirm or NO to stop."
    ]

    done = await dana.texts("YES")
    assert len(done) == 1 and done[0].startswith(
        "Done. Payment of $142.87 received, confirmation P-"
    ), done
    confirmation = re.search(r"confirmation (P-[0-9A-Z]+)\.", done[0]).group(1)

    again = await dana.texts("yes")
    assert again == [
        f"That payment is already done (confirmation {confirmation}). Nothing more was charged."
    ]

    rows = rasa_stack.sql(
        "select amount_cents, status, confirmation_number, method_label, channel, idempotency_key "
        "from payments where id > :before",
        before=payments_before,
    )
    assert len(rows) == 1, rows
    [(amount, status, number, label, channel, key)] = rows
    assert (amount, status, number, label, channel) == (
        14287,
        "succeeded",
        confirmation,
        "Visa ending 4242",
        "web",
    )
    assert key.startswith(f"{dana.sender}:payment:")


async def test_a_card_number_typed_into_the_payment_form_is_not_kept(
    rasa_stack, member_factory, undo_new_payments
) -> None:
    dana = member_factory("web")
    outbox_before = max_id(rasa_stack, "outbox")
    assert await verify(dana, "pay my bill", "1000004821", "30833") == [
        "You're verified, Dana.",
        CODE_SENT,
    ]
    amount_question = await confirm_with_code(dana, rasa_stack, outbox_before)
    assert texts_of(amount_question)[-1].startswith("$142.87 is due ")

    replies = await dana.texts("4111 1111 1111 1111")

    assert replies[0].startswith(
        "For your safety I didn't keep that card number. Please never send "
        "card numbers in a chat or text. You can add a card on our secure page: "
    )
    assert not any("4111" in t for t in replies)
    slots = (await dana.tracker())["slots"]
    stored = json.dumps(slots)
    assert "4111111111111111" not in stored and "4111 1111 1111 1111" not in stored, slots
    assert slots["payment_amount_cents"] is None


# ------------------------------------------------------------------------------------ drafts


async def test_earl_enrols_in_a_draft_on_the_18th_from_checking_then_cancels_it(
    rasa_stack, member_factory
) -> None:
    earl = member_factory("web")
    outbox_before = max_id(rasa_stack, "outbox")
    [(account_id,)] = rasa_stack.sql("select id from accounts where account_number = '1000007315'")

    after_zip = await verify(earl, "set up bank draft", "1000007315", "30434")
    assert after_zip[0] == "You're verified, Earl."
    assert after_zip[-1] == CODE_SENT.replace("0101", "0102")
    day_question = await earl.texts(code_sent_to(rasa_stack, EARL_PHONE, outbox_before))
    assert day_question[-1].endswith("Which day works best?"), day_question
    assert await earl.texts("the 18th") == [
        "Should each draft be the full amount due on your bill, or a fixed amount you choose?"
    ]
    bank_question = await earl.say("the full amount")
    assert texts_of(bank_question) == ["Which account should we draft?"]
    authorization = await earl.texts(button(bank_question, "6120")["payload"])
    assert authorization[-1].endswith("Reply YES to authorize or NO."), authorization
    assert "18th" in " ".join(authorization) and "6120" in " ".join(authorization)

    enrolled = await earl.texts("YES")
    assert enrolled[0].startswith("You're enrolled. First draft: "), enrolled
    [(enrollment_id, day, rule, status)] = rasa_stack.sql(
        "select id, draft_day, amount_rule, status from draft_enrollments where account_id = :a",
        a=account_id,
    )
    assert (day, rule, status) == (18, "full_balance", "active")
    [(action, text, conversation)] = rasa_stack.sql(
        "select action, text, conversation_id from draft_authorizations where enrollment_id = :e",
        e=enrollment_id,
    )
    assert action == "enroll" and conversation == earl.sender and "6120" in text

    cancel_question = await earl.texts("cancel my bank draft")
    assert cancel_question[-1].startswith("Cancel your bank draft?"), cancel_question
    assert cancel_question[-1].endswith("Reply YES or NO.")
    cancelled = await earl.texts("yes")
    assert cancelled[-1].endswith("Anything else?"), cancelled
    assert rasa_stack.sql(
        "select status from draft_enrollments where id = :e", e=enrollment_id
    ) == [("cancelled",)]
    actions = [
        a
        for (a,) in rasa_stack.sql(
            "select action from draft_authorizations where enrollment_id = :e order by id",
            e=enrollment_id,
        )
    ]
    assert actions == ["enroll", "cancel"]


# ----------------------------------------------------------------------------------- outages


async def test_a_downed_line_gets_the_safety_message_first_then_a_report_reference(
    rasa_stack, member_factory
) -> None:
    neighbour = member_factory("web")
    reports_before = max_id(rasa_stack, "outage_reports")

    first = await neighbour.texts("theres a line down by my house and my power is out")

    assert first[0] == (
        "Stay away from that line. Keep at least 35 feet from it and anything touching "
        "it, and never touch it. If anyone is in danger, call 911. If a line is on your "
        "car, stay inside until help arrives."
    )
    assert first[1] == (
        "Please also call our 24/7 line, 1-800-262-5131, to report it. Hazards must be "
        "reported by phone too, not only here."
    )
    assert first[-1].startswith(
        "I'll report the outage. What's the address where the power is out?"
    )

    reported = await neighbour.texts("88 church st louisville")

    last = reported[-1]
    match = re.match(
        r"Your report is (R-\d{4}-\d{6})\. I noted the hazard on it; please also call "
        r"1-800-262-5131\. Want a text when your power is back\? Reply YES or NO\.$",
        last,
    )
    assert match, reported
    [(reference, hazard, channel, conversation)] = rasa_stack.sql(
        "select reference, hazard, channel, conversation_id from outage_reports where id > :b",
        b=reports_before,
    )
    assert (reference, bool(hazard), channel, conversation) == (
        match.group(1),
        True,
        "web",
        neighbour.sender,
    )


async def test_outage_status_by_town_gives_a_labelled_estimate(rasa_stack, member_factory) -> None:
    texter = member_factory("sms", phone="+17065550199")

    replies = await texter.texts("is the power out in wrens")

    assert replies == [
        (
            "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
            "Crews: on site. Estimated restoration: 1:00 PM, an estimate that may change."
        ),
        "Is your power out? Reply YES and I'll take your report, or NO if you're fine.",
    ]


# ----------------------------------------------------------------------------------- handoff


async def test_in_office_hours_with_an_agent_online_the_member_is_queued_and_the_bot_goes_quiet(
    rasa_stack, member_factory, clean_queue
) -> None:
    add_online_agent(rasa_stack, "e2e-rita", seen_at=FAKE_NOW)
    dana = member_factory("web")
    balance = await verify(dana, "what's my balance", "1000004821", "30833")
    assert balance[0] == "You're verified, Dana."

    replies = await dana.say("can I talk to a real person")

    assert texts_of(replies) == [
        (
            "Sure. I'm connecting you with our member-services team. You're number 1 in line, "
            "usually "
            "about 4 minutes. I'll stay quiet while you chat with them."
        )
    ]
    [custom] = [r["custom"] for r in replies if r.get("custom")]
    assert custom["handoff"]["status"] == "queued"
    [(handoff_id, status, tier, channel)] = rasa_stack.sql(
        "select id, status, verified_tier, channel from handoff_requests where conversation_id = "
        ":c",
        c=dana.sender,
    )
    assert (handoff_id, status, tier, channel) == (
        custom["handoff"]["handoff_id"],
        "waiting",
        "verified",
        "web",
    )

    assert await dana.say("hello? are you there") == []
    events = (await dana.tracker())["events"]
    assert [e["event"] for e in events].count("pause") == 1


async def test_on_a_holiday_the_member_hears_when_we_open_and_is_offered_a_callback(
    rasa_stack, member_factory, fake_clock, clean_queue
) -> None:
    fake_clock.set(CHRISTMAS_10AM)
    add_online_agent(rasa_stack, "e2e-holly", seen_at=CHRISTMAS_10AM)  # even with someone signed in
    visitor = member_factory("web")

    replies = await visitor.say("can I talk to a real person")

    assert texts_of(replies) == [
        (
            "Our office is closed today for Christmas Day. We open Monday at 8 AM. I can ask "
            "someone to "
            "call you back then, or keep helping here. For outages or emergencies, call "
            "1-800-262-5131 any time."
        )
    ]
    assert [b["title"] for b in replies[0]["buttons"]] == ["Request a callback", "Keep chatting"]
    assert rasa_stack.sql(
        "select count(*) from handoff_requests where conversation_id = :c", c=visitor.sender
    ) == [(0,)]
