"""The identity gate against a real SQLite database of demo members (docs/demo-accounts.md)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions.identity.confirm import ValidateConfirmForm
from bot.actions.identity.logout import ActionLogOut
from bot.actions.identity.questions import (
    ActionAskAccountChoice,
    ActionAskOtpCode,
    ActionAskZipCode,
)
from bot.actions.identity.verify import ValidateVerifyForm
from bot.core.masking import CARD_NOT_KEPT_MESSAGE
from bot.demo import generate_demo_data
from bot.services.identity import MISMATCH_MESSAGE
from bot.store.models import Account, OutboxMessage
from tests.actions.identity_helpers import (
    DANA_ACCOUNT,
    DANA_PHONE,
    DANA_ZIP,
    DEMO_TODAY,
    MARCUS_PHONE,
    NOW,
    make_tracker,
    run,
    verified_slots,
)

SMS = {"channel": "sms", "phone": DANA_PHONE}


@pytest.fixture
def demo(sqlite_url, make_deps):
    generate_demo_data(sqlite_url, members=5, today=DEMO_TODAY)
    return make_deps(NOW)


async def verify(account: str, zip_code: str, sender: str = "conv-1"):
    tracker = make_tracker(
        text=f"{account} {zip_code}",
        new_slots={"account_number": account, "zip_code": zip_code},
        active_loop="verify_form",
        sender_id=sender,
    )
    return await run(ValidateVerifyForm(), tracker)


async def test_account_number_and_zip_verify_dana(demo):
    texts, _, slots = await verify(DANA_ACCOUNT, DANA_ZIP)
    assert texts == ["You're verified, Dana."]
    assert slots["tier"] == "verified"
    assert slots["member_first_name"] == "Dana"
    assert slots["account_last4"] == "4821"
    assert slots["verified_how"] == "account+zip"
    assert slots["requested_slot"] is None  # the form ends: the journey's rule runs next
    assert slots["account_number"] is None and slots["zip_code"] is None


async def test_wrong_zip_and_unknown_account_get_the_same_words(demo):
    wrong_zip, _, slots = await verify(DANA_ACCOUNT, "30834", sender="a")
    no_account, _, slots2 = await verify("1999999999", DANA_ZIP, sender="b")
    assert wrong_zip == no_account == [MISMATCH_MESSAGE]
    assert MISMATCH_MESSAGE == "That doesn't match what we have. Let's try once more."
    assert slots.get("tier") is None and slots["requested_slot"] == "account_number"
    assert slots2["requested_slot"] == "account_number"


async def test_fifth_miss_locks_with_the_member_services_phone(demo):
    for _ in range(4):
        texts, _, slots = await verify(DANA_ACCOUNT, "30801")
        assert texts == [MISMATCH_MESSAGE]
    texts, _, slots = await verify(DANA_ACCOUNT, "30801")
    assert "paused verification for 15 minutes" in texts[0]
    assert "(706) 547-2167" in texts[0]
    assert slots["journey"] == "stopped" and slots["requested_slot"] is None
    # even the right answer is refused while locked
    texts, _, slots = await verify(DANA_ACCOUNT, DANA_ZIP)
    assert "paused verification" in texts[0] and "tier" not in slots


async def test_malformed_answers_re_ask_without_counting(demo):
    tracker = make_tracker(
        text="12345", new_slots={"account_number": "12345"}, active_loop="verify_form"
    )
    texts, _, slots = await run(ValidateVerifyForm(), tracker)
    assert texts == [
        "Your account number is 10 digits, printed at the top of your bill. "
        "Please send just those digits."
    ]
    assert slots["account_number"] is None and slots["requested_slot"] == "account_number"
    for _ in range(6):  # six typos never lock anyone out
        await run(ValidateVerifyForm(), tracker)
    texts, _, slots = await verify(DANA_ACCOUNT, DANA_ZIP)
    assert texts == ["You're verified, Dana."]


async def test_card_number_typed_into_the_form_is_not_kept(demo):
    tracker = make_tracker(
        text="4111 1111 1111 1111",
        new_slots={"account_number": "4111 1111 1111 1111"},
        active_loop="verify_form",
    )
    texts, _, slots = await run(ValidateVerifyForm(), tracker)
    assert texts == [CARD_NOT_KEPT_MESSAGE]
    assert slots["account_number"] is None
    assert "4111" not in str(slots)


async def test_last_payment_amount_is_accepted_instead_of_zip(demo):
    tracker = make_tracker(
        text="my last payment was $118.20",
        new_slots={"account_number": DANA_ACCOUNT, "last_payment_amount": "$118.20"},
        active_loop="verify_form",
    )
    texts, _, slots = await run(ValidateVerifyForm(), tracker)
    assert texts == ["You're verified, Dana."]
    assert slots["verified_how"] == "account+last_payment"


async def test_sms_phone_on_file_skips_the_account_number(demo):
    ask = make_tracker(
        text="balance", intent="check_balance", metadata=SMS, active_loop="verify_form"
    )
    texts, _, _ = await run(ActionAskZipCode(), ask)
    assert texts == [
        (
            "I see this number on file. To confirm it's you, reply with the ZIP code of the "
            "service address."
        )
    ]
    dispatcher_slots = await ValidateVerifyForm().required_slots([], None, ask, {})  # type: ignore[arg-type]
    assert dispatcher_slots == ["zip_code"]
    answer = make_tracker(
        text=DANA_ZIP, new_slots={"zip_code": DANA_ZIP}, metadata=SMS, active_loop="verify_form"
    )
    texts, _, slots = await run(ValidateVerifyForm(), answer)
    assert texts == ["You're verified, Dana."]
    assert slots["verified_how"] == "phone_on_file+zip" and slots["account_last4"] == "4821"
    assert slots["channel"] == "sms" and slots["phone"] == DANA_PHONE


async def test_sms_from_an_unknown_phone_asks_for_the_account_number(demo):
    tracker = make_tracker(
        text="balance", intent="check_balance", metadata={"channel": "sms", "phone": "+17065559999"}
    )
    assert await ValidateVerifyForm().required_slots([], None, tracker, {}) == [
        "account_number",
        "zip_code",
    ]  # type: ignore[arg-type]


async def test_marcus_by_sms_is_asked_for_a_zip_and_the_zip_picks_one_account(demo):
    meta = {"channel": "sms", "phone": MARCUS_PHONE}
    texts, _, _ = await run(
        ActionAskZipCode(), make_tracker(text="hi", metadata=meta, active_loop="verify_form")
    )
    assert texts == [
        (
            "I see this number on file. To confirm it's you, reply with the ZIP code of the "
            "service address you want to ask about."
        )
    ]
    answer = make_tracker(
        text="30805", new_slots={"zip_code": "30805"}, metadata=meta, active_loop="verify_form"
    )
    texts, _, slots = await run(ValidateVerifyForm(), answer)
    assert texts == ["You're verified, Marcus."] and slots["account_last4"] == "5578"


async def test_several_accounts_and_none_chosen_asks_which_one(demo, session_factory):
    async with session_factory() as session:
        marcus = (
            await session.scalars(select(Account).where(Account.account_number == "1000005560"))
        ).one()
    slots = verified_slots(marcus.member_id, None, "Marcus", None)
    tracker = make_tracker(
        text="balance", intent="check_balance", slots=slots, active_loop="verify_form"
    )
    assert await ValidateVerifyForm().required_slots([], None, tracker, {}) == ["account_choice"]  # type: ignore[arg-type]
    texts, messages, _ = await run(ActionAskAccountChoice(), tracker)
    assert texts == ["You have more than one account. Which one?"]
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "Account ending 5560 (27 Broad St, Wrens)",
        "Account ending 5578 (3400 Hwy 88, Blythe)",
    ]
    payload = messages[0]["buttons"][0]["payload"]
    assert payload.startswith('/inform{"account_number":"acct-') and "1000005560" not in payload
    pick = make_tracker(
        text="the shop in blythe",
        slots=slots,
        new_slots={"account_choice": "the shop in blythe"},
        active_loop="verify_form",
    )
    texts, _, chosen = await run(ValidateVerifyForm(), pick)
    assert texts == ["OK, account ending 5578 (3400 Hwy 88, Blythe)."]
    assert chosen["account_last4"] == "5578" and chosen["requested_slot"] is None


async def test_already_verified_passes_the_gate_at_once(demo):
    tracker = make_tracker(
        text="balance",
        intent="check_balance",
        slots=verified_slots(1, 1, "Dana", "4821"),
        active_loop="verify_form",
    )
    texts, _, slots = await run(ValidateVerifyForm(), tracker)
    assert texts == [] and slots == {"requested_slot": None}


async def test_idle_fifteen_minutes_means_verify_again(demo):
    at = NOW.timestamp()
    tracker = make_tracker(
        text="balance",
        intent="check_balance",
        slots=verified_slots(1, 1, "Dana", "4821"),
        timestamps=(at - 16 * 60, at),
        active_loop="verify_form",
    )
    assert await ValidateVerifyForm().required_slots([], None, tracker, {}) == [
        "account_number",
        "zip_code",
    ]  # type: ignore[arg-type]


# ---------------------------------------------------------------- one-time codes


async def _sent_code(session_factory) -> str:
    async with session_factory() as session:
        body = (
            await session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id.desc()))
        ).first()
    match = re.search(r"\b(\d{6})\b", body or "")
    assert match, body
    return match.group(1)


async def test_code_is_texted_to_the_phone_on_file_and_confirms(demo, session_factory):
    slots = verified_slots(1, 1, "Dana", "4821")
    texts, _, sent = await run(
        ActionAskOtpCode(), make_tracker(text="pay", slots=slots, active_loop="confirm_form")
    )
    assert texts == [
        (
            "To continue, I'll text a 6-digit code to the phone on file ending 0101. "
            "Reply with it here. It expires in 10 min."
        )
    ]
    code = await _sent_code(session_factory)
    answer = make_tracker(
        text=code, slots={**slots, **sent}, new_slots={"otp_code": code}, active_loop="confirm_form"
    )
    texts, _, result = await run(ValidateConfirmForm(), answer)
    assert texts == ["Thanks, that code checks out."]
    assert result["tier"] == "confirmed" and result["verified_how"] == "account+zip+otp"
    assert result["requested_slot"] is None and result["otp_code"] is None


async def test_wrong_code_says_how_many_tries_are_left(demo, session_factory):
    slots = verified_slots(1, 1, "Dana", "4821")
    await run(ActionAskOtpCode(), make_tracker(text="pay", slots=slots, active_loop="confirm_form"))
    code = await _sent_code(session_factory)
    wrong = "000000" if code != "000000" else "111111"
    texts, _, result = await run(
        ValidateConfirmForm(),
        make_tracker(
            text=wrong, slots=slots, new_slots={"otp_code": wrong}, active_loop="confirm_form"
        ),
    )
    assert texts == ["That code doesn't match. You have 4 tries left."]
    assert result["otp_code"] is None and result.get("requested_slot", "otp_code") == "otp_code"
    assert "tier" not in result


async def test_too_many_wrong_codes_stop_and_give_the_phone(demo, session_factory):
    slots = verified_slots(1, 1, "Dana", "4821")
    await run(ActionAskOtpCode(), make_tracker(text="pay", slots=slots, active_loop="confirm_form"))
    code = await _sent_code(session_factory)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        await run(
            ValidateConfirmForm(),
            make_tracker(text=wrong, slots=slots, new_slots={"otp_code": wrong}),
        )
    texts, _, result = await run(
        ValidateConfirmForm(), make_tracker(text=wrong, slots=slots, new_slots={"otp_code": wrong})
    )
    assert texts == [
        (
            "That's too many tries, so I've stopped for your security. "
            "Please call member services at (706) 547-2167 for help."
        )
    ]
    assert result["journey"] == "stopped" and result["requested_slot"] is None


async def test_expired_code_gets_a_new_one(demo, session_factory, make_deps):
    slots = verified_slots(1, 1, "Dana", "4821")
    _, _, sent = await run(
        ActionAskOtpCode(), make_tracker(text="pay", slots=slots, active_loop="confirm_form")
    )
    code = await _sent_code(session_factory)
    later = NOW + timedelta(minutes=11)
    make_deps(later)
    slots_later = {**slots, **sent, "verified_at": later.isoformat()}
    texts, _, result = await run(
        ValidateConfirmForm(),
        make_tracker(
            text=code, slots=slots_later, new_slots={"otp_code": code}, active_loop="confirm_form"
        ),
    )
    assert texts == ["That code has expired, so I'll send you a new one."] and "tier" not in result
    texts, _, _ = await run(
        ActionAskOtpCode(), make_tracker(text=code, slots={**slots_later, "otp_code": None})
    )
    assert texts[0].startswith(
        "To continue, I'll text a 6-digit code to the phone on file ending 0101."
    )
    assert await _sent_code(session_factory) != ""


async def test_confirmed_member_passes_the_code_gate_at_once(demo):
    tracker = make_tracker(
        text="pay",
        slots=verified_slots(1, 1, "Dana", "4821", tier="confirmed"),
        active_loop="confirm_form",
    )
    assert await ValidateConfirmForm().required_slots([], None, tracker, {}) == []  # type: ignore[arg-type]


# ---------------------------------------------------------------- log out


async def test_log_out_forgets_the_member(demo):
    texts, _, slots = await run(
        ActionLogOut(),
        make_tracker(text="log out", intent="log_out", slots=verified_slots(1, 1, "Dana", "4821")),
    )
    assert texts == [
        (
            "You're logged out. I've forgotten your account in this chat; "
            "I'll ask again before sharing account details."
        )
    ]
    assert slots["tier"] == "public"
    assert all(
        slots[name] is None
        for name in ("member_id", "account_id", "member_first_name", "verified_at")
    )
