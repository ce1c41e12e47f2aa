"""Small helpers every journey's actions share: who the member is, which channel, money typed in
chat, card numbers that must not be kept, buttons.

Why here and not in each journey: the identity gate is only as strong as its weakest re-check, so
there is ONE `current_identity()` (with the 15-idle-minute rule) and ONE `require_tier()` that
every action calls first (docs/conversation-design.md, "Defence in depth").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.deps import get_deps
from bot.actions.tracker import idle_gap
from bot.core.masking import find_bank_numbers, find_card_numbers
from bot.services.identity import Tier, VerificationRules, tier_still_valid
from bot.services.payment_links import create_link

if TYPE_CHECKING:
    from bot.actions.deps import ActionDeps
    from bot.services.members import AccountRecord

# rasa-sdk's dispatcher, by a name short enough for one-line signatures.
Dispatcher = CollectingDispatcher

# Slots that make up the identity; cleared together on log out and when the gate fails.
IDENTITY_SLOTS = (
    "tier",
    "member_id",
    "account_id",
    "account_last4",
    "member_first_name",
    "verified_how",
    "verified_at",
)


# ---------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    """The member's identity as the slots tell it, already checked for idle expiry."""

    tier: Tier
    member_id: int
    account_id: int | None
    account_last4: str | None
    first_name: str
    verified_how: str | None
    verified_at: datetime

    def at_least(self, needed: Tier) -> bool:
        return self.tier >= needed


def _parse_time(raw: Any) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def current_identity(
    tracker: Tracker, *, now: datetime, rules: VerificationRules | None = None
) -> Identity | None:
    """The verified identity in the slots, or None: public, incomplete, or idle 15 minutes.

    Rasa's session_config already resets slots after 15 idle minutes; this is the second lock on
    the same door (a long-lived SMS thread, a missed session start, a replayed tracker).
    """
    rules = rules or VerificationRules()
    raw_tier = tracker.get_slot("tier")
    try:
        tier = Tier(raw_tier) if raw_tier else Tier.PUBLIC
    except ValueError:
        return None
    if tier is Tier.PUBLIC:
        return None
    member_id = tracker.get_slot("member_id")
    verified_at = _parse_time(tracker.get_slot("verified_at"))
    if member_id in (None, "") or verified_at is None:
        return None
    gap = idle_gap(tracker)
    if gap is not None:
        if gap >= rules.session_idle:
            return None
    elif not tier_still_valid(verified_at, None, now, rules):
        return None
    account_id = tracker.get_slot("account_id")
    return Identity(
        tier=tier,
        member_id=int(member_id),
        account_id=int(account_id) if account_id not in (None, "") else None,
        account_last4=tracker.get_slot("account_last4"),
        first_name=tracker.get_slot("member_first_name") or "",
        verified_how=tracker.get_slot("verified_how"),
        verified_at=verified_at,
    )


def verified_account_id(tracker: Tracker, deps: ActionDeps) -> int | None:
    """The account the member verified for in this session, or None (public tier, or idle too long).

    Uses the identity journey's `current_identity` (tier slots plus the 15-idle-minute rule), so a
    stale verification never unlocks account data.
    """
    identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
    if identity is None or not identity.at_least(Tier.VERIFIED):
        return None
    return identity.account_id


def not_verified_message(needed: Tier) -> str:
    if needed is Tier.CONFIRMED:
        return (
            "I need to confirm it's you before I can do that. "
            "Just ask again and I'll send you a code."
        )
    return (
        "I need to verify your account before I can share that. "
        "Just ask again and I'll walk you through it."
    )


def require_tier(
    dispatcher: CollectingDispatcher, tracker: Tracker, needed: Tier, deps: ActionDeps
) -> Identity | None:
    """First line of every account action: the identity if it reaches `needed`, else None.

    When the identity falls short the member is told plainly what to do; the action returns [].
    An identity without a chosen account (several accounts, none picked) also falls short.
    """
    identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
    if identity is None or not identity.at_least(needed) or identity.account_id is None:
        dispatcher.utter_message(text=not_verified_message(needed))
        return None
    return identity


async def own_account(
    dispatcher: CollectingDispatcher, tracker: Tracker, deps: ActionDeps
) -> AccountRecord | None:
    """The verified member's chosen account, read fresh and only if it is still theirs; else None
    (the member was told why: not verified, or the account cannot be found)."""
    identity = require_tier(dispatcher, tracker, Tier.VERIFIED, deps)
    if identity is None or identity.account_id is None:
        return None
    account = await deps.members.account(identity.account_id)
    if account is None or account.member_id != identity.member_id:
        dispatcher.utter_message(
            text=(
                "I can't find that account right now. Please call member services at "
                f"{deps.profile.phones.member_services}."
            )
        )
        return None
    return account


async def secure_link(
    deps: ActionDeps, tracker: Tracker, identity: Identity, purpose: str = "add_method"
) -> str:
    """A single-use secure-page link for the member's chosen account (`purpose`: add_method for
    a card or bank account, add_bank for a draft's bank account): numbers never go in the chat."""
    if identity.account_id is None:
        raise ValueError("no account chosen: require_tier or the form checks it first")
    link = await create_link(
        deps.sessions,
        secret_key=deps.settings.secret_key,
        public_base_url=deps.settings.public_base_url,
        member_id=identity.member_id,
        account_id=identity.account_id,
        conversation_id=tracker.sender_id,
        now=deps.now(),
        purpose=purpose,
    )
    return link.url


def cleared_identity_events() -> list[dict[str, Any]]:
    """SlotSet events that forget who the member is (log out, failed gate)."""
    from rasa_sdk.events import SlotSet

    return [SlotSet(name, "public" if name == "tier" else None) for name in IDENTITY_SLOTS]


# ---------------------------------------------------------------- card numbers in slot values


@dataclass(frozen=True)
class ScrubResult:
    """`clean` is the value safe to keep (None if it held a card/bank number); `found` says so."""

    clean: Any
    found: bool


def scrub_card_numbers(value: Any) -> ScrubResult:
    """Never keep a card or bank number in a slot: a value containing one is dropped whole.

    Dropped rather than masked: a masked fragment is useless as an answer, and a re-ask is clearer.
    """
    if value is None:
        return ScrubResult(None, False)
    if isinstance(value, (list, tuple)):
        results = [scrub_card_numbers(v) for v in value]
        if any(r.found for r in results):
            return ScrubResult(None, True)
        return ScrubResult(value, False)
    text = str(value)
    if find_card_numbers(text) or find_bank_numbers(text):
        return ScrubResult(None, True)
    return ScrubResult(value, False)


# ---------------------------------------------------------------- buttons


def intent_button(
    title: str, intent: str, entities: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """A button whose payload triggers `intent` directly ("/pay_bill", '/inform{"amount":...}')."""
    import json

    payload = f"/{intent}"
    if entities:
        payload += json.dumps(dict(entities), separators=(",", ":"))
    return {"title": title, "payload": payload}


def buttons_or_choices(options: Iterable[tuple[str, str] | dict[str, str]]) -> list[dict[str, str]]:
    """Buttons from (title, payload) pairs; titles kept short and plain so the SMS gateway can
    number them ("Reply 1 for Pay now")."""
    buttons: list[dict[str, str]] = []
    for option in options:
        if isinstance(option, Mapping):
            title, payload = str(option["title"]), str(option["payload"])
        else:
            title, payload = option
        buttons.append({"title": title.strip()[:60], "payload": payload})
    return buttons


def utter_all(
    dispatcher: CollectingDispatcher, texts: list[str], buttons: list[dict[str, str]]
) -> None:
    """Send the messages in order, with the buttons on the last one (the member's next steps)."""
    for text in texts[:-1]:
        dispatcher.utter_message(text=text)
    dispatcher.utter_message(text=texts[-1], buttons=buttons)


def offer_person(member_services_phone: str) -> str:
    """The one sentence every form uses to offer a person after repeated misses."""
    return f"If you'd rather talk with a person, say agent or call {member_services_phone}."


def reask(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    slot: str,
    counter: str,
    message: str,
    member_services_phone: str,
    buttons: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Re-ask `slot` with `message`; from the second miss in a row (counted in the `counter`
    slot) also offer a person. Returns the slot events for a FormValidationAction."""
    failures = int(tracker.get_slot(counter) or 0) + 1
    if failures >= 2:
        message = f"{message} {offer_person(member_services_phone)}"
    dispatcher.utter_message(text=message, buttons=buttons or [])
    return {slot: None, counter: failures}


class JourneyForm(FormValidationAction):
    """A form's validator: named by `action_name`, its slot list from `slots_for`, a missed
    answer re-asked by `miss`.

    rasa-sdk's `required_slots` takes four arguments no journey uses; this base keeps that
    signature in one place. Abstract (no `slots_for`), so rasa-sdk never registers it.
    """

    action_name: ClassVar[str]
    failures_slot: ClassVar[str] = ""  # the slot that counts misses in a row, for `miss`

    def name(self) -> str:
        return self.action_name

    def miss(
        self,
        dispatcher: Dispatcher,
        tracker: Tracker,
        deps: ActionDeps,
        slot: str,
        message: str,
        buttons: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Re-ask `slot` with `message` (`reask`, counting in `failures_slot`)."""
        return reask(
            dispatcher,
            tracker,
            slot=slot,
            counter=self.failures_slot,
            message=message,
            member_services_phone=deps.profile.phones.member_services,
            buttons=buttons,
        )

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return await self.slots_for(tracker, domain_slots)

    @abstractmethod
    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        """The slots still to ask, in order (`domain_slots` is the form's list in the domain)."""


class JourneyAction(Action, ABC):
    """An action named by `action_name` whose work, `act`, gets the process's deps.

    rasa-sdk calls `run(dispatcher, tracker, domain)`; no journey reads the domain, and all
    need the deps, so this base fetches them once. Abstract, so rasa-sdk never registers it.
    """

    action_name: ClassVar[str]

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        return await self.act(dispatcher, tracker, await get_deps())

    @abstractmethod
    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        """Do the action's work; returns the events to apply."""


class AccountAction(JourneyAction):
    """An answer about the verified member's own account.

    `act` re-checks the tier and reads the account fresh (`own_account`, which tells the member
    why when it cannot), then calls `answer`. Abstract, so rasa-sdk never registers it.
    """

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        account = await own_account(dispatcher, tracker, deps)
        if account is None:
            return []
        return await self.answer(dispatcher, tracker, deps, account)

    @abstractmethod
    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        """Answer the member about `account` (already checked to be theirs)."""


# Button titles for the intents worth offering as a guess (the unsure-message choice and the second
# miss).
GUESS_TITLES: dict[str, str] = {
    "check_balance": "Check my balance",
    "pay_bill": "Pay my bill",
    "report_outage": "Report an outage",
    "outage_status": "Outage status",
    "setup_draft": "Set up bank draft",
    "view_draft": "See my bank draft",
    "change_draft": "Change my bank draft",
    "cancel_draft": "Cancel my bank draft",
    "bill_history": "My past bills",
    "bill_pdf": "A copy of my bill",
    "payment_history": "My past payments",
    "usage_question": "My usage",
    "paperless_on": "Paperless billing",
    "paperless_off": "Paper bills",
    "notification_preferences": "Alerts",
    "change_contact": "Change phone or email",
    "start_service": "Start service",
    "stop_service": "Stop service",
    "transfer_service": "Move my service",
    "ask_office_hours": "Office hours",
    "ask_office_locations": "Office locations",
    "ask_phone_numbers": "Phone numbers",
    "ask_ways_to_pay": "Ways to pay",
    "ask_due_date": "Due dates",
    "ask_late_fee": "Late fees",
    "ask_reconnect_fee": "Reconnect fees",
    "ask_extreme_weather": "Extreme weather policy",
    "ask_levelized_billing": "Levelized billing",
    "ask_register_online": "Register online",
    "request_callback": "Request a callback",
}
