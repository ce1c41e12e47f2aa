"""Recurring bank draft (journey 5): enroll, view, change and cancel, as a conversation.

The rules and the records live in `bot.services.drafts` (allowed days, notice periods, the
authorization wording, enroll/change/cancel with their authorization rows and audit entries).
These actions only collect the member's choices, show the exact wording, ask for an explicit YES,
call the service, and send the member a copy through the notifier (compliance.md: NACHA WEB
debits need the authorization shown, agreed, stored and copied to the member).

Flow (rules in data/rules/draft.yml): a draft intent opens the identity gate (confirmed tier);
`action_draft_start` then looks at what was asked (`draft_action`) and at the account's enrollment
and sets `draft_next` (enroll/change/cancel/done), which picks the form: `draft_form` (enroll),
`draft_change_form` or `draft_cancel_form`. Each form ends with its submit action.

Safety: card and bank numbers typed into any of these forms are never put in a slot; the member
is told it was not kept and is pointed to the secure page. Slots hold only choices: a draft day,
an amount rule, cents, the id of a saved bank account, yes/no.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select, update

from bot.actions.common import Identity, reask, require_tier
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.tracker import channel_of
from bot.core.amounts import parse_amount
from bot.core.dates import ordinal, spell_date
from bot.core.masking import find_bank_numbers, find_card_numbers, mask_email, mask_phone
from bot.core.money import format_cents
from bot.services import drafts
from bot.services.identity import Tier
from bot.services.members import MethodRecord
from bot.store.db import session_scope
from bot.store.models import DraftAuthorization, DraftEnrollment

# Every slot this journey writes; reset when a draft conversation ends (done, stopped or failed).
DRAFT_SLOTS = (
    "draft_day",
    "draft_amount_rule",
    "draft_fixed_amount",
    "draft_method_id",
    "draft_authorized",
    "draft_shown_on",
    "draft_change_what",
    "draft_cancel_confirmed",
    "draft_failures",
)

YES_WORDS = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yes i do",
    "i authorize",
    "i do",
    "ok",
    "okay",
    "sure",
    "authorize",
}
NO_WORDS = {"no", "n", "nope", "no thanks", "i do not", "dont", "don't"}
ADD_WORDS = ("add", "new", "another", "different bank", "link")
CARD_WORDS = (
    "card",
    "visa",
    "mastercard",
    "master card",
    "amex",
    "american express",
    "discover",
    "credit",
    "debit",
)
# A run of 5+ digits in an answer about a bank account is an account or routing number: never kept.
_LONG_DIGITS = re.compile(r"\d[\d -]{3,}\d")
_MASKED = re.compile(r"\*{3,}")


# ---------------------------------------------------------------------------------------------
# Small helpers (no Rasa types beyond the tracker)
# ---------------------------------------------------------------------------------------------


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "").strip()


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value).strip() if value else None


def _upcoming(day: int, on_or_after: date) -> date:
    """The first date on `day` of a month, on or after `on_or_after`."""
    if on_or_after.day <= day:
        return on_or_after.replace(day=day)
    first_next = (on_or_after.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_next.replace(day=day)


def _yes_no(tracker: Tracker, value: Any) -> bool | None:
    """True for YES, False for NO, None for anything else (the form asks again)."""
    if isinstance(value, bool):
        return value
    intent = _intent(tracker)
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    words = re.sub(r"[^a-z' ]", "", str(value or "").lower()).strip()
    first = words.split(" ", 1)[0] if words else ""
    if words in YES_WORDS or first in ("yes", "yeah", "yep"):
        return True
    if words in NO_WORDS or first in ("no", "nope"):
        return False
    return None


def sensitive_number(text: str) -> str | None:
    """'card' or 'bank' if the member typed (or the gateway masked) a card or bank number."""
    if find_card_numbers(text) or (_MASKED.search(text) and re.search(r"\d{4}", text)):
        return "card"
    if find_bank_numbers(text):
        return "bank"
    for run in _LONG_DIGITS.findall(text):
        if len(re.sub(r"\D", "", run)) >= 5:
            return "bank"
    return None


def bank_methods(methods: list[MethodRecord]) -> list[MethodRecord]:
    return [m for m in methods if m.kind in drafts.BANK_KINDS and m.is_active]


def method_button(method: MethodRecord) -> dict[str, str]:
    return {
        "title": method.label,
        "payload": f'/inform{{"payment_method": "{method.kind} {method.last4}"}}',
    }


ADD_BANK_BUTTON = {"title": "Add a bank account", "payload": '/inform{"payment_method": "new"}'}


def match_method(
    text: str, entity: str | None, methods: list[MethodRecord]
) -> MethodRecord | str | None:
    """The saved method the member named, or 'card' / 'add' / 'ambiguous', or None."""
    lowered = f"{text} {entity or ''}".lower()
    digits = set(re.findall(r"(?<!\d)\d{4}(?!\d)", lowered))
    by_last4 = [m for m in methods if m.last4 in digits]
    if by_last4:
        return by_last4[0]
    if any(word in lowered for word in CARD_WORDS):
        return "card"
    if any(word in lowered for word in ADD_WORDS):
        return "add"
    banks = bank_methods(methods)
    for kind in ("checking", "savings"):
        if kind in lowered:
            named = [m for m in banks if m.kind == kind]
            if len(named) == 1:
                return named[0]
            if named:
                return "ambiguous"
    return None


def reset_events() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in DRAFT_SLOTS]


@dataclass(frozen=True)
class Terms:
    """The terms the member is choosing, enough to build the authorization wording."""

    draft_day: int
    amount_rule: str
    fixed_amount_cents: int | None
    method_kind: str
    method_last4: str


# ---------------------------------------------------------------------------------------------
# Reading the member's draft situation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftSituation:
    account_last4: str
    enrollment: DraftEnrollment | None
    method_kind: str | None
    method_last4: str | None
    methods: list[MethodRecord]


async def load_situation(deps: ActionDeps, account_id: int, member_id: int) -> DraftSituation:
    services = deps.members
    account = await services.account(account_id)
    methods = await services.saved_methods(member_id)
    async with deps.sessions() as session:
        enrollment = await drafts.get_active(session, account_id)
    kind = last4 = None
    if enrollment is not None:
        current = next((m for m in methods if m.id == enrollment.payment_method_id), None)
        if current is not None:
            kind, last4 = current.kind, current.last4
    return DraftSituation(
        account_last4=account.last4 if account else "",
        enrollment=enrollment,
        method_kind=kind,
        method_last4=last4,
        methods=methods,
    )


def describe_enrollment(situation: DraftSituation, today: date) -> str:
    """ "You're on bank draft: the full amount due on the 18th from checking ending 3344. Next draft: Dec 18." """
    enrollment = situation.enrollment
    assert enrollment is not None
    amount = drafts.amount_phrase(enrollment.amount_rule, enrollment.fixed_amount_cents)
    source = (
        drafts.method_label(situation.method_kind, situation.method_last4)
        if situation.method_kind and situation.method_last4
        else "your bank account"
    )
    upcoming = _upcoming(enrollment.draft_day, max(today, enrollment.starts_on))
    return (
        f"You're on bank draft: {amount} on the {ordinal(enrollment.draft_day)} from {source}. "
        f"Next draft: {spell_date(upcoming, with_year=False)}."
    )


def set_it_up_button() -> list[dict[str, str]]:
    return [{"title": "Set up bank draft", "payload": "/setup_draft"}]


# ---------------------------------------------------------------------------------------------
# Start: after the identity gate
# ---------------------------------------------------------------------------------------------


class ActionDraftStart(Action):
    """Runs after the gate: view the draft, or pick the form (enroll, change, cancel)."""

    def name(self) -> str:
        return "action_draft_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        done = [*reset_events(), SlotSet("draft_next", "done")]
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return done
        situation = await load_situation(deps, identity.account_id, identity.member_id)
        today = deps.today()
        wanted = tracker.get_slot("draft_action") or "enroll"

        if situation.enrollment is None:
            if wanted == "enroll":
                return [*reset_events(), SlotSet("draft_next", "enroll")]
            if wanted == "cancel":
                text = "Your account isn't on bank draft, so there's nothing to cancel. Would you like to set it up?"
            else:
                text = "Your account isn't on bank draft. Would you like to set it up?"
            dispatcher.utter_message(text=text, buttons=set_it_up_button())
            return done

        if wanted in ("change", "cancel"):
            return [*reset_events(), SlotSet("draft_next", wanted)]
        view = describe_enrollment(situation, today)
        if wanted == "enroll":
            view += " I can change or cancel it."
        dispatcher.utter_message(
            text=view,
            buttons=[
                {"title": "Change it", "payload": "/change_draft"},
                {"title": "Cancel it", "payload": "/cancel_draft"},
            ],
        )
        return done


# ---------------------------------------------------------------------------------------------
# Validation shared by the enroll and change forms
# ---------------------------------------------------------------------------------------------


async def secure_page_message(
    deps: ActionDeps, tracker: Tracker, member_id: int, account_id: int
) -> str:
    """A single-use link to add a bank account on the secure page (never in the chat)."""
    from bot.services.payment_links import create_link

    link = await create_link(
        deps.sessions,
        secret_key=deps.settings.secret_key,
        public_base_url=deps.settings.public_base_url,
        member_id=member_id,
        account_id=account_id,
        conversation_id=tracker.sender_id,
        now=deps.now(),
        purpose="add_bank",
    )
    return (
        f"You can add a bank account on our secure page: {link.url} (works once, for 15 min). "
        "When it's saved, tell me here and we'll go on."
    )


class _DraftTermsValidation(FormValidationAction):
    """`validate_<slot>` methods shared by the enroll and change forms. Each is safe to call twice
    in one turn (Rasa calls the form's validation during slot extraction and again in the form):
    an already-clean value passes silently, and a message is sent only for raw member text."""

    @abstractmethod
    def name(self) -> str:
        """Subclasses name themselves; being abstract keeps rasa-sdk from registering this base."""

    async def _fail(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        deps: ActionDeps,
        slot: str,
        message: str,
        buttons: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        return reask(
            dispatcher,
            tracker,
            slot=slot,
            counter="draft_failures",
            message=message,
            member_services_phone=deps.profile.phones.member_services,
            buttons=buttons,
        )

    async def _refuse_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, kind: str
    ) -> dict[str, Any]:
        what = "card number" if kind == "card" else "bank account number"
        dispatcher.utter_message(
            text=f"For your safety I didn't keep that {what}. Please never send card or bank numbers "
            "in a chat or text. Bank accounts are added on our secure page; pick Add a bank account."
        )
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
            return await self._refuse_number(dispatcher, tracker, "draft_day", kind)
        candidate = _entity(tracker, "draft_day") or text
        try:
            day = drafts.validate_draft_day(_day_words(candidate), deps.profile)
        except drafts.DraftError as error:
            return await self._fail(
                dispatcher, tracker, deps, "draft_day", str(error), day_buttons(deps)
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
            return await self._refuse_number(dispatcher, tracker, "draft_amount_rule", kind)
        entity = (_entity(tracker, "amount") or "").lower()
        if _intent(tracker) == "choose_amount_full" or any(
            w in text for w in ("full", "all of", "whole", "total", "balance", "what i owe")
        ):
            return {"draft_amount_rule": "full_balance"}
        if entity == "fixed" or any(
            w in text for w in ("fixed", "same amount", "set amount", "flat")
        ):
            return {"draft_amount_rule": "fixed"}
        parsed = parse_amount(entity or text)
        if parsed.cents is not None:
            try:
                cents = drafts.validate_terms("fixed", parsed.cents, deps.profile)
            except drafts.DraftError as error:
                return await self._fail(dispatcher, tracker, deps, "draft_amount_rule", str(error))
            return {"draft_amount_rule": "fixed", "draft_fixed_amount": cents}
        return await self._fail(
            dispatcher,
            tracker,
            deps,
            "draft_amount_rule",
            "Please choose the full amount due each month, or a fixed amount.",
            amount_rule_buttons(),
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
            return await self._refuse_number(dispatcher, tracker, "draft_fixed_amount", kind)
        parsed = parse_amount(_entity(tracker, "amount") or text)
        if parsed.cents is None:
            return await self._fail(
                dispatcher,
                tracker,
                deps,
                "draft_fixed_amount",
                f"{parsed.error} What amount should we draft each month?",
            )
        try:
            cents = drafts.validate_terms("fixed", parsed.cents, deps.profile)
        except drafts.DraftError as error:
            return await self._fail(dispatcher, tracker, deps, "draft_fixed_amount", str(error))
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
            what = "card number" if kind == "card" else "bank account number"
            link = await secure_page_message(deps, tracker, identity.member_id, identity.account_id)
            dispatcher.utter_message(
                text=f"For your safety I didn't keep that {what}. Please never send card or bank numbers in "
                "a chat or text."
            )
            dispatcher.utter_message(text=link)
            return {"draft_method_id": None}
        methods = await deps.members.saved_methods(identity.member_id)
        banks = bank_methods(methods)
        choice = match_method(text, _entity(tracker, "payment_method"), methods)
        if (
            choice is None
            and len(banks) == 1
            and (
                _intent(tracker) == "affirm"
                or text.lower() in ("done", "ok", "okay", "added", "saved")
            )
        ):
            choice = banks[0]
        if isinstance(choice, MethodRecord):
            if choice.kind not in drafts.BANK_KINDS:
                choice = "card"
            else:
                return {"draft_method_id": choice.id, "draft_failures": None}
        if choice == "add":
            dispatcher.utter_message(
                text=await secure_page_message(
                    deps, tracker, identity.member_id, identity.account_id
                )
            )
            return {"draft_method_id": None}
        buttons = [method_button(m) for m in banks] + [ADD_BANK_BUTTON]
        if choice == "card":
            return await self._fail(
                dispatcher,
                tracker,
                deps,
                "draft_method_id",
                "Bank draft works with a checking or savings account, not a card. "
                "Which bank account should we use?",
                buttons,
            )
        return await self._fail(
            dispatcher,
            tracker,
            deps,
            "draft_method_id",
            "Which bank account should we draft? Pick one below or add a new one.",
            buttons,
        )

    async def validate_draft_authorized(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None:
            return {"draft_authorized": None}
        answer = _yes_no(tracker, value)
        if answer is None:
            return await self._fail(
                dispatcher,
                tracker,
                deps,
                "draft_authorized",
                "Please reply YES to authorize the bank draft, or NO to stop.",
            )
        return {"draft_authorized": answer}


def _day_words(text: str) -> str:
    """ "eighteenth" -> "18th", "third" -> "3rd", "the 18th please" -> "18th"."""
    lowered = text.lower()
    words = {
        "first": 1,
        "second": 2,
        "third": 3,
        "fourth": 4,
        "fifth": 5,
        "tenth": 10,
        "fifteenth": 15,
        "eighteenth": 18,
        "twentieth": 20,
        "twenty first": 21,
        "twenty-first": 21,
        "twenty eighth": 28,
    }
    for word, day in sorted(words.items(), key=lambda item: -len(item[0])):
        if word in lowered:
            return str(day)
    found = re.search(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?(?!\d)", lowered)
    return found.group(1) if found else text


def day_buttons(deps: ActionDeps) -> list[dict[str, str]]:
    return [
        {"title": ordinal(d), "payload": f'/inform{{"draft_day": "{ordinal(d)}"}}'}
        for d in drafts.allowed_days(deps.profile)
    ]


def amount_rule_buttons() -> list[dict[str, str]]:
    return [
        {"title": "Full amount due", "payload": "/choose_amount_full"},
        {"title": "A fixed amount", "payload": '/inform{"amount": "fixed"}'},
    ]


def _fixed_allowed(deps: ActionDeps) -> bool:
    return "fixed" in deps.profile.drafts.amount_rules


def _amount_slots(tracker: Tracker, deps: ActionDeps) -> list[str]:
    if not _fixed_allowed(deps):
        return []
    slots = ["draft_amount_rule"]
    if tracker.get_slot("draft_amount_rule") == "fixed":
        slots.append("draft_fixed_amount")
    return slots


class ValidateDraftForm(_DraftTermsValidation):
    """Enrollment: day, amount rule (and amount), bank account, then the authorization."""

    def name(self) -> str:
        return "validate_draft_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        deps = await get_deps()
        return ["draft_day", *_amount_slots(tracker, deps), "draft_method_id", "draft_authorized"]


CHANGE_CHOICES = {"day": "Draft day", "account": "Bank account", "amount": "Amount"}


class ValidateDraftChangeForm(_DraftTermsValidation):
    """Change: what to change, the new value, then the new authorization."""

    def name(self) -> str:
        return "validate_draft_change_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        deps = await get_deps()
        what = tracker.get_slot("draft_change_what")
        middle = {
            "day": ["draft_day"],
            "account": ["draft_method_id"],
            "amount": _amount_slots(tracker, deps),
        }.get(what or "", [])
        return ["draft_change_what", *middle, "draft_authorized"]

    async def validate_draft_change_what(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        if value is None or value in CHANGE_CHOICES:
            return {"draft_change_what": value}
        text = str(value).lower()
        kind = sensitive_number(text)
        if kind:
            return await self._refuse_number(dispatcher, tracker, "draft_change_what", kind)
        result: dict[str, Any] = {}
        if _entity(tracker, "draft_day") or any(
            w in text for w in ("day", "date", "when", "later", "earlier")
        ):
            result["draft_change_what"] = "day"
            if _entity(tracker, "draft_day"):  # "move it to the 3rd": the new day too
                result.update(
                    await self.validate_draft_day(
                        _entity(tracker, "draft_day"), dispatcher, tracker, domain
                    )
                )
            return result
        if any(w in text for w in ("account", "bank", "checking", "savings")):
            return {"draft_change_what": "account"}
        if _fixed_allowed(deps) and (
            _entity(tracker, "amount")
            or any(w in text for w in ("amount", "how much", "full", "fixed", "$"))
        ):
            return {"draft_change_what": "amount"}
        return await self._fail(
            dispatcher,
            tracker,
            deps,
            "draft_change_what",
            "Would you like to change the draft day, the bank account or the amount?",
            change_buttons(deps),
        )


def change_buttons(deps: ActionDeps) -> list[dict[str, str]]:
    keys = ["day", "account"] + (["amount"] if _fixed_allowed(deps) else [])
    return [{"title": CHANGE_CHOICES[k], "payload": CHANGE_CHOICES[k].lower()} for k in keys]


class ValidateDraftCancelForm(FormValidationAction):
    """Cancel: one explicit yes or no."""

    def name(self) -> str:
        return "validate_draft_cancel_form"

    async def validate_draft_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"draft_cancel_confirmed": None}
        answer = _yes_no(tracker, value)
        if answer is None:
            dispatcher.utter_message(
                text="Please reply YES to cancel your bank draft, or NO to keep it."
            )
        return {"draft_cancel_confirmed": answer}


# ---------------------------------------------------------------------------------------------
# Questions (ask actions): each knows whether the validator already re-asked this turn
# ---------------------------------------------------------------------------------------------


_SLOT_EXTRACTION_ACTIONS = {"action_extract_slots", "action_listen"}


def _validator_spoke(tracker: Tracker) -> bool:
    """True if this turn's slot validation already answered the member (and re-asked).

    Only messages sent between the member's last message and the next real action count: a
    message from another action (a digression's answer, the identity gate) means the form must
    ask its question again itself.
    """
    spoke = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return spoke
        if kind == "action" and event.get("name") not in _SLOT_EXTRACTION_ACTIONS:
            return False
        if kind == "bot":
            spoke = True
    return False


def _asked_before(tracker: Tracker, action_name: str) -> bool:
    """Whether this question was already asked in the current run of the form."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") is not None:
            return False
        if event.get("event") == "action" and event.get("name") == action_name:
            return True
    return False


class ActionAskDraftDay(Action):
    def name(self) -> str:
        return "action_ask_draft_day"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        days = drafts.describe_allowed_days(deps.profile)
        if tracker.active_loop_name == "draft_change_form":
            text = f"Which day should we draft instead? We draft on {days}."
        elif _asked_before(tracker, self.name()):
            text = f"Back to your bank draft: we draft on {days}. Which day works best?"
        else:
            text = (
                f"Bank draft pays your bill automatically from a bank account. We draft on {days}. "
                "Which day works best?"
            )
        dispatcher.utter_message(text=text, buttons=day_buttons(deps))
        return []


class ActionAskDraftAmountRule(Action):
    def name(self) -> str:
        return "action_ask_draft_amount_rule"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        dispatcher.utter_message(
            text="Should each draft be the full amount due on your bill, or a fixed amount you choose?",
            buttons=amount_rule_buttons(),
        )
        return []


class ActionAskDraftFixedAmount(Action):
    def name(self) -> str:
        return "action_ask_draft_fixed_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        low, high = deps.profile.payments.minimum_cents, deps.profile.payments.maximum_cents
        dispatcher.utter_message(
            text=f"What amount should we draft each month? Any amount from {format_cents(low)} to {format_cents(high)}."
        )
        return []


class ActionAskDraftMethodId(Action):
    def name(self) -> str:
        return "action_ask_draft_method_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]
        methods = await deps.members.saved_methods(identity.member_id)
        banks = bank_methods(methods)
        if banks:
            text = "Which account should we draft?"
        else:
            text = (
                "Bank draft works with a checking or savings account (not a card), and I don't see one "
                "saved. You can add one on our secure page."
            )
        dispatcher.utter_message(
            text=text, buttons=[method_button(m) for m in banks] + [ADD_BANK_BUTTON]
        )
        return []


class ActionAskDraftChangeWhat(Action):
    def name(self) -> str:
        return "action_ask_draft_change_what"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        dispatcher.utter_message(
            text="What would you like to change about your bank draft?",
            buttons=change_buttons(deps),
        )
        return []


async def _terms_from_slots(
    deps: ActionDeps, tracker: Tracker, member_id: int, situation: DraftSituation
) -> Terms | None:
    """The chosen terms; in a change, the current enrollment fills whatever is not changing."""
    current = situation.enrollment
    day = tracker.get_slot("draft_day") or (current.draft_day if current else None)
    rule = (
        tracker.get_slot("draft_amount_rule")
        or (current.amount_rule if current else None)
        or "full_balance"
    )
    fixed = tracker.get_slot("draft_fixed_amount")
    if rule == "fixed" and fixed is None and current is not None and current.amount_rule == "fixed":
        fixed = current.fixed_amount_cents
    method_id = tracker.get_slot("draft_method_id") or (
        current.payment_method_id if current else None
    )
    method = next((m for m in situation.methods if m.id == method_id), None)
    if day is None or method is None or method.kind not in drafts.BANK_KINDS:
        return None
    return Terms(
        int(day), rule, int(fixed) if fixed is not None else None, method.kind, method.last4
    )


def _authorization(
    deps: ActionDeps, terms: Terms, account_last4: str, today: date
) -> tuple[str, date]:
    start = drafts.next_draft_date(terms.draft_day, today, deps.profile, terms.amount_rule)
    text = drafts.authorization_text(
        deps.profile,
        start_date=start,
        draft_day=terms.draft_day,
        amount_rule=terms.amount_rule,
        fixed_amount_cents=terms.fixed_amount_cents,
        account_last4=account_last4,
        method_kind=terms.method_kind,
        method_last4=terms.method_last4,
    )
    return text, start


AUTHORIZE_QUESTION = "Do you authorize this? Reply YES or NO."


class ActionAskDraftAuthorized(Action):
    """Shows the authorization wording exactly as it will be stored, and asks for YES."""

    def name(self) -> str:
        return "action_ask_draft_authorized"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]
        situation = await load_situation(deps, identity.account_id, identity.member_id)
        terms = await _terms_from_slots(deps, tracker, identity.member_id, situation)
        if terms is None:  # the chosen account vanished (removed elsewhere): ask for it again
            dispatcher.utter_message(text="I couldn't find that bank account any more.")
            return [SlotSet("draft_method_id", None), SlotSet("requested_slot", "draft_method_id")]
        today = deps.today()
        text, _start = _authorization(deps, terms, situation.account_last4, today)
        # No buttons: the wording asks for a typed YES, and by SMS numbered choices would push the
        # authorization past one 320-character text.
        dispatcher.utter_message(text=f"{text} {AUTHORIZE_QUESTION}")
        return [SlotSet("draft_shown_on", today.isoformat())]


class ActionAskDraftCancelConfirmed(Action):
    def name(self) -> str:
        return "action_ask_draft_cancel_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if _validator_spoke(tracker):
            return []
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]
        async with deps.sessions() as session:
            enrollment = await drafts.get_active(session, identity.account_id)
        if enrollment is None:
            dispatcher.utter_message(
                text="Your account isn't on bank draft, so there's nothing to cancel."
            )
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]
        dispatcher.utter_message(text=cancel_question(deps, enrollment))
        return []


def cancel_question(deps: ActionDeps, enrollment: DraftEnrollment) -> str:
    now = deps.now()
    first_skipped = drafts.cancellation_effective(enrollment, now, deps.profile)
    still = drafts.draft_still_happening(enrollment, now, deps.profile)
    skipped = spell_date(first_skipped, with_year=False)
    if still is None:
        return f"Cancel your bank draft? Your {skipped} draft and all later drafts will be stopped. Reply YES or NO."
    return (
        f"Cancel your bank draft? Your {spell_date(still, with_year=False)} draft was already sent to the bank "
        f"and will still happen. Drafts from {skipped} on will stop. Reply YES or NO."
    )


# ---------------------------------------------------------------------------------------------
# Submitting: enroll, change, cancel; the copy to the member
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyDestination:
    kind: str  # email|sms
    to: str
    masked: str


async def copy_destination(deps: ActionDeps, member_id: int) -> CopyDestination | None:
    """The email on file (primary and verified first), else the phone on file."""
    contacts = await deps.members.member_contacts(member_id)
    ranked = sorted(contacts, key=lambda c: (not c.is_primary, not c.is_verified))
    email = next((c for c in ranked if c.kind == "email"), None)
    if email is not None:
        return CopyDestination("email", email.value, mask_email(email.value))
    phone = next((c for c in ranked if c.kind == "phone"), None)
    if phone is not None:
        return CopyDestination("sms", phone.value, mask_phone(phone.value))
    return None


async def send_copy(
    deps: ActionDeps, destination: CopyDestination | None, subject: str, text: str
) -> bool:
    if destination is None:
        return False
    notifier = deps.notifier
    if destination.kind == "email":
        result = await notifier.send_email(destination.to, subject, text)
    else:
        short = f"{deps.profile.coop.short_name}: {text}"
        result = await notifier.send_sms(destination.to, short if len(short) <= 320 else text)
    return result.ok


async def _forget_copy(deps: ActionDeps, enrollment_id: int, action: str) -> None:
    """The copy could not be sent: the authorization record must not claim it was."""
    async with session_scope(deps.sessions) as session:
        newest = await session.scalar(
            select(DraftAuthorization.id)
            .where(
                DraftAuthorization.enrollment_id == enrollment_id,
                DraftAuthorization.action == action,
            )
            .order_by(DraftAuthorization.id.desc())
            .limit(1)
        )
        if newest is not None:
            await session.execute(
                update(DraftAuthorization)
                .where(DraftAuthorization.id == newest)
                .values(copy_sent_to=None)
            )


async def _deliver_copy(
    deps: ActionDeps,
    destination: CopyDestination | None,
    enrollment_id: int,
    action: str,
    subject: str,
    text: str,
) -> bool:
    """Send the member's copy; if it could not go, the record just written must not claim it did."""
    sent = await send_copy(deps, destination, subject, text)
    if not sent:
        await _forget_copy(deps, enrollment_id, action)
    return sent


def _copy_sentence(
    destination: CopyDestination | None, sent: bool, what: str, deps: ActionDeps
) -> str:
    if sent and destination is not None:
        return f"I've sent a copy of this {what} to {destination.masked}."
    return (
        f"I couldn't send you a copy of this {what} right now; member services at "
        f"{deps.profile.phones.member_services} can send you one."
    )


def _stale_terms(tracker: Tracker, today: date) -> bool:
    return tracker.get_slot("draft_shown_on") != today.isoformat()


STALE_TERMS = (
    "The day changed since I showed you those terms, so the first draft date may be different. "
    "Nothing was changed. Please ask again to see the new terms."
)


def _authorized_today(
    dispatcher: CollectingDispatcher, tracker: Tracker, deps: ActionDeps, declined: str
) -> tuple[Identity, date] | None:
    """Enroll and change both need a confirmed member, an explicit YES, and terms shown today.

    Returns (identity, today), or None after telling the member why nothing was stored.
    """
    identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
    if identity is None:
        return None
    if tracker.get_slot("draft_authorized") is not True:
        dispatcher.utter_message(text=declined)
        return None
    today = deps.today()
    if _stale_terms(tracker, today):
        dispatcher.utter_message(text=STALE_TERMS)
        return None
    return identity, today


class ActionDraftEnroll(Action):
    """After `draft_form`: YES stores the enrollment and its authorization; NO stores nothing."""

    def name(self) -> str:
        return "action_draft_enroll"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        gate = _authorized_today(
            dispatcher,
            tracker,
            deps,
            "OK, I didn't set up bank draft. Nothing was stored. Anything else?",
        )
        if gate is None:
            return reset_events()
        identity, today = gate
        situation = await load_situation(deps, identity.account_id, identity.member_id)
        if situation.enrollment is not None:
            dispatcher.utter_message(
                text=describe_enrollment(situation, today) + " Nothing new was set up."
            )
            return reset_events()
        terms = await _terms_from_slots(deps, tracker, identity.member_id, situation)
        if terms is None:
            dispatcher.utter_message(
                text="I couldn't find that bank account any more. Nothing was set up."
            )
            return reset_events()
        method_id = int(tracker.get_slot("draft_method_id"))
        destination = await copy_destination(deps, identity.member_id)
        text, _ = _authorization(deps, terms, situation.account_last4, today)
        try:
            async with session_scope(deps.sessions) as session:
                enrollment = await drafts.enroll(
                    session,
                    account_id=identity.account_id,
                    payment_method_id=method_id,
                    draft_day=terms.draft_day,
                    amount_rule=terms.amount_rule,
                    fixed_amount_cents=terms.fixed_amount_cents,
                    today=today,
                    now=deps.now(),
                    channel=channel_of(tracker),
                    verified_how=_verified_how(identity, tracker),
                    conversation_id=tracker.sender_id,
                    profile=deps.profile,
                    copy_sent_to=destination.masked if destination else None,
                )
                enrollment_id, starts_on = enrollment.id, enrollment.starts_on
        except drafts.DraftError as error:
            dispatcher.utter_message(text=f"{error} Nothing was set up.")
            return reset_events()
        sent = await _deliver_copy(
            deps,
            destination,
            enrollment_id,
            "enroll",
            f"{deps.profile.coop.name}: your bank draft authorization",
            text,
        )
        dispatcher.utter_message(
            text=f"You're enrolled. First draft: {spell_date(starts_on, with_year=False)}. "
            + _copy_sentence(destination, sent, "authorization", deps)
        )
        return reset_events()


def _verified_how(identity: Any, tracker: Tracker) -> str:
    return str(
        getattr(identity, "verified_how", None) or tracker.get_slot("verified_how") or "unknown"
    )[:60]


class ActionDraftChange(Action):
    """After `draft_change_form`: YES records the new terms (a new authorization); NO changes nothing."""

    def name(self) -> str:
        return "action_draft_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        gate = _authorized_today(
            dispatcher,
            tracker,
            deps,
            "OK, your bank draft stays as it was. Nothing was changed. Anything else?",
        )
        if gate is None:
            return reset_events()
        identity, today = gate
        now = deps.now()
        situation = await load_situation(deps, identity.account_id, identity.member_id)
        if situation.enrollment is None:
            dispatcher.utter_message(
                text="Your account isn't on bank draft any more, so nothing was changed.",
                buttons=set_it_up_button(),
            )
            return reset_events()
        terms = await _terms_from_slots(deps, tracker, identity.member_id, situation)
        if terms is None:
            dispatcher.utter_message(
                text="I couldn't find that bank account any more. Nothing was changed."
            )
            return reset_events()
        still = drafts.draft_still_happening(situation.enrollment, now, deps.profile)
        text, _ = _authorization(deps, terms, situation.account_last4, today)
        destination = await copy_destination(deps, identity.member_id)
        what = tracker.get_slot("draft_change_what")
        try:
            async with session_scope(deps.sessions) as session:
                enrollment = await drafts.change(
                    session,
                    account_id=identity.account_id,
                    today=today,
                    now=now,
                    channel=channel_of(tracker),
                    verified_how=_verified_how(identity, tracker),
                    conversation_id=tracker.sender_id,
                    profile=deps.profile,
                    draft_day=terms.draft_day if what == "day" else None,
                    payment_method_id=tracker.get_slot("draft_method_id")
                    if what == "account"
                    else None,
                    amount_rule=terms.amount_rule if what == "amount" else None,
                    fixed_amount_cents=terms.fixed_amount_cents if what == "amount" else None,
                    copy_sent_to=destination.masked if destination else None,
                )
                enrollment_id, starts_on = enrollment.id, enrollment.starts_on
        except drafts.DraftError as error:
            dispatcher.utter_message(text=f"{error} Nothing was changed.")
            return reset_events()
        sent = await _deliver_copy(
            deps,
            destination,
            enrollment_id,
            "change",
            f"{deps.profile.coop.name}: your new bank draft authorization",
            text,
        )
        message = f"Done. Your new draft terms take effect with the draft on {spell_date(starts_on, with_year=False)}."
        if still is not None:
            message += (
                f" Your {spell_date(still, with_year=False)} draft was already sent to the bank and "
                "still happens as before."
            )
        dispatcher.utter_message(text=message)
        dispatcher.utter_message(text=_copy_sentence(destination, sent, "authorization", deps))
        return reset_events()


class ActionDraftCancel(Action):
    """After `draft_cancel_form`: YES cancels and says which draft, if any, still happens."""

    def name(self) -> str:
        return "action_draft_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return reset_events()
        if tracker.get_slot("draft_cancel_confirmed") is not True:
            dispatcher.utter_message(
                text="OK, your bank draft stays as it is. Nothing was changed. Anything else?"
            )
            return reset_events()
        now = deps.now()
        destination = await copy_destination(deps, identity.member_id)
        try:
            async with session_scope(deps.sessions) as session:
                result = await drafts.cancel(
                    session,
                    account_id=identity.account_id,
                    now=now,
                    channel=channel_of(tracker),
                    verified_how=_verified_how(identity, tracker),
                    conversation_id=tracker.sender_id,
                    profile=deps.profile,
                    copy_sent_to=destination.masked if destination else None,
                )
                enrollment_id = result.enrollment.id
        except drafts.DraftError as error:
            dispatcher.utter_message(text=str(error), buttons=set_it_up_button())
            return reset_events()
        text = drafts.cancellation_text(
            deps.profile,
            cancelled_on=deps.today(),
            first_skipped=result.first_skipped,
            still_happening=result.still_happening,
        )
        sent = await _deliver_copy(
            deps,
            destination,
            enrollment_id,
            "cancel",
            f"{deps.profile.coop.name}: your bank draft is cancelled",
            text,
        )
        dispatcher.utter_message(text=text)
        dispatcher.utter_message(
            text=_copy_sentence(destination, sent, "cancellation", deps) + " Anything else?"
        )
        return reset_events()


class ActionDraftStop(Action):
    """ "Never mind" inside a draft form: leave it, change nothing."""

    def name(self) -> str:
        return "action_draft_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="OK, nothing was changed. Anything else?")
        return reset_events()
