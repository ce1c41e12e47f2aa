"""Journey 4, pay a bill: the payment form, its questions and validation, and the submit action.

Flow (rules in data/rules/payment.yml): `pay_bill` -> `verify_form` -> `confirm_form` (one-time
code) -> `payment_form` -> `action_submit_payment`.

`payment_form` asks, in order:
1. `payment_amount_choice`: full balance, past-due only, or another amount (buttons; numbered
   choices by SMS). A typed amount ("$45", "fifty dollars") answers it at once.
2. `payment_amount_cents`: only asked for "another amount".
3. `payment_method`: a saved method (by type and last four) or "new" (a secure-page link).
4. `payment_confirm`: "Pay $142.87 today with Visa ending 4242? Reply YES ... or NO ...".

Every form slot has a `custom` mapping, extracted here (`extract_<slot>`) rather than by
`from_text`: what the member typed never lands in a slot unless it is a clean, validated value, so a
card number typed into the form is never stored in the tracker's slots. Messages that are not an
answer (never mind, the balance, the hours...) extract nothing, the form rejects them, and the
rules of data/rules/payment.yml answer and come back ("Back to your payment: ...").

`action_submit_payment` charges through `PaymentService.pay` with an idempotency key tied to the
turn that said YES, so a retried action charges once; after a payment a second "yes" is answered
from `payment_last_confirmation` without calling the processor.

The processor: the sandbox (`SandboxProcessor`) by default, one per action-server process (its
idempotency memory must outlive one action call). Tests install their own with `use_processor`.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common
from bot.actions import tracker as tracker_helpers
from bot.actions.deps import ActionDeps, get_deps
from bot.core.amounts import parse_amount
from bot.core.masking import find_card_numbers
from bot.core.money import format_cents
from bot.services.balance import BalanceSummary
from bot.services.identity import Tier
from bot.services.members import MethodRecord
from bot.services.payment_links import create_link
from bot.services.payment_rules import check_amount
from bot.services.payments import PaymentService

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
DIGRESSION_INTENTS = frozenset({"check_balance", "ask_office_hours"})

NEW_METHOD = "new"
MASKED_CARD = re.compile(r"\d{4}(?:[ -]?\*{2,6}){1,4}[ -]?\d{1,4}")
OTHER_WORDS = re.compile(r"\b(other|another|different|custom|some|part|partial)\b", re.IGNORECASE)
NEW_WORDS = re.compile(r"\b(new|add|another|different|other)\b", re.IGNORECASE)
YES_WORDS = frozenset({"yes", "y", "yes please", "yep", "yeah", "confirm", "ok", "okay", "1"})
NO_WORDS = frozenset({"no", "n", "nope", "stop", "2"})

STOPPED = "OK, I've stopped the payment. Nothing was charged. Anything else?"
CARD_NOT_KEPT = (
    "For your safety I didn't keep that card number. Please never send card numbers in a chat or "
    "text. You can add a card on our secure page: {url} (works once, for 15 min)."
)
MASKED_LINK = "You can add a card on our secure page: {url} (works once, for 15 min)."
NEW_METHOD_LINK = (
    "You can add a card or bank account on our secure page: {url} (works once, for 15 min). "
    "Come back here when you're done."
)


def usable_methods(methods: list[MethodRecord], deps: ActionDeps) -> list[MethodRecord]:
    today = deps.today()
    return [m for m in methods if m.is_active and not m.expired(today)]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "").strip()


def _intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def _entity(tracker: Tracker, name: str) -> str | None:
    values = [v for v in tracker.get_latest_entity_values(name) if v is not None]
    return str(values[0]) if values else None


def contains_card_number(text: str) -> tuple[bool, bool]:
    """(raw card number present, masked card number present) in the member's text."""
    raw = bool(find_card_numbers(text)) or common.scrub_card_numbers(text).found
    return raw, bool(MASKED_CARD.search(text))


def _identity(tracker: Tracker, deps: ActionDeps) -> Any:
    return common.current_identity(tracker, now=deps.now(), rules=deps.rules.verification)


def reset_form_events() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in ALL_FORM_SLOTS] + [SlotSet("requested_slot", None)]


def with_phone(message: str, deps: ActionDeps) -> str:
    """'... or call member services.' -> '... or call member services at (706) 547-2167.'"""
    return message.replace(
        "call member services", f"call member services at {deps.profile.phones.member_services}"
    )


async def secure_link(deps: ActionDeps, tracker: Tracker, identity: Any) -> str:
    link = await create_link(
        deps.sessions,
        secret_key=deps.settings.secret_key,
        public_base_url=deps.settings.public_base_url,
        member_id=int(identity.member_id),
        account_id=int(identity.account_id),
        conversation_id=tracker.sender_id,
        now=deps.now(),
    )
    return link.url


def resuming(tracker: Tracker) -> bool:
    """True when the form is re-asking after answering a side question."""
    return _intent(tracker) in DIGRESSION_INTENTS


def amount_buttons(summary: BalanceSummary | None) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = []
    if summary is not None and summary.amount_due_cents > 0:
        options.append(
            common.intent_button(
                f"Full {format_cents(summary.amount_due_cents)}", "choose_amount_full"
            )
        )
        if 0 < summary.past_due_with_fee_cents < summary.amount_due_cents:
            options.append(
                common.intent_button(
                    f"Past due only {format_cents(summary.past_due_with_fee_cents)}",
                    "choose_amount_past_due",
                )
            )
    options.append(common.intent_button("Other amount", "inform", {"amount": "other"}))
    return options


# --------------------------------------------------------------------------------------------
# The questions
# --------------------------------------------------------------------------------------------


class ActionAskPaymentAmountChoice(Action):
    """'How much would you like to pay?' with [Full $x] [Past due only $y] [Other amount]."""

    def name(self) -> str:
        return "action_ask_payment_amount_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        identity = _identity(tracker, deps)
        summary = None
        if identity is not None:
            summary = await deps.members.balance(int(identity.account_id), deps.today())
        question = "how much would you like to pay?"
        if resuming(tracker):
            text = f"Back to your payment: {question}"
        elif summary is not None and summary.amount_due_cents > 0:
            due = f" due {summary.due_date:%b} {summary.due_date.day}" if summary.due_date else ""
            past = (
                f", including {format_cents(summary.past_due_with_fee_cents)} past due with the late fee"
                if summary.past_due_with_fee_cents > 0
                else ""
            )
            text = f"{format_cents(summary.amount_due_cents)} is{due}{past}. How much would you like to pay?"
        elif summary is not None:
            text = "You don't owe anything right now. If you'd still like to pay, how much?"
        else:
            text = "How much would you like to pay?"
        dispatcher.utter_message(
            text=text, buttons=common.buttons_or_choices(amount_buttons(summary))
        )
        return []


class ActionAskPaymentAmountCents(Action):
    def name(self) -> str:
        return "action_ask_payment_amount_cents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        prefix = "Back to your payment: h" if resuming(tracker) else "H"
        dispatcher.utter_message(
            text=f"{prefix}ow much would you like to pay? For example $45 or 45.20."
        )
        return []


class ActionAskPaymentMethod(Action):
    """Saved methods by type and last four, plus 'Add a new card or bank account'."""

    def name(self) -> str:
        return "action_ask_payment_method"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        identity = _identity(tracker, deps)
        methods: list[MethodRecord] = []
        if identity is not None:
            methods = usable_methods(
                await deps.members.saved_methods(int(identity.member_id)), deps
            )
        options = [
            common.intent_button(m.label, "inform", {"payment_method": f"method-{m.id}"})
            for m in methods
        ]
        options.append(
            common.intent_button(
                "Add a new card or bank account", "inform", {"payment_method": NEW_METHOD}
            )
        )
        back = "Back to your payment: " if resuming(tracker) else ""
        if methods:
            text = f"{back}Which payment method would you like to use?"
        else:
            text = f"{back}You don't have a saved card or bank account yet. You can add one on our secure page."
        dispatcher.utter_message(text=text, buttons=common.buttons_or_choices(options))
        return []


class ActionAskPaymentConfirm(Action):
    """The explicit confirmation with amount, method and date (and a heads-up above the balance)."""

    def name(self) -> str:
        return "action_ask_payment_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        identity = _identity(tracker, deps)
        amount = int(tracker.get_slot("payment_amount_cents") or 0)
        label = tracker.get_slot("payment_method_label") or "your saved method"
        if identity is not None and not resuming(tracker):
            summary = await deps.members.balance(int(identity.account_id), deps.today())
            if deps.profile.payments.warn_above_balance and amount > summary.amount_due_cents:
                if summary.amount_due_cents > 0:
                    dispatcher.utter_message(
                        text=f"That's more than your balance of {format_cents(summary.amount_due_cents)}; "
                        f"the extra {format_cents(amount - summary.amount_due_cents)} will be a credit."
                    )
                else:
                    dispatcher.utter_message(
                        text="You don't owe anything right now, so this payment will be a credit on your account."
                    )
        back = "Back to your payment: " if resuming(tracker) else ""
        dispatcher.utter_message(
            text=f"{back}Pay {format_cents(amount)} today with {label}? Reply YES to confirm or NO to stop.",
            buttons=common.buttons_or_choices(
                [
                    common.intent_button("Yes, pay", "affirm"),
                    common.intent_button("No, stop", "deny"),
                ]
            ),
        )
        return []


# --------------------------------------------------------------------------------------------
# Extraction and validation
# --------------------------------------------------------------------------------------------


class ValidatePaymentForm(FormValidationAction):
    """Reads each answer of the payment form; only clean values reach the slots."""

    def name(self) -> str:
        return "validate_payment_form"

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

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
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
        text = _text(tracker)
        raw, masked = contains_card_number(text)
        if raw or masked:
            deps = await get_deps()
            identity = _identity(tracker, deps)
            if identity is not None:
                url = await secure_link(deps, tracker, identity)
                dispatcher.utter_message(
                    text=(CARD_NOT_KEPT if raw else MASKED_LINK).format(url=url)
                )
            elif raw:
                dispatcher.utter_message(
                    text="For your safety I didn't keep that card number. Please never send card numbers in a chat or text."
                )
            return {slot: None}
        if _intent(tracker) not in ANSWER_INTENTS and not text.startswith("/inform"):
            return {}
        return None

    def _failed(
        self,
        slot: str,
        message: str,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        deps: ActionDeps,
    ) -> dict[str, Any]:
        return common.reask(
            dispatcher,
            tracker,
            slot=slot,
            counter="payment_failures",
            message=message,
            member_services_phone=deps.profile.phones.member_services,
        )

    async def _amount(
        self, text: str, tracker: Tracker, deps: ActionDeps
    ) -> tuple[int | None, str | None]:
        """(cents, None) for a payable amount; (None, why) otherwise."""
        parsed = parse_amount(text)
        if parsed.error is not None or parsed.cents is None:
            return None, parsed.error or "I couldn't read that as an amount."
        problem = check_amount(parsed.cents, deps.rules.payment)
        if problem:
            return None, with_phone(problem, deps)
        return parsed.cents, None

    # -- payment_amount_choice -----------------------------------------------------------------

    async def extract_payment_amount_choice(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        screened = await self._screen("payment_amount_choice", dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        identity = _identity(tracker, deps)
        if identity is None:
            return {}
        intent, text = _intent(tracker), _text(tracker)
        amount_entity = _entity(tracker, "amount")
        summary = await deps.members.balance(int(identity.account_id), deps.today())
        if intent == "choose_amount_full":
            if summary.amount_due_cents <= 0:
                return self._failed(
                    "payment_amount_choice",
                    "You don't owe anything right now. You can still pay another amount.",
                    dispatcher,
                    tracker,
                    deps,
                )
            return {
                "payment_amount_choice": "full",
                "payment_amount_cents": summary.amount_due_cents,
            }
        if intent == "choose_amount_past_due":
            if summary.past_due_with_fee_cents <= 0:
                return self._failed(
                    "payment_amount_choice",
                    f"Nothing on this account is past due. The full balance is "
                    f"{format_cents(max(summary.amount_due_cents, 0))}.",
                    dispatcher,
                    tracker,
                    deps,
                )
            return {
                "payment_amount_choice": "past_due",
                "payment_amount_cents": summary.past_due_with_fee_cents,
            }
        if (amount_entity or "").lower() == "other" or (
            OTHER_WORDS.search(text) and not re.search(r"\d", text)
        ):
            return {"payment_amount_choice": "other"}
        cents, why = await self._amount(amount_entity or text, tracker, deps)
        if cents is None and amount_entity:
            cents, why = await self._amount(text, tracker, deps)
        if cents is None:
            return self._failed(
                "payment_amount_choice",
                why or "I couldn't read that as an amount.",
                dispatcher,
                tracker,
                deps,
            )
        return {"payment_amount_choice": "other", "payment_amount_cents": cents}

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
        screened = await self._screen("payment_amount_cents", dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        amount_entity, text = _entity(tracker, "amount"), _text(tracker)
        cents, why = await self._amount(amount_entity or text, tracker, deps)
        if cents is None and amount_entity:
            cents, why = await self._amount(text, tracker, deps)
        if cents is None:
            return self._failed(
                "payment_amount_cents",
                why or "I couldn't read that as an amount.",
                dispatcher,
                tracker,
                deps,
            )
        return {"payment_amount_cents": cents}

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
        screened = await self._screen("payment_method", dispatcher, tracker)
        if screened is not None:
            return screened
        deps = await get_deps()
        identity = _identity(tracker, deps)
        if identity is None:
            return {}
        methods = usable_methods(await deps.members.saved_methods(int(identity.member_id)), deps)
        chosen = pick_method(_entity(tracker, "payment_method"), _text(tracker), methods)
        if chosen == NEW_METHOD:
            return {"payment_method": NEW_METHOD, "payment_method_label": None}
        if isinstance(chosen, MethodRecord):
            return {"payment_method": str(chosen.id), "payment_method_label": chosen.label}
        names = ", ".join(m.label for m in methods)
        hint = (
            f"Please pick {names}, or add a new card or bank account."
            if methods
            else ("Please choose Add a new card or bank account, or say never mind.")
        )
        return self._failed(
            "payment_method",
            f"I couldn't tell which method you meant. {hint}",
            dispatcher,
            tracker,
            deps,
        )

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
        screened = await self._screen("payment_confirm", dispatcher, tracker)
        if screened is not None:
            return screened
        intent, text = _intent(tracker), _text(tracker).lower().strip(" .!")
        if intent == "affirm" or text in YES_WORDS:
            return {"payment_confirm": "yes"}
        if intent == "deny" or text in NO_WORDS:
            return {"payment_confirm": "no"}
        deps = await get_deps()
        amount = format_cents(int(tracker.get_slot("payment_amount_cents") or 0))
        return self._failed(
            "payment_confirm",
            f"Please reply YES to pay {amount}, or NO to stop.",
            dispatcher,
            tracker,
            deps,
        )

    async def validate_payment_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"payment_confirm": value if value in {"yes", "no"} else None}


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
    if len(methods) == 1 and text.lower().strip(" .!") in {
        "yes",
        "that one",
        "that",
        "ok",
        "sure",
        "1",
    }:
        return methods[0]
    return None


# --------------------------------------------------------------------------------------------
# Leaving the form and submitting
# --------------------------------------------------------------------------------------------


class ActionCancelPayment(Action):
    """'Never mind' / 'cancel payment' at any step: nothing charged, form slots cleared."""

    def name(self) -> str:
        return "action_cancel_payment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=STOPPED)
        return reset_form_events()


class ActionSubmitPayment(Action):
    """Charge the confirmed payment once; say the result with a next step."""

    def name(self) -> str:
        return "action_submit_payment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        confirm = tracker.get_slot("payment_confirm")
        method = tracker.get_slot("payment_method")
        last = tracker.get_slot("payment_last_confirmation")
        if confirm is None and method != NEW_METHOD:
            if last:
                dispatcher.utter_message(
                    text=f"That payment is already done (confirmation {last}). Nothing more was charged."
                )
            else:
                dispatcher.utter_message(
                    text="There's no payment waiting to be confirmed. Say pay bill to start one."
                )
            return reset_form_events()
        identity = common.require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return reset_form_events()
        if method == NEW_METHOD:
            url = await secure_link(deps, tracker, identity)
            dispatcher.utter_message(text=NEW_METHOD_LINK.format(url=url))
            return reset_form_events()
        if confirm != "yes":
            dispatcher.utter_message(text=STOPPED)
            return reset_form_events()
        outcome = await PaymentService(deps.sessions, deps.processor, deps.rules.payment).pay(
            account_id=int(identity.account_id),
            member_id=int(identity.member_id),
            payment_method_id=int(method),
            amount_cents=int(tracker.get_slot("payment_amount_cents") or 0),
            idempotency_key=tracker_helpers.idempotency_key(tracker, "payment"),
            channel=tracker_helpers.channel_of(tracker),
            actor=f"member:{identity.member_id}",
            verified_how=str(getattr(identity, "verified_how", None) or "otp"),
            conversation_id=tracker.sender_id,
            now=deps.now(),
        )
        events = reset_form_events()
        if outcome.ok:
            dispatcher.utter_message(text=outcome.message)
            events.append(SlotSet("payment_last_confirmation", outcome.confirmation_number))
        else:
            buttons = []
            if outcome.status in {"declined", "refused"}:
                buttons = common.buttons_or_choices(
                    [common.intent_button("Try another method", "pay_bill")]
                )
            dispatcher.utter_message(text=with_phone(outcome.message, deps), buttons=buttons)
        return events
