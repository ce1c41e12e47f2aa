"""Item 11, as the attack: the next person at a shared computer reads the previous member's
account numbers from the account-choice buttons kept in the chat's transcript, or replays a
button from another conversation. The buttons carry opaque ids, mapped back server-side."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.actions.deps import ActionDeps
from bot.actions.identity.questions import ActionAskAccountChoice
from bot.actions.identity.verify import ValidateVerifyForm
from bot.store.models import Account
from tests.actions.identity_helpers import make_tracker, run, verified_slots


async def _marcus(demo_deps: ActionDeps) -> dict[str, Any]:
    async with demo_deps.sessions() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == "1000005560"))
        ).one()
    return verified_slots(account.member_id, None, "Marcus", None)


async def _buttons(demo_deps: ActionDeps, sender_id: str) -> list[dict[str, str]]:
    tracker = make_tracker(
        text="balance",
        intent="check_balance",
        slots=await _marcus(demo_deps),
        active_loop="verify_form",
        sender_id=sender_id,
    )
    _, messages, _ = await run(ActionAskAccountChoice(), tracker)
    return messages[0]["buttons"]


async def _press(demo_deps: ActionDeps, payload: str, sender_id: str) -> tuple[list[str], dict]:
    ref = re.search(r'"account_number":"([^"]+)"', payload).group(1)
    slots = {**await _marcus(demo_deps), "requested_slot": "account_choice"}
    tracker = make_tracker(
        text=payload,
        slots=slots,
        new_slots={"account_choice": ref, "account_number": ref},
        active_loop="verify_form",
        sender_id=sender_id,
    )
    texts, _, chosen = await run(ValidateVerifyForm(), tracker)
    return texts, chosen


async def test_account_choice_buttons_carry_no_account_number(demo_deps):
    buttons = await _buttons(demo_deps, "web-shared-pc")
    assert len(buttons) == 2
    for button in buttons:
        assert not re.search(r"\d{10}", button["payload"]), button["payload"]
        assert "1000005560" not in button["payload"] and "1000005578" not in button["payload"]


async def test_a_pressed_button_is_mapped_back_to_its_account(demo_deps):
    buttons = await _buttons(demo_deps, "web-shared-pc")
    texts, chosen = await _press(demo_deps, buttons[1]["payload"], "web-shared-pc")
    assert texts == ["OK, account ending 5578 (3400 Hwy 88, Blythe)."]
    assert chosen["account_last4"] == "5578" and chosen.get("account_number") is None


async def test_a_button_from_another_conversation_names_no_account(demo_deps):
    other = await _buttons(demo_deps, "web-someone-else")
    texts, chosen = await _press(demo_deps, other[1]["payload"], "web-shared-pc")
    assert "account_id" not in chosen
    assert texts == ["Sorry, I didn't catch which account. Please pick one below."]
