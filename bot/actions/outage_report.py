"""Report an outage (journey 6) and outage status by reference, town/ZIP or account (journey 7).

Safety first: any hazard words in the member's message (line down, sparks, fire, someone hurt...)
get the safety message before anything else, from `action_outage_safety` (start of a report), from
the report form's validation (mid-form) and from the status lookup. Other journeys can call
`utter_safety_if_hazard` the same way.

Flow: report_outage -> action_outage_safety -> outage_report_form (address: the verified account's
service address with a YES, or any address with a street and a town/ZIP) -> action_report_outage
(known outage there with a labelled estimate, or breaker advice when none is known; a reference;
an offer of a text when power is back) -> YES -> outage_notify_form (phone from the SMS sender or
asked on the web) -> action_outage_notify.

Design choice: breaker advice is given only when no known outage covers the address. When crews
already know about an outage there, the breakers are not the cause and the advice would only
delay the member.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import verified_account_id
from bot.actions.deps import get_deps
from bot.actions.tracker import channel_of, idempotency_key, latest_entity, phone_of
from bot.core.masking import find_bank_numbers, find_card_numbers, mask_sensitive
from bot.core.phones import normalize_phone as parse_phone
from bot.core.phones import phone_last4
from bot.profile import CoopProfile
from bot.services.outage_report import Address, AddressError, parse_address, set_restore_notice
from bot.services.outages import (
    OutageInfo,
    OutageService,
    describe,
    detect_hazard,
    normalize_town,
    normalize_zip5,
    safety_message,
)

MAX_OUTAGES_LISTED = 3  # one message each; more would flood an SMS conversation
YES_NO_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
# Intents whose text may be the answer to "what's the address / which number": anything else
# (a side question, cancel, start over) is left to the rules, and the form re-asks afterwards.
ANSWER_INTENTS = frozenset(
    {
        "inform",
        "affirm",
        "deny",
        "report_outage",
        "nlu_fallback",
        "out_of_scope",
        "outage_status",
        "request_callback",
    }
)
ADDRESS_SLOTS = (
    "outage_address",
    "outage_town",
    "outage_zip",
    "outage_for_account",
    "outage_address_draft",
    "outage_hazard",
    "outage_hazard_note",
    "outage_tries",
)
REFERENCE_RE = re.compile(r"\b([A-Za-z])\s*-?\s*(\d{4,8})\b")

CARD_NOT_KEPT = (
    "For your safety I didn't keep that number. Please never send card or bank numbers in a "
    "chat or text."
)


# --------------------------------------------------------------------------------------------
# Helpers shared by the actions (and usable by other journeys)
# --------------------------------------------------------------------------------------------


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def safety_already_given(tracker: Tracker) -> bool:
    """Whether action_outage_safety already ran for the latest user message (no double warning)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == "action_outage_safety":
            return True
    return False


def utter_safety_if_hazard(
    dispatcher: CollectingDispatcher, tracker: Tracker, profile: CoopProfile
) -> bool:
    """Send the safety messages if the latest message mentions a hazard; True when it did."""
    if not detect_hazard(latest_text(tracker), profile.outages.hazard_words):
        return False
    if not safety_already_given(tracker):
        for text in safety_message(profile):
            dispatcher.utter_message(text=text)
    return True


def _hazard_events(tracker: Tracker, profile: CoopProfile) -> list[dict[str, Any]]:
    text = latest_text(tracker)
    if not detect_hazard(text, profile.outages.hazard_words):
        return []
    return [
        SlotSet("outage_hazard", True),
        SlotSet("outage_hazard_note", mask_sensitive(text).text[:200]),
    ]


# --------------------------------------------------------------------------------------------
# Report an outage
# --------------------------------------------------------------------------------------------


class ActionOutageSafety(Action):
    """First step of every outage report: the safety message if the member mentioned a hazard."""

    def name(self) -> str:
        return "action_outage_safety"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        events = _hazard_events(tracker, deps.profile)
        if events:
            for text in safety_message(deps.profile):
                dispatcher.utter_message(text=text)
        return events


async def _account_address(tracker: Tracker) -> tuple[int, str] | None:
    deps = await get_deps()
    account_id = verified_account_id(tracker, deps)
    if account_id is None:
        return None
    record = await deps.members.account(account_id)
    return (record.id, record.service_address) if record else None


class ActionAskOutageAddress(Action):
    """Ask where the power is out: the verified account's address first, else any address."""

    def name(self) -> str:
        return "action_ask_outage_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        again = bool(tracker.get_slot("outage_tries"))
        if tracker.get_slot("outage_for_account") is not False and not again:
            account = await _account_address(tracker)
            if account is not None:
                dispatcher.utter_message(
                    text=f"I'll report the outage. Is it for {account[1]}? Reply YES or send the address.",
                    buttons=[{"title": "Yes", "payload": "/affirm"}],
                )
                return []
        draft = tracker.get_slot("outage_address_draft")
        if draft:
            dispatcher.utter_message(text=f"Which town or ZIP code is {_title(str(draft))} in?")
            return []
        if again:
            text = "What's the address where the power is out? The street and the town or ZIP code, please."
        else:
            text = (
                "I'll report the outage. What's the address where the power is out? Please send the street "
                "and the town or ZIP code, like 412 Mill St, Wrens."
            )
        dispatcher.utter_message(text=text)
        return []


def _title(street: str) -> str:
    return " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in street.split())


ADDRESS_PROBLEMS = {
    "empty": "I didn't get an address there.",
    "unclear": "I couldn't read that as an address. Letters, numbers and commas work best.",
    "too_long": "That's longer than an address.",
    "need_street": "I need the street too, like 412 Mill St.",
    "need_town": "Which town or ZIP code is that in?",
}


class ValidateOutageReportForm(FormValidationAction):
    """The address for the report: YES for the account's address, or a street with a town/ZIP."""

    def name(self) -> str:
        return "validate_outage_report_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # Safety before anything else, even mid-form ("theres sparks now").
        deps = await get_deps()
        hazard = []
        if not safety_already_given(tracker) and detect_hazard(
            latest_text(tracker), deps.profile.outages.hazard_words
        ):
            for text in safety_message(deps.profile):
                dispatcher.utter_message(text=text)
            hazard = _hazard_events(tracker, deps.profile)
            tracker.add_slots(hazard)
        return hazard + await super().run(dispatcher, tracker, domain)

    async def extract_outage_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("outage_address"):
            return {}
        intent = latest_intent(tracker)
        if tracker.get_slot("requested_slot") == "outage_address":
            return {"outage_address": latest_text(tracker)} if intent in ANSWER_INTENTS else {}
        # Activation: "no power at 412 mill st wrens" already names the place.
        street = latest_entity(tracker, "service_address")
        if intent == "report_outage" and street:
            place = latest_entity(tracker, "town") or latest_entity(tracker, "zip_code")
            return {"outage_address": f"{street}, {place}" if place else street}
        return {}

    async def validate_outage_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        text = str(value or "")
        intent = latest_intent(tracker)
        asked_account = (
            tracker.get_slot("requested_slot") == "outage_address"
            and not tracker.get_slot("outage_tries")
            and tracker.get_slot("outage_for_account") is not False
        )
        account = await _account_address(tracker) if asked_account else None

        if account is not None and intent == "affirm":
            record = await deps.members.account(account[0])
            assert record is not None
            return {
                "outage_address": record.service_address,
                "outage_town": record.service_town,
                "outage_zip": record.service_zip,
                "outage_for_account": True,
                "outage_tries": None,
            }
        if account is not None and intent == "deny":
            return {"outage_address": None, "outage_for_account": False}

        if find_card_numbers(text) or find_bank_numbers(text):
            dispatcher.utter_message(text=CARD_NOT_KEPT)
            return {"outage_address": None}

        towns = list(tracker.get_latest_entity_values("town"))
        parsed = parse_address(text, towns)
        draft = tracker.get_slot("outage_address_draft")
        if isinstance(parsed, AddressError) and parsed.problem == "need_street" and draft:
            parsed = parse_address(f"{draft}, {text}", towns)  # "412 mill st" then "wrens"
        if isinstance(parsed, Address):
            return {
                "outage_address": parsed.text,
                "outage_town": parsed.town,
                "outage_zip": parsed.zip,
                "outage_for_account": False,
                "outage_address_draft": None,
                "outage_tries": None,
            }

        tries = int(tracker.get_slot("outage_tries") or 0) + 1
        message = ADDRESS_PROBLEMS[parsed.problem]
        if tries >= 2:
            message += (
                f" If it's easier, call our 24/7 line, {deps.profile.phones.outage_24_7}, and we'll take "
                "the report by phone."
            )
        if parsed.problem != "need_town" or tries >= 2:  # else the ask names the street it has
            dispatcher.utter_message(text=message)
        events: dict[str, Any] = {"outage_address": None, "outage_tries": float(tries)}
        if parsed.problem == "need_town":
            events["outage_address_draft"] = " ".join(text.split())[:200]
        return events


def _no_outage_known(address: str) -> str:
    return f"I don't see a known outage at {address} yet, so your report helps crews find it."


class ActionReportOutage(Action):
    """Create the report (once per turn, by idempotency key) and say what is known there."""

    def name(self) -> str:
        return "action_report_outage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        address = tracker.get_slot("outage_address")
        if not address:
            dispatcher.utter_message(text="I need the address before I can report the outage.")
            return []
        account_id = (
            verified_account_id(tracker, deps) if tracker.get_slot("outage_for_account") else None
        )
        hazard = bool(tracker.get_slot("outage_hazard"))
        now = deps.now()
        result = await OutageService(deps.sessions, deps.profile.outages.report_prefix).report(
            account_id=account_id,
            address=str(address),
            town=tracker.get_slot("outage_town"),
            zip=tracker.get_slot("outage_zip"),
            hazard=hazard,
            hazard_description=tracker.get_slot("outage_hazard_note"),
            channel=channel_of(tracker),
            conversation_id=tracker.sender_id,
            idempotency_key=idempotency_key(tracker, "outage_report"),
            now=now,
        )

        if result.outage is not None:
            dispatcher.utter_message(text=describe(result.outage, now, deps.profile.timezone))
        else:
            dispatcher.utter_message(text=_no_outage_known(str(address)))
            dispatcher.utter_message(
                text="Please check your breakers or fuse box too. If the main breaker has tripped, switch it "
                "fully off and back on. If that brings your power back, there's nothing more to do."
            )
        text = f"Your report is {result.reference}."
        if hazard:
            text += (
                f" I noted the hazard on it; please also call {deps.profile.phones.outage_24_7}."
            )
        dispatcher.utter_message(
            text=f"{text} Want a text when your power is back? Reply YES or NO.",
            buttons=YES_NO_BUTTONS,
        )
        return [SlotSet("outage_reference", result.reference)] + [
            SlotSet(s, None) for s in ADDRESS_SLOTS
        ]


# --------------------------------------------------------------------------------------------
# A text when power is restored
# --------------------------------------------------------------------------------------------


class ActionAskOutageNotifyPhone(Action):
    def name(self) -> str:
        return "action_ask_outage_notify_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="What mobile number should I text when your power is back?")
        return []


class ValidateOutageNotifyForm(FormValidationAction):
    """The number for the restore text: the SMS sender's own number, or one typed on the web."""

    def name(self) -> str:
        return "validate_outage_notify_form"

    async def extract_outage_notify_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("outage_notify_phone"):
            return {}
        if tracker.get_slot("requested_slot") == "outage_notify_phone":
            if latest_intent(tracker) not in ANSWER_INTENTS:
                return {}
            return {"outage_notify_phone": latest_entity(tracker, "phone") or latest_text(tracker)}
        phone = phone_of(tracker)  # activation: SMS needs no question
        return {"outage_notify_phone": phone} if phone else {}

    async def validate_outage_notify_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if find_card_numbers(text) or find_bank_numbers(text):
            dispatcher.utter_message(text=CARD_NOT_KEPT)
            return {"outage_notify_phone": None}
        phone = parse_phone(text)
        if phone is None:
            dispatcher.utter_message(
                text="That doesn't look like a US phone number. Please send the 10 digits, like 706-555-0101, "
                "or say no thanks."
            )
            return {"outage_notify_phone": None}
        return {"outage_notify_phone": phone}


class ActionOutageNotify(Action):
    """Store the member's wish for a text when power is back on their report."""

    def name(self) -> str:
        return "action_outage_notify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reference, phone = (
            tracker.get_slot("outage_reference"),
            tracker.get_slot("outage_notify_phone"),
        )
        if not reference or not phone:
            dispatcher.utter_message(
                text="I don't have a report to add that to. Say report outage to start one."
            )
            return [SlotSet("outage_notify_phone", None)]
        deps = await get_deps()
        if not await set_restore_notice(deps.sessions, str(reference), str(phone)):
            dispatcher.utter_message(
                text="I couldn't find that report. Say report outage to start a new one."
            )
            return [SlotSet("outage_notify_phone", None)]
        dispatcher.utter_message(
            text=f"OK. I'll text the number ending {phone_last4(str(phone))} when power is back for report "
            f"{reference}. Anything else?"
        )
        return [SlotSet("outage_notify_phone", None)]


# --------------------------------------------------------------------------------------------
# Outage status: by reference, by account (verified), by town or ZIP (public)
# --------------------------------------------------------------------------------------------


def _reference_in(tracker: Tracker) -> str | None:
    entity = latest_entity(tracker, "reference")
    if entity:
        return entity
    match = REFERENCE_RE.search(latest_text(tracker))
    return f"{match.group(1).upper()}-{match.group(2)}" if match else None


def _received(created: datetime, now: datetime, profile: CoopProfile) -> str:
    local, today = created.astimezone(profile.timezone), now.astimezone(profile.timezone).date()
    clock = f"{local:%I:%M %p}".lstrip("0")
    return f"today at {clock}" if local.date() == today else f"{local:%b} {local.day} at {clock}"


class ActionOutageLookup(Action):
    """Outage status: a reference number, a town or ZIP, or (verified members) their own account."""

    def name(self) -> str:
        return "action_outage_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        profile, now = deps.profile, deps.now()
        utter_safety_if_hazard(dispatcher, tracker, profile)
        service = OutageService(deps.sessions, profile.outages.report_prefix)
        outage_line = profile.phones.outage_24_7

        reference = _reference_in(tracker)
        if reference:
            found = await service.find_by_reference(reference)
            if found is None:
                dispatcher.utter_message(
                    text=f"I can't find {reference}. Please check the number; it looks like R-20331. "
                    f"You can also call our 24/7 line, {outage_line}."
                )
                return []
            if found.kind == "report" and found.report is not None:
                dispatcher.utter_message(
                    text=f"Report {found.report.reference} was received "
                    f"{_received(found.report.created_at, now, profile)}."
                )
            if found.outage is not None:
                dispatcher.utter_message(text=describe(found.outage, now, profile.timezone))
            else:
                dispatcher.utter_message(
                    text="I don't see a known outage linked to it yet; crews review every report. For anything "
                    f"urgent call our 24/7 line, {outage_line}."
                )
            return []

        zip5 = normalize_zip5(latest_entity(tracker, "zip_code"))
        town = latest_entity(tracker, "town")
        if zip5 is not None or (town and normalize_town(town)):
            if zip5 is not None:
                outages, place = await service.find_by_zip(zip5), f"ZIP {zip5}"
            else:
                outages, place = (
                    await service.find_by_town(town or ""),
                    normalize_town(town).title(),
                )
            self._say(
                dispatcher,
                outages,
                now,
                profile,
                none=f"I don't see a known outage in {place} right now. If your power is out, please "
                f"call our 24/7 line, {outage_line}, or say report outage.",
            )
            return []

        account_id = verified_account_id(tracker, deps)
        if account_id is not None:
            record = await deps.members.account(account_id)
            outages = await service.find_for_account(account_id, now)
            where = record.service_address if record else "your service address"
            self._say(
                dispatcher,
                outages,
                now,
                profile,
                none=f"I don't see a known outage at {where} right now. If your power is out, say report "
                f"outage or call our 24/7 line, {outage_line}.",
            )
            return []

        dispatcher.utter_message(
            text="Which should I check? Send your report number (like R-20331), a town or a 5-digit ZIP code."
        )
        return []

    @staticmethod
    def _say(
        dispatcher: CollectingDispatcher,
        outages: list[OutageInfo],
        now: datetime,
        profile: CoopProfile,
        *,
        none: str,
    ) -> None:
        if not outages:
            dispatcher.utter_message(text=none)
            return
        for outage in outages[:MAX_OUTAGES_LISTED]:
            dispatcher.utter_message(text=describe(outage, now, profile.timezone))
