"""Issue 12 item 14: a texter (who may hold a found or stolen phone) learns no digit of any account
number before giving the second factor."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.actions.identity.questions import ActionAskZipCode
from bot.actions.identity.verify import ValidateVerifyForm
from bot.store.models import Account
from tests.actions.identity_helpers import DANA_PHONE, MARCUS_PHONE, make_tracker, run
from tests.security.conftest import sms


async def account_numbers(factory) -> list[str]:
    async with factory() as session:
        return list((await session.scalars(select(Account.account_number))).all())


async def test_the_phone_path_question_names_no_account_digits(demo_deps, session_factory) -> None:
    numbers = await account_numbers(session_factory)
    for phone in (DANA_PHONE, MARCUS_PHONE):
        ask = make_tracker(
            text="whats my balance",
            intent="check_balance",
            metadata=sms(phone),
            active_loop="verify_form",
        )
        (text,), _, _ = await run(ActionAskZipCode(), ask)
        assert "ZIP code" in text
        assert re.search(r"\d", text) is None, text
        assert not any(n[-4:] in text for n in numbers)


async def test_a_wrong_zip_on_the_phone_path_names_no_account_digits(demo_deps) -> None:
    answer = make_tracker(
        text="30801",
        new_slots={"zip_code": "30801"},
        metadata=sms(DANA_PHONE),
        active_loop="verify_form",
    )
    texts, _, slots = await run(ValidateVerifyForm(), answer)
    assert slots.get("tier") is None
    assert all(re.search(r"\d{4}", t) is None for t in texts), texts
