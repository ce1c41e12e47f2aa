"""The end of each draft form: enroll, change or cancel (with the member's copy), or stop.

Enroll and change need a confirmed member, an explicit YES and terms shown today; the services
store the authorization and send the member a copy of it in one place.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, Identity, JourneyAction, require_tier
from bot.actions.deps import ActionDeps
from bot.actions.draft import texts
from bot.actions.draft.slots import reset_events, terms_from_slots, verified_how
from bot.actions.tracker import channel_of
from bot.services import draft_authorizations, drafts
from bot.services.draft_authorizations import Agreement
from bot.services.drafts import DraftSituation
from bot.services.identity import Tier


def _agreement(deps: ActionDeps, tracker: Tracker, identity: Identity) -> Agreement:
    assert identity.account_id is not None
    return Agreement(
        member_id=identity.member_id,
        account_id=identity.account_id,
        now=deps.now(),
        channel=channel_of(tracker),
        verified_how=verified_how(identity, tracker),
        conversation_id=tracker.sender_id,
    )


async def _authorized_today(
    dispatcher: CollectingDispatcher, tracker: Tracker, deps: ActionDeps, declined: str
) -> tuple[Agreement, date, DraftSituation] | None:
    """Enroll and change both need a confirmed member, an explicit YES, and terms shown today.

    Returns who agreed, today and the member's draft situation as it stands now, or None after
    telling the member why nothing was stored.
    """
    identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
    if identity is None or identity.account_id is None:
        return None
    if tracker.get_slot("draft_authorized") is not True:
        dispatcher.utter_message(text=declined)
        return None
    today = deps.today()
    if tracker.get_slot("draft_shown_on") != today.isoformat():
        dispatcher.utter_message(text=texts.STALE_TERMS)
        return None
    agreement = _agreement(deps, tracker, identity)
    situation = await draft_authorizations.draft_situation(
        deps.sessions,
        deps.members,
        account_id=agreement.account_id,
        member_id=agreement.member_id,
    )
    return agreement, today, situation


class ActionDraftEnroll(JourneyAction):
    """After `draft_form`: YES stores the enrollment and its authorization; NO stores nothing."""

    action_name = "action_draft_enroll"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        gate = await _authorized_today(dispatcher, tracker, deps, texts.ENROLL_DECLINED)
        if gate is None:
            return reset_events()
        agreement, today, situation = gate
        if situation.enrollment is not None:
            dispatcher.utter_message(
                text=texts.enrollment_view(situation, today, deps.profile) + texts.NOTHING_NEW
            )
            return reset_events()
        terms = terms_from_slots(tracker, situation)
        if terms is None:
            dispatcher.utter_message(text=texts.BANK_GONE + texts.NOTHING_SET_UP)
            return reset_events()
        try:
            recorded = await draft_authorizations.record_enrollment(
                deps.sessions,
                deps.members,
                deps.notifier,
                deps.profile,
                agreement,
                payment_method_id=int(tracker.get_slot("draft_method_id")),
                draft_day=terms.draft_day,
                amount_rule=terms.amount_rule,
                fixed_amount_cents=terms.fixed_amount_cents,
                today=today,
            )
        except drafts.DraftError as error:
            dispatcher.utter_message(text=f"{error}{texts.NOTHING_SET_UP}")
            return reset_events()
        dispatcher.utter_message(
            text=texts.enrolled(recorded.enrollment.starts_on)
            + texts.copy_sentence(
                recorded.copy, "authorization", deps.profile.phones.member_services
            )
        )
        return reset_events()


class ActionDraftChange(JourneyAction):
    """After `draft_change_form`: YES records the new terms (a new authorization); NO changes
    nothing."""

    action_name = "action_draft_change"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        gate = await _authorized_today(dispatcher, tracker, deps, texts.CHANGE_DECLINED)
        if gate is None:
            return reset_events()
        agreement, today, situation = gate
        if situation.enrollment is None:
            dispatcher.utter_message(
                text=texts.NOT_ON_DRAFT_ANY_MORE, buttons=texts.set_up_buttons()
            )
            return reset_events()
        terms = terms_from_slots(tracker, situation)
        if terms is None:
            dispatcher.utter_message(text=texts.BANK_GONE + texts.NOTHING_CHANGED)
            return reset_events()
        what = tracker.get_slot("draft_change_what")
        try:
            recorded = await draft_authorizations.record_change(
                deps.sessions,
                deps.members,
                deps.notifier,
                deps.profile,
                agreement,
                today=today,
                draft_day=terms.draft_day if what == "day" else None,
                payment_method_id=tracker.get_slot("draft_method_id")
                if what == "account"
                else None,
                amount_rule=terms.amount_rule if what == "amount" else None,
                fixed_amount_cents=terms.fixed_amount_cents if what == "amount" else None,
            )
        except drafts.DraftError as error:
            dispatcher.utter_message(text=f"{error}{texts.NOTHING_CHANGED}")
            return reset_events()
        dispatcher.utter_message(
            text=texts.changed(recorded.enrollment.starts_on, recorded.still_happening)
        )
        dispatcher.utter_message(
            text=texts.copy_sentence(
                recorded.copy, "authorization", deps.profile.phones.member_services
            )
        )
        return reset_events()


class ActionDraftCancel(JourneyAction):
    """After `draft_cancel_form`: YES cancels and says which draft, if any, still happens."""

    action_name = "action_draft_cancel"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None or identity.account_id is None:
            return reset_events()
        if tracker.get_slot("draft_cancel_confirmed") is not True:
            dispatcher.utter_message(text=texts.CANCEL_DECLINED)
            return reset_events()
        try:
            cancelled = await draft_authorizations.record_cancellation(
                deps.sessions,
                deps.members,
                deps.notifier,
                deps.profile,
                _agreement(deps, tracker, identity),
            )
        except drafts.DraftError as error:
            dispatcher.utter_message(text=str(error), buttons=texts.set_up_buttons())
            return reset_events()
        dispatcher.utter_message(text=cancelled.text)
        dispatcher.utter_message(
            text=texts.copy_sentence(
                cancelled.copy, "cancellation", deps.profile.phones.member_services
            )
            + texts.ANYTHING_ELSE
        )
        return reset_events()


class ActionDraftStop(Action):
    """ "Never mind" inside a draft form: leave it, change nothing."""

    def name(self) -> str:
        return "action_draft_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=texts.STOPPED)
        return reset_events()
