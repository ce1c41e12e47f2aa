"""Reading the payment form's answers: `validate_payment_form` extracts and checks each slot.

Only clean values reach the slots. A card number typed at any step is never kept: the member is
offered a secure page instead. A message that is not an answer to the question asked (a side
question, never mind) extracts nothing, so the rules answer it and the form resumes.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.payment import texts
from bot.actions.tracker import latest_entity, latest_intent, latest_text, yes_no
from bot.core.amounts import parse_amount
from bot.core.answers import yes_no as yes_no_words
from bot.core.masking import find_card_numbers
from bot.services.members import MethodRecord
from bot.services.payment_rules import (
    asks_for_past_due,
    check_amount,
    portion_cents,
    rest_later_note,
)

FORM_SLOTS = ("payment_amount_choice", "payment_amount_cents", "payment_method", "payment_confirm")
HELPER_SLOTS = ("payment_method_label", "payment_failures")
ALL_FORM_SLOTS = (*FORM_SLOTS, *HELPER_SLOTS)

# Intents that answer a question of the form. Anything else (cancel, the balance, the hours, a
# person...) is left to the rules: the form rejects it and resumes afterwards.
ANSWER_INTENTS = frozenset(
    {
        "inform",
        "affirm",
        "deny",
        "choose_amount_full",
        "choose_amount_past_due",
        "pay_bill",
        "nlu_fallback",
        "out_of_scope",
    }
)

NEW_METHOD = "new"
MASKED_CARD = re.compile(r"\d{4}(?:[ -]?\*{2,6}){1,4}[ -]?\d{1,4}")
OTHER_WORDS = re.compile(r"\b(other|another|different|custom|some|part|partial)\b", re.IGNORECASE)
NEW_WORDS = re.compile(r"\b(new|add|another|different|other)\b", re.IGNORECASE)
# Besides a yes, what picks the only saved method ("1": it is the first in the list).
ONLY_METHOD_WORDS = frozenset({"that one", "that", "1"})


def usable_methods(methods: list[MethodRecord], deps: ActionDeps) -> list[MethodRecord]:
    """Saved methods that can be charged today (active, not expired)."""
    today = deps.today()
    return [m for m in methods if m.is_active and not m.expired(today)]


def contains_card_number(text: str) -> tuple[bool, bool]:
    """(raw card number present, masked card number present) in the member's text."""
    raw = bool(find_card_numbers(text)) or common.scrub_card_numbers(text).found
    return raw, bool(MASKED_CARD.search(text))


def reset_form_events() -> list[dict[str, Any]]:
    """Clear the form's slots (after a submit, a cancel or a refusal)."""
    return [SlotSet(slot, None) for slot in ALL_FORM_SLOTS] + [SlotSet("requested_slot", None)]


def pick_method(
    entity: str | None, text: str, methods: list[MethodRecord]
) -> MethodRecord | str | None:
    """Which saved method the member meant: a button (`method-12`), a type/brand ('visa',
    'checking'), the last four digits, or a new one ('add a new card')."""
    if entity == NEW_METHOD:
        return NEW_METHOD
    if entity and entity.startswith("method-"):
        wanted = entity.removeprefix("method-")
        return next((m for m in methods if str(m.id) == wanted), None)
    lowered = text.lower()
    by_last4 = [m for m in methods if re.search(rf"\b{re.escape(m.last4)}\b", lowered)]
    if len(by_last4) == 1:
        return by_last4[0]
    words = {w for w in [entity.lower() if entity else None] if w} | set(
        re.findall(r"[a-z]+", lowered)
    )
    by_kind = [
        m
        for m in methods
        if (m.brand and m.brand.lower() in words)
        or m.kind in words
        or ({"card", "credit", "debit"} & words and m.kind == "card")
        or ({"bank", "account"} & words and m.kind in {"checking", "savings"})
    ]
    if NEW_WORDS.search(lowered) and not by_kind:
        return NEW_METHOD
    if len(by_kind) == 1:
        return by_kind[0]
    if len(methods) == 1 and (
        lowered.strip(" .!") in ONLY_METHOD_WORDS or yes_no_words(lowered) is True
    ):
        return methods[0]
    return None


class ValidatePaymentForm(common.JourneyForm):
    """Reads each answer of the payment form; only clean values reach the slots."""

    action_name = "validate_payment_form"
    failures_slot = "payment_failures"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # rasa-sdk returns only the form's own slots; the helper slots set while extracting
        # (the method's label, the failure count) are added here.
        before = {slot: tracker.slots.get(slot) for slot in HELPER_SLOTS}
        events = await super().run(dispatcher, tracker, domain)
        for slot in HELPER_SLOTS:
            if tracker.slots.get(slot) != before[slot]:
                events.insert(0, SlotSet(slot, tracker.slots.get(slot)))
        return events

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        if tracker.slots.get("payment_method") == NEW_METHOD:
            return [s for s in domain_slots if s != "payment_confirm"]
        return domain_slots

    # -- shared ---------------------------------------------------------------------------------

    async def _screen(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        """What to do with the latest message before reading it as an answer to `slot`.

        Returns {} to leave it to the rules (not an answer), {slot: None} after handling a card
        number (re-ask), or None to go on and read it.
        """
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = latest_text(tracker)
        raw, masked = contains_card_number(text)
        if raw or masked:
            deps = await get_deps()
            identity = common.current_identity(
                tracker, now=deps.now(), rules=deps.rules.verification
            )
            if identity is not None and identity.account_id is not None:
                url = await common.secure_link(deps, tracker, identity)
                template = texts.CARD_NOT_KEPT if raw else texts.MASKED_LINK
                dispatcher.utter_message(text=template.format(url=url))
            elif raw:
                dispatcher.utter_message(text=texts.CARD_NOT_KEPT_NO_LINK)
            return {slot: None}
        if latest_intent(tracker) not in ANSWER_INTENTS and not text.startswith("/inform"):
            return {}
        return None

    @staticmethod
    def _amount(text: str, deps: ActionDeps) -> tuple[int | None, str | None]:
        """(cents, None) for a payable amount; (None, why) otherwise."""
        parsed = parse_amount(text)
        if parsed.error is not None or parsed.cents is None:
            return None, parsed.error or texts.UNREADABLE_AMOUNT
        problem = check_amount(parsed.cents, deps.rules.payment)
        if problem:
            return None, texts.with_phone(problem, deps.profile.phones.member_services)
        return parsed.cents, None

    def _typed_amount(self, tracker: Tracker, deps: ActionDeps) -> tuple[int | None, str | None]:
        """The amount in the `amount` entity, else in the whole message."""
        amount_entity, text = latest_entity(tracker, "amount"), latest_text(tracker)
        cents, why = self._amount(amount_entity or text, deps)
        if cents is None and amount_entity:
            cents, why = self._amount(text, deps)
        return cents, why

    # -- payment_amount_choice -----------------------------------------------------------------

    async def extract_payment_amount_choice(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        slot = "payment_amount_choice"
        screened = await self._screen(slot, dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        identity = common.current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None or identity.account_id is None:
            return {}
        intent, text = latest_intent(tracker), latest_text(tracker)
        summary = await deps.members.balance(identity.account_id, deps.today())
        if intent == "choose_amount_full":
            if summary.amount_due_cents <= 0:
                return self.miss(dispatcher, tracker, deps, slot, texts.NOTHING_DUE_FULL)
            return {slot: "full", "payment_amount_cents": summary.amount_due_cents}
        if intent == "choose_amount_past_due":
            if summary.past_due_with_fee_cents <= 0:
                message = texts.nothing_past_due(summary.amount_due_cents)
                return self.miss(dispatcher, tracker, deps, slot, message)
            return {slot: "past_due", "payment_amount_cents": summary.past_due_with_fee_cents}
        # "whatever the past due is", "half", "a third": any portion can be paid (the guide).
        if asks_for_past_due(text):
            if summary.past_due_with_fee_cents <= 0:
                message = texts.nothing_past_due(summary.amount_due_cents)
                return self.miss(dispatcher, tracker, deps, slot, message)
            return {slot: "past_due", "payment_amount_cents": summary.past_due_with_fee_cents}
        portion = portion_cents(text, summary.amount_due_cents)
        if portion is not None:
            cents, why = self._amount(f"{portion / 100:.2f}", deps)
            if cents is None:
                return self.miss(dispatcher, tracker, deps, slot, why or texts.UNREADABLE_AMOUNT)
            return {slot: "other", "payment_amount_cents": cents}
        amount_entity = latest_entity(tracker, "amount")
        if (amount_entity or "").lower() == "other" or (
            OTHER_WORDS.search(text) and not re.search(r"\d", text)
        ):
            return {slot: "other"}
        cents, why = self._typed_amount(tracker, deps)
        if cents is None:
            return self.miss(dispatcher, tracker, deps, slot, why or texts.UNREADABLE_AMOUNT)
        # "$50 now and the rest Friday": take the $50, say what is left and until when.
        note = rest_later_note(text, cents, summary.amount_due_cents, summary.due_date)
        if note:
            dispatcher.utter_message(text=note)
        return {slot: "other", "payment_amount_cents": cents}

    async def validate_payment_amount_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in {"full", "past_due", "other"}:
            return {"payment_amount_choice": value}
        return {"payment_amount_choice": None}

    # -- payment_amount_cents -------------------------------------------------------------------

    async def extract_payment_amount_cents(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        slot = "payment_amount_cents"
        screened = await self._screen(slot, dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        cents, why = self._typed_amount(tracker, deps)
        if cents is None:
            return self.miss(dispatcher, tracker, deps, slot, why or texts.UNREADABLE_AMOUNT)
        return {slot: cents}

    async def validate_payment_amount_cents(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and int(value) == value
            and value > 0
        ):
            return {"payment_amount_cents": int(value)}
        return {"payment_amount_cents": None}

    # -- payment_method -------------------------------------------------------------------------

    async def extract_payment_method(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        slot = "payment_method"
        screened = await self._screen(slot, dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        identity = common.current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return {}
        methods = usable_methods(await deps.members.saved_methods(identity.member_id), deps)
        chosen = pick_method(
            latest_entity(tracker, "payment_method"), latest_text(tracker), methods
        )
        if chosen == NEW_METHOD:
            return {slot: NEW_METHOD, "payment_method_label": None}
        if isinstance(chosen, MethodRecord):
            return {slot: str(chosen.id), "payment_method_label": chosen.label}
        message = texts.method_not_understood(methods)
        return self.miss(dispatcher, tracker, deps, slot, message)

    async def validate_payment_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NEW_METHOD or (isinstance(value, str) and value.isdigit()):
            return {"payment_method": value}
        return {"payment_method": None}

    # -- payment_confirm ------------------------------------------------------------------------

    async def extract_payment_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        slot = "payment_confirm"
        screened = await self._screen(slot, dispatcher, tracker)
        if screened is not None:
            return screened
        answer = yes_no(tracker)
        if answer is not None:
            return {slot: "yes" if answer else "no"}
        deps = await get_deps()
        amount = int(tracker.get_slot("payment_amount_cents") or 0)
        return self.miss(dispatcher, tracker, deps, slot, texts.confirm_reask(amount))

    async def validate_payment_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"payment_confirm": value if value in {"yes", "no"} else None}
