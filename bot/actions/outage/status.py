"""Outage status: by reference number, by town or ZIP (public), or the verified member's account.

Facts come from the outages table through `bot.services.outage`; restoration times are worded as
estimates there. When nothing is known the member is told so, with the 24/7 line to report it. A
hazard mentioned in the question gets the safety message first.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import Dispatcher, JourneyAction, verified_account_id
from bot.actions.deps import ActionDeps
from bot.actions.outage.safety import utter_safety_if_hazard
from bot.actions.tracker import latest_entity, latest_text
from bot.profile import CoopProfile
from bot.services.outage import (
    OutageInfo,
    OutageService,
    describe,
    normalize_town,
    normalize_zip5,
)

MAX_OUTAGES_LISTED = 3  # one message each; more would flood an SMS conversation
REFERENCE_RE = re.compile(r"\b([A-Za-z])\s*-?\s*(\d{4,8})\b")
ASK_PLACE = "Which town or 5-digit ZIP code should I check for outages?"
ASK_REFERENCE_OR_PLACE = (
    "Which should I check? Send your report number (like R-20331), a town or a 5-digit ZIP code."
)


# After an outage answer the member may well be out too: YES takes the report (issue 9 item 1, one
# outage flow whichever outage intent the model picked). `choice_yes` tells action_choice_yes
# what that YES means.
REPORT_OFFER = "Is your power out? Reply YES and I'll take your report, or NO if you're fine."
YES_NO = [{"title": "Yes, report it", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
OFFER_REPORT = "report_outage"


def offer_report(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """Offer to take the member's own report after an outage answer; YES starts it."""
    dispatcher.utter_message(text=REPORT_OFFER, buttons=YES_NO)
    return [SlotSet("choice_yes", OFFER_REPORT)]


async def known_outages_in_place(
    tracker: Tracker, deps: ActionDeps, *, none_known: bool = True
) -> list[str] | None:
    """The messages about known outages in the town or ZIP named in the latest message (one per
    outage, at most MAX_OUTAGES_LISTED; a "none known" sentence when there is none), or None when
    the message names no place."""
    zip5 = normalize_zip5(latest_entity(tracker, "zip_code"))
    town = latest_entity(tracker, "town")
    if zip5 is None and not (town and normalize_town(town)):
        return None
    service = OutageService(
        deps.sessions, deps.profile.outages.report_prefix, deps.profile.timezone
    )
    now = deps.now()
    if zip5 is not None:
        outages, place = await service.find_by_zip(zip5), f"ZIP {zip5}"
    else:
        outages, place = await service.find_by_town(town or ""), normalize_town(town).title()
    if not outages:
        if not none_known:
            return []
        return [
            f"I don't see a known outage in {place} right now. If your power is out, please call "
            f"our 24/7 line, {deps.profile.phones.outage_24_7}, to report it."
        ]
    return [describe(o, now, deps.profile.timezone) for o in outages[:MAX_OUTAGES_LISTED]]


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


def _ask_what_to_check(tracker: Tracker) -> str:
    """A visitor is asked for the area ("Outage in my area" on the menu); a member who verified
    earlier in this conversation (now gone idle) may hold a report number, so it is offered too."""
    if tracker.get_slot("tier") in ("verified", "confirmed"):
        return ASK_REFERENCE_OR_PLACE
    return ASK_PLACE


class ActionOutageStatus(JourneyAction):
    """Outage status: a reference number, a town or ZIP, or (verified members) their own account."""

    action_name = "action_outage_status"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        profile, now = deps.profile, deps.now()
        utter_safety_if_hazard(dispatcher, tracker, profile)
        service = OutageService(deps.sessions, profile.outages.report_prefix, profile.timezone)
        outage_line = profile.phones.outage_24_7

        reference = _reference_in(tracker)
        if reference:
            found = await service.find_by_reference(reference)
            if found is None:
                dispatcher.utter_message(
                    text=f"I can't find {reference}. Please check the number; it looks like "
                    f"R-20331. You can also call our 24/7 line, {outage_line}."
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
                    text="I don't see a known outage linked to it yet; crews review every report. "
                    f"For anything urgent call our 24/7 line, {outage_line}."
                )
            return []

        in_place = await known_outages_in_place(tracker, deps)
        if in_place is not None:
            for text in in_place:
                dispatcher.utter_message(text=text)
            return offer_report(dispatcher)

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
                none=f"I don't see a known outage at {where} right now. If your power is out, "
                f"say report outage or call our 24/7 line, {outage_line}.",
            )
            return offer_report(dispatcher)

        dispatcher.utter_message(text=_ask_what_to_check(tracker))
        return [SlotSet("choice_yes", None)]

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
