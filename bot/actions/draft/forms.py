"""Validating the three draft forms' answers: `draft_form` (enroll), `draft_change_form` and
`draft_cancel_form`.

A validator returns a clean value (a day, cents, a saved bank account's id, yes/no) or None and
asks again through `common.reask`; a card or bank number typed in is never kept.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Identity, JourneyForm, require_tier, secure_link
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.draft import texts
from bot.actions.draft.slots import (
    ADDED_WORDS,
    amount_slots,
    day_words,
    match_method,
    sensitive_number,
)
from bot.actions.tracker import latest_entity, latest_intent, yes_no
from bot.core.amounts import parse_amount
from bot.services import drafts
from bot.services.identity import Tier
from bot.services.members import MethodRecord

FULL_AMOUNT_WORDS = ("full", "all of", "whole", "total", "balance", "what i owe")
FIXED_AMOUNT_WORDS = ("fixed", "same amount", "set amount", "flat")
CHANGE_DAY_WORDS = ("day", "date", "when", "later", "earlier")
CHANGE_ACCOUNT_WORDS = ("account", "bank", "checking", "savings")
CHANGE_AMOUNT_WORDS = ("amount", "how much", "full", "fixed", "$")


async def secure_page_message(deps: ActionDeps, tracker: Tracker, identity: Identity) -> str:
    """A single-use link to add a bank account on the secure page (never in the chat)."""
    return texts.secure_page(await secure_link(deps, tracker, identity, purpose="add_bank"))


class _DraftTermsValidation(JourneyForm):
    """`validate_<slot>` methods shared by the enroll and change forms. Each is safe to call twice
    in one turn (Rasa calls the form's validation during slot extraction and again in the form):
    an already-clean value passes silently, and a message is sent only for raw member text."""

    failures_slot = "draft_failures"

    def _refuse_number(
        self, dispatcher: CollectingDispatcher, slot: str, kind: str
    ) -> dict[str, Any]:
        dispatcher.utter_message(text=texts.number_not_kept_add_bank(kind))
        return {slot: None}

    async def validate_draft_day(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None:
            return {"draft_day": None}
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and int(value) in drafts.allowed_days(deps.profile)
        ):
            return {"draft_day": int(value)}
        text = str(value)
        kind = sensitive_number(text)
        if kind:
            return self._refuse_number(dispatcher, "draft_day", kind)
        candidate = latest_entity(tracker, "draft_day") or text
        try:
            day = drafts.validate_draft_day(day_words(candidate), deps.profile)
        except drafts.DraftError as error:
            return self.miss(
                dispatcher,
                tracker,
                deps,
                "draft_day",
                str(error),
                texts.day_buttons(deps.profile),
            )
        return {"draft_day": day}

    async def validate_draft_amount_rule(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None or value in ("full_balance", "fixed"):
            return {"draft_amount_rule": value}
        text = str(value).lower()
        kind = sensitive_number(text)
        if kind:
            return self._refuse_number(dispatcher, "draft_amount_rule", kind)
        entity = (latest_entity(tracker, "amount") or "").lower()
        if latest_intent(tracker) == "choose_amount_full" or any(
            w in text for w in FULL_AMOUNT_WORDS
        ):
            return {"draft_amount_rule": "full_balance"}
        if entity == "fixed" or any(w in text for w in FIXED_AMOUNT_WORDS):
            return {"draft_amount_rule": "fixed"}
        parsed = parse_amount(entity or text)
        if parsed.cents is not None:
            try:
                cents = drafts.validate_terms("fixed", parsed.cents, deps.profile)
            except drafts.DraftError as error:
                return self.miss(dispatcher, tracker, deps, "draft_amount_rule", str(error))
            return {"draft_amount_rule": "fixed", "draft_fixed_amount": cents}
        return self.miss(
            dispatcher,
            tracker,
            deps,
            "draft_amount_rule",
            texts.AMOUNT_RULE_AGAIN,
            texts.amount_rule_buttons(),
        )

    async def validate_draft_fixed_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None:
            return {"draft_fixed_amount": None}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"draft_fixed_amount": value}
        text = str(value)
        kind = sensitive_number(text)
        if kind:
            return self._refuse_number(dispatcher, "draft_fixed_amount", kind)
        parsed = parse_amount(latest_entity(tracker, "amount") or text)
        if parsed.cents is None:
            return self.miss(
                dispatcher,
                tracker,
                deps,
                "draft_fixed_amount",
                f"{parsed.error} {texts.FIXED_AMOUNT_AGAIN}",
            )
        try:
            cents = drafts.validate_terms("fixed", parsed.cents, deps.profile)
        except drafts.DraftError as error:
            return self.miss(dispatcher, tracker, deps, "draft_fixed_amount", str(error))
        return {"draft_fixed_amount": cents}

    async def validate_draft_method_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None:
            return {"draft_method_id": None}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"draft_method_id": value}
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return {"draft_method_id": None}
        text = str(value)
        kind = sensitive_number(text)
        if kind:
            link = await secure_page_message(deps, tracker, identity)
            dispatcher.utter_message(text=texts.number_not_kept(kind))
            dispatcher.utter_message(text=link)
            return {"draft_method_id": None}
        methods = await deps.members.saved_methods(identity.member_id)
        banks = drafts.bank_methods(methods)
        choice = match_method(text, latest_entity(tracker, "payment_method"), methods)
        if (
            choice is None
            and len(banks) == 1
            and (yes_no(tracker, text) is True or text.lower() in ADDED_WORDS)
        ):
            choice = banks[0]
        if isinstance(choice, MethodRecord):
            if choice.kind not in drafts.BANK_KINDS:
                choice = "card"
            else:
                return {"draft_method_id": choice.id, "draft_failures": None}
        if choice == "add":
            dispatcher.utter_message(text=await secure_page_message(deps, tracker, identity))
            return {"draft_method_id": None}
        message = texts.METHOD_NOT_A_CARD if choice == "card" else texts.METHOD_AGAIN
        return self.miss(
            dispatcher, tracker, deps, "draft_method_id", message, texts.method_buttons(banks)
        )

    async def validate_draft_authorized(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None:
            return {"draft_authorized": None}
        answer = yes_no(tracker, value)
        if answer is None:
            return self.miss(dispatcher, tracker, deps, "draft_authorized", texts.AUTHORIZE_AGAIN)
        return {"draft_authorized": answer}


class ValidateDraftForm(_DraftTermsValidation):
    """Enrollment: day, amount rule (and amount), bank account, then the authorization."""

    action_name = "validate_draft_form"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        deps = await get_deps()
        return [
            "draft_day",
            *amount_slots(tracker, deps.profile),
            "draft_method_id",
            "draft_authorized",
        ]


class ValidateDraftChangeForm(_DraftTermsValidation):
    """Change: what to change, the new value, then the new authorization."""

    action_name = "validate_draft_change_form"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        deps = await get_deps()
        what = tracker.get_slot("draft_change_what")
        middle = {
            "day": ["draft_day"],
            "account": ["draft_method_id"],
            "amount": amount_slots(tracker, deps.profile),
        }.get(what or "", [])
        return ["draft_change_what", *middle, "draft_authorized"]

    async def validate_draft_change_what(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None or value in texts.CHANGE_CHOICES:
            return {"draft_change_what": value}
        text = str(value).lower()
        kind = sensitive_number(text)
        if kind:
            return self._refuse_number(dispatcher, "draft_change_what", kind)
        new_day = latest_entity(tracker, "draft_day")
        if new_day or any(w in text for w in CHANGE_DAY_WORDS):
            result: dict[str, Any] = {"draft_change_what": "day"}
            if new_day:  # "move it to the 3rd": the new day too
                result.update(await self.validate_draft_day(new_day, dispatcher, tracker, domain))
            return result
        if any(w in text for w in CHANGE_ACCOUNT_WORDS):
            return {"draft_change_what": "account"}
        if drafts.fixed_amount_offered(deps.profile) and (
            latest_entity(tracker, "amount") or any(w in text for w in CHANGE_AMOUNT_WORDS)
        ):
            return {"draft_change_what": "amount"}
        return self.miss(
            dispatcher,
            tracker,
            deps,
            "draft_change_what",
            texts.CHANGE_WHAT_AGAIN,
            texts.change_buttons(deps.profile),
        )


class ValidateDraftCancelForm(FormValidationAction):
    """Cancel: one explicit yes or no."""

    def name(self) -> str:
        return "validate_draft_cancel_form"

    async def validate_draft_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"draft_cancel_confirmed": None}
        answer = yes_no(tracker, value)
        if answer is None:
            dispatcher.utter_message(text=texts.CANCEL_AGAIN)
        return {"draft_cancel_confirmed": answer}
