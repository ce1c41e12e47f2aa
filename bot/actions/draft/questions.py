"""The draft forms' questions (`action_ask_<slot>`). Each stays quiet when this turn's validator
already answered and asked again (`tracker.validator_spoke`)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, JourneyAction, require_tier
from bot.actions.deps import ActionDeps
from bot.actions.draft import texts
from bot.actions.draft.slots import leave_form_events, terms_from_slots
from bot.actions.tracker import asked_before, validator_spoke
from bot.services import draft_authorizations, drafts
from bot.services.identity import Tier


class _DraftQuestion(JourneyAction):
    """A draft form's question: silent when this turn's validator already re-asked, otherwise
    `act`, which returns the events to apply."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        if validator_spoke(tracker):
            return []
        return await super().run(dispatcher, tracker, domain)


class ActionAskDraftDay(_DraftQuestion):
    action_name = "action_ask_draft_day"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        text = texts.day_question(
            deps.profile,
            changing=tracker.active_loop_name == "draft_change_form",
            again=asked_before(tracker, self.name()),
        )
        dispatcher.utter_message(text=text, buttons=texts.day_buttons(deps.profile))
        return []


class ActionAskDraftAmountRule(_DraftQuestion):
    action_name = "action_ask_draft_amount_rule"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        dispatcher.utter_message(
            text=texts.AMOUNT_RULE_QUESTION, buttons=texts.amount_rule_buttons()
        )
        return []


class ActionAskDraftFixedAmount(_DraftQuestion):
    action_name = "action_ask_draft_fixed_amount"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        dispatcher.utter_message(text=texts.fixed_amount_question(deps.profile))
        return []


class ActionAskDraftMethodId(_DraftQuestion):
    action_name = "action_ask_draft_method_id"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return leave_form_events()
        banks = drafts.bank_methods(await deps.members.saved_methods(identity.member_id))
        dispatcher.utter_message(
            text=texts.METHOD_QUESTION if banks else texts.NO_BANK_SAVED,
            buttons=texts.method_buttons(banks),
        )
        return []


class ActionAskDraftChangeWhat(_DraftQuestion):
    action_name = "action_ask_draft_change_what"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        dispatcher.utter_message(
            text=texts.CHANGE_WHAT_QUESTION, buttons=texts.change_buttons(deps.profile)
        )
        return []


class ActionAskDraftAuthorized(_DraftQuestion):
    """Shows the authorization wording exactly as it will be stored, and asks for YES."""

    action_name = "action_ask_draft_authorized"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None or identity.account_id is None:
            return leave_form_events()
        situation = await draft_authorizations.draft_situation(
            deps.sessions,
            deps.members,
            account_id=identity.account_id,
            member_id=identity.member_id,
        )
        terms = terms_from_slots(tracker, situation)
        if terms is None:  # the chosen account vanished (removed elsewhere): ask for it again
            dispatcher.utter_message(text=texts.BANK_GONE)
            return [SlotSet("draft_method_id", None), SlotSet("requested_slot", "draft_method_id")]
        today = deps.today()
        text = drafts.terms_authorization(
            deps.profile, terms, account_last4=situation.account_last4, today=today
        )
        # No buttons: the wording asks for a typed YES, and by SMS numbered choices would push the
        # authorization past one 320-character text.
        dispatcher.utter_message(text=f"{text} {texts.AUTHORIZE_QUESTION}")
        return [SlotSet("draft_shown_on", today.isoformat())]


class ActionAskDraftCancelConfirmed(_DraftQuestion):
    action_name = "action_ask_draft_cancel_confirmed"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None or identity.account_id is None:
            return leave_form_events()
        enrollment = await draft_authorizations.active_enrollment(
            deps.sessions, identity.account_id
        )
        if enrollment is None:
            dispatcher.utter_message(text=texts.NOTHING_TO_CANCEL)
            return leave_form_events()
        dispatcher.utter_message(text=texts.cancel_question(enrollment, deps.now(), deps.profile))
        return []
