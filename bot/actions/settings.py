"""Settings: paperless, alerts, and the phone/email on file.

Thin: the rules live in bot/services/settings.py. After the confirmed-tier gate,
`action_settings_start` turns paperless on/off at once, or reads the member's first words
("text me when my power's out", "change my cell to 706-555-0199") to prefill a form and sets
`settings_next`. Validators are safe to run twice in one turn (Rasa validates during extraction
and again in the form): a clean value passes silently, and a code is sent only for raw text.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, JourneyAction, reask, require_tier, scrub_card_numbers
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.tracker import channel_of
from bot.core.masking import CARD_NOT_KEPT_MESSAGE
from bot.services.identity import Tier
from bot.services.otp import OtpService
from bot.services.settings import (
    CHANNEL_LABELS,
    TOPIC_LABELS,
    AccountSettings,
    Actor,
    ContactStatus,
)

FORM_SLOTS = (
    "notify_topic",
    "notify_channel",
    "notify_enabled",
    "contact_kind_choice",
    "new_contact",
    "contact_code",
    "contact_summary",
    "settings_failures",
)

_OFF_WORDS = re.compile(
    r"\b(stop|quit|off|dont|don't|do not|no more|not|unsubscribe|too many|cancel|fewer)\b"
)
_ON_WORDS = re.compile(r"\b(on|yes|yeah|yep|start|turn on|sign me up|send|want|please)\b")


def settings_service(deps: ActionDeps) -> AccountSettings:
    otp = OtpService(
        deps.sessions, deps.rules.otp, deps.notifier, secret_key=deps.settings.secret_key
    )
    return AccountSettings(deps.sessions, otp, members=deps.members)


def actor_for(tracker: Tracker, identity: Any) -> Actor:
    return Actor(
        member_id=identity.member_id,
        account_id=identity.account_id,
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        verified_how=identity.verified_how,
    )


# ---------------------------------------------------------------- reading what members type


def topic_of(text: str | None) -> str | None:
    t = (text or "").lower()
    if re.search(r"outage|power|lights|restor|back on|\bout\b", t):
        return "outage"
    if re.search(r"payment|paid|goes through|received|receive", t):
        return "payment_received"
    if re.search(r"past due|late|behind|overdue|\bdue\b|reminder", t):
        return "past_due"
    if re.search(r"bill|statement|ready", t):
        return "bill_ready"
    return None


def channel_word(text: str | None) -> str | None:
    """sms or email, whichever the member named first."""
    t = (text or "").lower()
    sms = re.search(r"\b(text\w*|sms|txt|cell|phone)\b", t)
    email = re.search(r"\be-?mail\w*\b", t)
    if sms and email:
        return "sms" if sms.start() < email.start() else "email"
    return "sms" if sms else "email" if email else None


def enabled_of(text: str | None) -> bool | None:
    t = (text or "").lower()
    if _OFF_WORDS.search(t):
        return False
    if _ON_WORDS.search(t) or re.search(r"\b(text|email|notify|alert|let me know|tell me)\b", t):
        return True
    return None


def contact_kind_of(text: str | None) -> str | None:
    t = (text or "").lower()
    if re.search(r"e-?mail|@", t):
        return "email"
    if re.search(r"phone|number|cell|\bnum\b|\d{3}\D{0,2}\d{3}\D?\d{4}", t):
        return "phone"
    return None


def contact_value_in(text: str | None, kind: str | None) -> str | None:
    """A phone or email typed in the first message ("change my cell to 706-555-0199")."""
    t = text or ""
    if kind == "email":
        found = re.search(r"[\w.%+\-]+@[\w\-]+(\.[\w\-]+)+", t)
        return found.group() if found else None
    if kind == "phone":
        for match in phonenumbers.PhoneNumberMatcher(t, "US"):
            return match.raw_string
    return None


async def _fail(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, text: str
) -> dict[str, Any]:
    """Re-ask a settings form slot; from the second miss in a row, also offer a person."""
    deps = await get_deps()
    return reask(
        dispatcher,
        tracker,
        slot=slot,
        counter="settings_failures",
        message=text,
        member_services_phone=deps.profile.phones.member_services,
    )


# ---------------------------------------------------------------- start


class ActionSettingsStart(JourneyAction):
    """After the gate: paperless at once; alerts and contact changes go on to their forms."""

    action_name = "action_settings_start"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        done = [SlotSet("settings_next", "done")]
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return done
        clear = [SlotSet(slot, None) for slot in FORM_SLOTS]
        what = tracker.get_slot("settings_action")
        service = settings_service(deps)
        actor = actor_for(tracker, identity)
        last4 = identity.account_last4 or ""
        if what in ("paperless_on", "paperless_off"):
            on = what == "paperless_on"
            result = await service.set_paperless(actor, on, now=deps.now())
            if on and result.changed:
                text = (
                    f"Done. Paperless billing is on for account ending {last4}. "
                    "We'll email you when each bill is ready instead of mailing it."
                )
            elif on:
                text = (
                    f"Paperless billing is already on for account ending {last4}. Nothing changed."
                )
            elif result.changed:
                text = (
                    f"Done. Paperless billing is off for account ending {last4}. "
                    "Your bills will come in the mail again, starting with the next one."
                )
            else:
                text = (
                    f"Account ending {last4} already gets paper bills in the mail. Nothing changed."
                )
            dispatcher.utter_message(text=text)
            return [*clear, *done]
        said = tracker.get_slot("settings_text")
        if what == "notifications":
            topic, channel, enabled = topic_of(said), channel_word(said), None
            if topic or channel:
                enabled = enabled_of(said)
            if topic is None:
                prefs = await service.preferences(identity.account_id)
                on = [
                    f"{TOPIC_LABELS[t]} by {CHANNEL_LABELS[c]}"
                    for (t, c), v in sorted(prefs.items())
                    if v
                ]
                listing = "; ".join(on) if on else "no alerts"
                dispatcher.utter_message(text=f"Right now account ending {last4} gets {listing}.")
            return [
                *clear,
                SlotSet("notify_topic", topic),
                SlotSet("notify_channel", channel),
                SlotSet("notify_enabled", enabled),
                SlotSet("settings_next", "notifications"),
            ]
        if what == "contact":
            kind = contact_kind_of(said)
            events: list[dict[str, Any]] = [
                *clear,
                SlotSet("contact_kind_choice", kind),
                SlotSet("settings_next", "contact"),
            ]
            value = contact_value_in(said, kind)
            if kind and value:
                started = await service.start_contact_change(actor, kind, value, now=deps.now())
                if started.status is ContactStatus.CODE_SENT:
                    dispatcher.utter_message(
                        text=_code_sent_text(kind, started.masked_new, started.masked_old)
                    )
                    events.append(
                        SlotSet(
                            "new_contact",
                            {
                                "kind": kind,
                                "value": started.new_value,
                                "masked": started.masked_new,
                            },
                        )
                    )
            return events
        dispatcher.utter_message(
            text="I can turn paperless billing on or off, change your alerts, "
            "or update your phone or email. Which would you like?"
        )
        return done


def _code_sent_text(kind: str, masked_new: str | None, masked_old: str | None) -> str:
    what = "number" if kind == "phone" else "email"
    was = f" (now {masked_old})" if masked_old else ""
    return (
        f"I sent a 6-digit code to your new {what} {masked_new}. Nothing changes{was} "
        "until you reply with it here."
    )


# ---------------------------------------------------------------- alerts form


class ValidateNotificationForm(FormValidationAction):
    def name(self) -> str:
        return "validate_notification_form"

    async def validate_notify_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in TOPIC_LABELS:
            return {"notify_topic": value}
        topic = topic_of(str(value or ""))
        if topic is None:
            return await _fail(
                dispatcher,
                tracker,
                "notify_topic",
                "I can send alerts for outages, bill ready, payment received or past due. Which "
                "one?",
            )
        return {"notify_topic": topic}

    async def validate_notify_channel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in CHANNEL_LABELS:
            return {"notify_channel": value}
        if value == "phone":  # the contact_kind entity's normalised value
            return {"notify_channel": "sms"}
        channel = channel_word(str(value or ""))
        if channel is None:
            return await _fail(dispatcher, tracker, "notify_channel", "Please say text or email.")
        return {"notify_channel": channel}

    async def validate_notify_enabled(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"notify_enabled": value}
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        enabled = (
            {"affirm": True, "deny": False}.get(intent) if intent in ("affirm", "deny") else None
        )
        if enabled is None:
            enabled = enabled_of(str(value or ""))
        if enabled is None:
            return await _fail(dispatcher, tracker, "notify_enabled", "Please say on or off.")
        return {"notify_enabled": enabled}


class ActionNotificationSave(JourneyAction):
    action_name = "action_notification_save"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        clear = [SlotSet(slot, None) for slot in FORM_SLOTS]
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return clear
        topic, channel = tracker.get_slot("notify_topic"), tracker.get_slot("notify_channel")
        enabled = tracker.get_slot("notify_enabled")
        if (
            topic not in TOPIC_LABELS
            or channel not in CHANNEL_LABELS
            or not isinstance(enabled, bool)
        ):
            dispatcher.utter_message(
                text="Sorry, I lost track of that. Nothing was changed. Please ask again."
            )
            return clear
        result = await settings_service(deps).set_preference(
            actor_for(tracker, identity), topic, channel, enabled, now=deps.now()
        )
        label = f"{TOPIC_LABELS[topic].capitalize()} by {CHANNEL_LABELS[channel]}"
        state = "on" if enabled else "off"
        if result.changed:
            dispatcher.utter_message(
                text=f"Done. {label} are now {state} for account ending {identity.account_last4}."
            )
        else:
            dispatcher.utter_message(text=f"{label} were already {state}. Nothing changed.")
        return clear


# ---------------------------------------------------------------- contact form


class ValidateContactForm(FormValidationAction):
    def name(self) -> str:
        return "validate_contact_form"

    async def validate_contact_kind_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in ("phone", "email"):
            return {"contact_kind_choice": value}
        kind = contact_kind_of(str(value or ""))
        if kind is None:
            return await _fail(
                dispatcher, tracker, "contact_kind_choice", "Please say phone or email."
            )
        return {"contact_kind_choice": kind}

    async def validate_new_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, dict):  # a code already went to it this turn
            return {"new_contact": value}
        scrub = scrub_card_numbers(value)
        if scrub.found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"new_contact": None}
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return {
                "new_contact": {"kind": None, "value": None, "masked": None},
                "contact_code": "failed",
            }
        kind = tracker.get_slot("contact_kind_choice") or "phone"
        started = await settings_service(deps).start_contact_change(
            actor_for(tracker, identity), kind, str(value or ""), now=deps.now()
        )
        if started.status is ContactStatus.CODE_SENT:
            dispatcher.utter_message(
                text=_code_sent_text(kind, started.masked_new, started.masked_old)
            )
            return {
                "new_contact": {
                    "kind": kind,
                    "value": started.new_value,
                    "masked": started.masked_new,
                },
                "settings_failures": 0,
            }
        if started.status is ContactStatus.INVALID:
            return await _fail(
                dispatcher, tracker, "new_contact", started.error or "Please try again."
            )
        if started.status is ContactStatus.SAME_AS_CURRENT:
            return await _fail(
                dispatcher,
                tracker,
                "new_contact",
                f"That's already the {'email' if kind == 'email' else 'number'} on file "
                f"({started.masked_old}). Send a different one, or say never mind.",
            )
        if started.status is ContactStatus.RATE_LIMITED:
            return {
                "new_contact": {"kind": kind, "value": None, "masked": None},
                "contact_code": "failed",
                "contact_summary": "I've sent several codes in the last few minutes, so I stopped. "
                "Nothing was changed. Please try again in 10 minutes.",
            }
        return await _fail(
            dispatcher,
            tracker,
            "new_contact",
            f"I couldn't send a code to {started.masked_new}. Please check it and send it again.",
        )

    async def validate_contact_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in ("updated", "failed"):
            return {"contact_code": value}
        deps = await get_deps()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        pending = tracker.get_slot("new_contact")
        if identity is None or not isinstance(pending, dict) or not pending.get("value"):
            return {"contact_code": "failed", "contact_summary": "Nothing was changed."}
        service = settings_service(deps)
        actor = actor_for(tracker, identity)
        kind = pending.get("kind", "phone")
        result = await service.confirm_contact_change(
            actor, kind, pending["value"], str(value or ""), now=deps.now()
        )
        what = "phone number" if kind == "phone" else "email"
        if result.status is ContactStatus.UPDATED:
            was = f", replacing {result.masked_old}" if result.masked_old else ""
            return {
                "contact_code": "updated",
                "contact_summary": f"Done. Your {what} on file is now {result.masked_new}{was}. "
                "Nothing else changed.",
            }
        if result.status is ContactStatus.WRONG_CODE:
            return await _fail(
                dispatcher,
                tracker,
                "contact_code",
                f"That code doesn't match. You have {result.attempts_left} tries left.",
            )
        if result.status is ContactStatus.MALFORMED_CODE:
            return await _fail(
                dispatcher,
                tracker,
                "contact_code",
                f"Please reply with the 6-digit code I sent to {pending.get('masked')}.",
            )
        if result.status is ContactStatus.EXPIRED:
            again = await service.start_contact_change(
                actor, kind, pending["value"], now=deps.now()
            )
            if again.status is ContactStatus.CODE_SENT:
                dispatcher.utter_message(
                    text=f"That code expired. I sent a new one to {again.masked_new}."
                )
                return {"contact_code": None}
        phone = deps.profile.phones.member_services
        return {
            "contact_code": "failed",
            "contact_summary": f"I couldn't confirm the new {what}, so nothing was changed. "
            f"You can ask again later or call {phone}.",
        }


class ActionAskNewContact(Action):
    def name(self) -> str:
        return "action_ask_new_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("contact_kind_choice") == "email":
            dispatcher.utter_message(text="What's the new email address?")
        else:
            dispatcher.utter_message(
                text="What's the new phone number? Include the area code, like 706-555-0147."
            )
        return []


class ActionAskContactCode(JourneyAction):
    action_name = "action_ask_contact_code"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        pending = tracker.get_slot("new_contact")
        where = pending.get("masked") if isinstance(pending, dict) else "your new contact"
        minutes = int(deps.profile.verification.otp_ttl_minutes)
        dispatcher.utter_message(
            text=f"Reply with the code sent to {where}. It expires in {minutes} min."
        )
        return []


class ActionContactDone(Action):
    def name(self) -> str:
        return "action_contact_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        summary = tracker.get_slot("contact_summary") or "Nothing was changed."
        dispatcher.utter_message(text=summary)
        return [SlotSet(slot, None) for slot in FORM_SLOTS]
