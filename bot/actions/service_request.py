"""Service request (start / stop / transfer service): one form, a summary to confirm, a reference.

Thin: dates, addresses, references and next steps are bot/services/service_request.py. The
form's questions depend on `sr_kind` (from the member's first intent): start asks the new address,
the start date and a contact phone; stop asks the last day; transfer asks the new address and the
moving day. Stop and transfer apply to the verified account (the gate already asked which one).
Validators store only clean values (an address, an ISO date, an E.164 phone, True/False), so a
card number typed by mistake is never kept; they are safe to run twice in one turn.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import (
    Dispatcher,
    JourneyAction,
    JourneyForm,
    buttons_or_choices,
    require_tier,
    scrub_card_numbers,
)
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.tracker import channel_of, yes_no
from bot.core.dates import weekday_date
from bot.core.masking import CARD_NOT_KEPT_MESSAGE, mask_phone
from bot.services.identity import Tier
from bot.services.service_request import (
    clean_address,
    create_request,
    holidays_of,
    next_steps,
    read_requested_date,
)
from bot.services.settings import normalize_phone
from bot.store.models import Account

FORM_SLOTS = ("sr_address", "sr_date", "sr_phone", "sr_confirmed", "sr_failures")
QUESTIONS = {
    "start": ["sr_address", "sr_date", "sr_phone", "sr_confirmed"],
    "stop": ["sr_date", "sr_confirmed"],
    "transfer": ["sr_address", "sr_date", "sr_confirmed"],
}
_ACTION_WORDS = {"start": "start service", "stop": "stop service", "transfer": "move your service"}


async def _account_place(deps: ActionDeps, account_id: int | None) -> str:
    """ "412 Mill St, Wrens (account ending 4821)"."""
    if account_id is None:
        return "your account"
    async with deps.sessions() as session:
        account = await session.get(Account, account_id)
    if account is None:
        return "your account"
    return (
        f"{account.service_street}, {account.service_town} "
        f"(account ending {account.account_number[-4:]})"
    )


def summary_text(kind: str, place: str, address: str | None, day: date, phone: str | None) -> str:
    if kind == "start":
        return (
            f"Start service at {address} on {weekday_date(day)}, and we'll call "
            f"{mask_phone(phone or '')} with any questions. Is that right?"
        )
    if kind == "stop":
        return f"Stop service at {place} on {weekday_date(day)}, with a final bill. Is that right?"
    return f"Move service from {place} to {address} on {weekday_date(day)}. Is that right?"


class ValidateServiceRequestForm(JourneyForm):
    action_name = "validate_service_request_form"
    failures_slot = "sr_failures"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        return list(QUESTIONS.get(tracker.get_slot("sr_kind") or "", QUESTIONS["stop"]))

    async def _fail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, text: str
    ) -> dict[str, Any]:
        return self.miss(dispatcher, tracker, await get_deps(), slot, text)

    async def validate_sr_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"sr_address": None}
        address, error = clean_address(str(value or ""))
        if address is None:
            return await self._fail(
                dispatcher, tracker, "sr_address", error or "Please send the street address."
            )
        return {"sr_address": address}

    async def validate_sr_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"sr_date": None}
        deps = await get_deps()
        result = read_requested_date(
            str(value or ""), deps.now(), holidays_of(deps.profile), tz=deps.profile.timezone
        )
        if result.day is None:
            return await self._fail(
                dispatcher, tracker, "sr_date", result.error or "Please send a date."
            )
        return {"sr_date": result.day.isoformat()}

    async def validate_sr_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"sr_phone": None}
        phone = normalize_phone(str(value or ""))
        if phone.value is None:
            return await self._fail(
                dispatcher, tracker, "sr_phone", phone.error or "Please send a phone number."
            )
        return {"sr_phone": phone.value}

    async def validate_sr_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_no(tracker, value)
        if answer is not None:
            return {"sr_confirmed": answer}
        return await self._fail(
            dispatcher, tracker, "sr_confirmed", "Please reply yes to send the request, or no."
        )


class ActionAskSrAddress(Action):
    def name(self) -> str:
        return "action_ask_sr_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("sr_kind") == "transfer":
            text = (
                "What's the new address you're moving to? Street and town, like 27 Broad St, Wrens."
            )
        else:
            text = (
                "What's the address where you need service? Street and town, like 27 Broad St, "
                "Wrens."
            )
        dispatcher.utter_message(text=text)
        return []


class ActionAskSrDate(JourneyAction):
    action_name = "action_ask_sr_date"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        kind = tracker.get_slot("sr_kind")
        rule = "A weekday, up to 60 days out, like Dec 8 or next Monday."
        if kind == "stop":
            place = await _account_place(deps, tracker.get_slot("account_id"))
            text = f"What's your last day at {place}? {rule}"
        elif kind == "transfer":
            text = f"What day are you moving? {rule}"
        else:
            text = f"What day should service start? {rule}"
        dispatcher.utter_message(text=text)
        return []


class ActionAskSrConfirmed(JourneyAction):
    action_name = "action_ask_sr_confirmed"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        kind = tracker.get_slot("sr_kind") or "stop"
        place = await _account_place(deps, tracker.get_slot("account_id"))
        day = date.fromisoformat(tracker.get_slot("sr_date"))
        dispatcher.utter_message(
            text=summary_text(
                kind, place, tracker.get_slot("sr_address"), day, tracker.get_slot("sr_phone")
            ),
            buttons=buttons_or_choices([("Yes, send it", "/affirm"), ("No", "/deny")]),
        )
        return []


class ActionServiceRequestSubmit(JourneyAction):
    action_name = "action_service_request_submit"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        clear = [SlotSet(slot, None) for slot in FORM_SLOTS]
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return clear
        kind = tracker.get_slot("sr_kind")
        if tracker.get_slot("sr_confirmed") is not True or kind not in QUESTIONS:
            dispatcher.utter_message(
                text="OK, I didn't send the request. Nothing was changed. Anything else?"
            )
            return clear
        details: dict[str, Any] = {}
        if kind in ("start", "transfer"):
            details["address"] = tracker.get_slot("sr_address")
        if kind == "start":
            details["contact_phone"] = tracker.get_slot("sr_phone")
        try:
            created = await create_request(
                deps.sessions,
                kind=kind,
                member_id=identity.member_id,
                account_id=identity.account_id,
                requested_date=date.fromisoformat(tracker.get_slot("sr_date")),
                details=details,
                channel=channel_of(tracker),
                conversation_id=tracker.sender_id,
                now=deps.now(),
                holidays=holidays_of(deps.profile),
                tz=deps.profile.timezone,
                verified_how=identity.verified_how,
            )
        except ValueError as problem:
            dispatcher.utter_message(
                text=f"I couldn't send that: {problem} Nothing was changed. Please ask again."
            )
            return clear
        dispatcher.utter_message(
            text=f"Done. Your request to {_ACTION_WORDS[kind]} on "
            f"{weekday_date(created.requested_date)} is in. Your reference is {created.reference}."
        )
        dispatcher.utter_message(
            text=f"What happens next: {next_steps(kind, deps.profile)} "
            "Our staff will contact you if anything else is needed."
        )
        return clear
