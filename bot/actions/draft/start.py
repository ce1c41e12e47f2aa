"""After the identity gate: show the member's bank draft, or pick the form that runs next."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.actions.common import Dispatcher, JourneyAction, require_tier
from bot.actions.deps import ActionDeps
from bot.actions.draft import texts
from bot.actions.draft.slots import reset_events
from bot.services import draft_authorizations
from bot.services.identity import Tier


class ActionDraftStart(JourneyAction):
    """Runs after the gate: view the draft, or pick the form (enroll, change, cancel)."""

    action_name = "action_draft_start"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        done = [*reset_events(), SlotSet("draft_next", "done")]
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None or identity.account_id is None:
            return done
        situation = await draft_authorizations.draft_situation(
            deps.sessions,
            deps.members,
            account_id=identity.account_id,
            member_id=identity.member_id,
        )
        wanted = tracker.get_slot("draft_action") or "enroll"

        if situation.enrollment is None:
            if wanted == "enroll":
                return [*reset_events(), SlotSet("draft_next", "enroll")]
            dispatcher.utter_message(
                text=texts.not_on_draft(wanted), buttons=texts.set_up_buttons()
            )
            return done

        if wanted in ("change", "cancel"):
            return [*reset_events(), SlotSet("draft_next", wanted)]
        view = texts.enrollment_view(situation, deps.today(), deps.profile)
        if wanted == "enroll":
            view += texts.ALREADY_ON_DRAFT
        dispatcher.utter_message(text=view, buttons=texts.view_buttons())
        return done
