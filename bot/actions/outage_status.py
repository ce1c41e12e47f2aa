"""Outage status by town or ZIP (public tier: no verification needed, nothing about accounts).

Facts come from the outages table through `bot.services.outages`; restoration times are worded as
estimates there. When nothing is known the member is told so, with the 24/7 line to report it.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.deps import get_deps
from bot.services.outages import OutageService, describe, normalize_town, normalize_zip5

MAX_OUTAGES_LISTED = 3  # one message each; more would flood an SMS conversation


def _latest(tracker: Tracker, entity: str) -> str | None:
    value = next(tracker.get_latest_entity_values(entity), None)
    return str(value).strip() if value else None


class ActionOutageStatus(Action):
    """Known outages in the town or ZIP the member named, or a question asking for one."""

    def name(self) -> str:
        return "action_outage_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        zip5 = normalize_zip5(_latest(tracker, "zip_code"))
        town = _latest(tracker, "town")
        if zip5 is None and not (town and normalize_town(town)):
            dispatcher.utter_message(
                text="Which town or 5-digit ZIP code should I check for outages?"
            )
            return []

        deps = await get_deps()
        service = OutageService(deps.sessions)
        if zip5 is not None:
            outages, place = await service.find_by_zip(zip5), f"ZIP {zip5}"
        else:
            outages, place = await service.find_by_town(town or ""), normalize_town(town).title()

        outage_line = deps.profile.phones.outage_24_7
        if not outages:
            dispatcher.utter_message(
                text=f"I don't see a known outage in {place} right now. If your power is out, "
                f"please call our 24/7 line, {outage_line}, to report it."
            )
            return []
        now, tz = deps.now(), deps.profile.timezone
        for outage in outages[:MAX_OUTAGES_LISTED]:
            dispatcher.utter_message(text=describe(outage, now, tz))
        return []
