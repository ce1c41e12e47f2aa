"""Account settings actions on the demo database: paperless (Dana is paperless, Earl is not),
alerts prefilled from the first message, and a phone change confirmed by a code sent to the NEW
number, with the exact wording a member reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions.settings import (
    ActionContactDone,
    ActionNotificationSave,
    ActionSettingsStart,
    ValidateContactForm,
    ValidateNotificationForm,
    channel_word,
    enabled_of,
    topic_of,
)
from bot.core.gsm7 import is_gsm7
from bot.store.models import Account, AuditEntry, Contact, NotificationPreference, OutboxMessage
from tests.actions.demo_db import confirmed, demo_deps, merged_domain
from tests.actions.identity_helpers import make_tracker, run


def domain() -> dict[str, Any]:
    return merged_domain("identity", "settings")


@pytest.fixture
def demo(sqlite_url, make_deps):
    return demo_deps(sqlite_url, make_deps)


async def start(
    slots: dict[str, Any], action: str, text: str = ""
) -> tuple[list[str], dict[str, Any]]:
    tracker = make_tracker(
        text="123456",
        intent="inform",
        slots={**slots, "settings_action": action, "settings_text": text},
    )
    texts, _, set_slots = await run(ActionSettingsStart(), tracker, domain())
    return texts, set_slots


async def answer(
    form: Any, slots: dict[str, Any], slot: str, text: str, loop: str, **tracker: Any
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """What the form's validation does with `text`, typed as the answer to `slot` in `loop`."""
    return await run(
        form,
        make_tracker(text=text, slots=slots, new_slots={slot: text}, active_loop=loop, **tracker),
        domain(),
    )


async def test_earl_goes_paperless(demo, session_factory):
    slots = await confirmed(session_factory, "1000007315", "Earl")
    texts, set_slots = await start(slots, "paperless_on", "go paperless")
    assert texts == [
        (
            "Done. Paperless billing is on for account ending 7315. "
            "We'll email you when each bill is ready instead of mailing it."
        )
    ]
    assert set_slots["settings_next"] == "done"
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == "1000007315"))
        ).one()
        assert account.paperless is True
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "settings.paperless")
            )
        ).one()
        assert entry.details == {"paperless": True} and entry.account_id == account.id


async def test_dana_is_already_paperless_and_can_go_back_to_paper(demo, session_factory):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    texts, _ = await start(slots, "paperless_on")
    assert texts == ["Paperless billing is already on for account ending 4821. Nothing changed."]
    texts, _ = await start(slots, "paperless_off", "stop paperless")
    assert texts == [
        (
            "Done. Paperless billing is off for account ending 4821. "
            "Your bills will come in the mail again, starting with the next one."
        )
    ]


async def test_settings_refuse_a_member_who_is_only_verified(demo, session_factory):
    slots = {**await confirmed(session_factory, "1000007315", "Earl"), "tier": "verified"}
    texts, set_slots = await start(slots, "paperless_on")
    assert texts == [
        "I need to confirm it's you before I can do that. Just ask again and I'll send you a code."
    ]
    assert set_slots == {"settings_next": "done"}
    async with session_factory() as session:
        account = (
            await session.scalars(select(Account).where(Account.account_number == "1000007315"))
        ).one()
        assert account.paperless is False


@pytest.mark.parametrize(
    "text, expected",
    [
        ("text me when my power's out", ("outage", "sms", True)),
        ("stop the bill ready emails", ("bill_ready", "email", False)),
        ("send me a text when the payment goes through", ("payment_received", "sms", True)),
        ("notify me when im past due", ("past_due", None, True)),
        ("notifications", (None, None, None)),
    ],
)
def test_first_words_prefill_topic_channel_and_direction(text, expected):
    topic, channel = topic_of(text), channel_word(text)
    assert (topic, channel, enabled_of(text) if (topic or channel) else None) == expected


async def test_text_me_when_my_power_is_out_is_saved_with_one_question_less(demo, session_factory):
    slots = await confirmed(session_factory, "1000007315", "Earl")
    texts, set_slots = await start(slots, "notifications", "text me when my power's out")
    assert texts == []
    assert (
        set_slots["notify_topic"],
        set_slots["notify_channel"],
        set_slots["notify_enabled"],
    ) == ("outage", "sms", True)
    assert set_slots["settings_next"] == "notifications"
    tracker = make_tracker(
        text="",
        slots={**slots, "notify_topic": "outage", "notify_channel": "sms", "notify_enabled": True},
    )
    texts, _, _ = await run(ActionNotificationSave(), tracker, domain())
    async with session_factory() as session:
        account_id = slots["account_id"]
        pref = (
            await session.scalars(
                select(NotificationPreference).where(
                    NotificationPreference.account_id == account_id,
                    NotificationPreference.topic == "outage",
                    NotificationPreference.channel == "sms",
                )
            )
        ).one()
        assert pref.enabled is True
    assert texts in (
        ["Done. Outage alerts by text are now on for account ending 7315."],
        ["Outage alerts by text were already on. Nothing changed."],
    )


async def test_stop_the_bill_ready_emails(demo, session_factory):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    tracker = make_tracker(
        text="",
        slots={
            **slots,
            "notify_topic": "bill_ready",
            "notify_channel": "email",
            "notify_enabled": False,
        },
    )
    texts, _, cleared = await run(ActionNotificationSave(), tracker, domain())
    assert texts in (
        ["Done. Bill-ready notices by email are now off for account ending 4821."],
        ["Bill-ready notices by email were already off. Nothing changed."],
    )
    assert cleared["notify_topic"] is None


async def test_a_bare_notifications_request_lists_what_is_on_then_asks(demo, session_factory):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    texts, set_slots = await start(slots, "notifications", "notifications")
    assert len(texts) == 1 and texts[0].startswith("Right now account ending 4821 gets ")
    assert set_slots["notify_topic"] is None and set_slots["settings_next"] == "notifications"


async def test_alert_answers_are_validated_and_nonsense_reasked(demo, session_factory):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    form = ValidateNotificationForm()
    texts, _, set_slots = await answer(form, slots, "notify_topic", "bananas", "notification_form")
    assert texts == [
        "I can send alerts for outages, bill ready, payment received or past due. Which one?"
    ]
    assert set_slots["notify_topic"] is None
    texts, _, set_slots = await answer(form, slots, "notify_topic", "past due", "notification_form")
    assert texts == [] and set_slots["notify_topic"] == "past_due"
    texts, _, set_slots = await answer(form, slots, "notify_enabled", "off", "notification_form")
    assert set_slots["notify_enabled"] is False


async def latest_code(session_factory, to: str) -> str:
    async with session_factory() as session:
        body = (
            await session.scalars(
                select(OutboxMessage.body)
                .where(OutboxMessage.to == to)
                .order_by(OutboxMessage.id.desc())
            )
        ).first()
    return re.search(r"code: (\d{6})", body).group(1)


async def test_phone_change_sends_the_code_to_the_new_number_and_says_what_changed(
    demo, session_factory
):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    slots["contact_kind_choice"] = "phone"
    form = ValidateContactForm()
    texts, _, set_slots = await answer(form, slots, "new_contact", "706-555-0147", "contact_form")
    assert texts == [
        (
            "I sent a 6-digit code to your new number ***-***-0147. Nothing changes "
            "(now ***-***-0101) until you reply with it here."
        )
    ]
    pending = set_slots["new_contact"]
    assert pending == {"kind": "phone", "value": "+17065550147", "masked": "***-***-0147"}
    code = await latest_code(session_factory, "+17065550147")

    slots["new_contact"] = pending
    wrong = "000000" if code != "000000" else "111111"
    texts, _, set_slots = await answer(
        form, slots, "contact_code", wrong, "contact_form", message_id="m-2"
    )
    assert texts == ["That code doesn't match. You have 4 tries left."]
    assert set_slots["contact_code"] is None

    texts, _, set_slots = await answer(
        form, slots, "contact_code", code, "contact_form", message_id="m-3"
    )
    assert set_slots["contact_code"] == "updated"
    done_texts, _, _ = await run(
        ActionContactDone(), make_tracker(slots={**slots, **set_slots}), domain()
    )
    assert done_texts == [
        (
            "Done. Your phone number on file is now ***-***-0147, replacing ***-***-0101. "
            "Nothing else changed."
        )
    ]
    async with session_factory() as session:
        phones = (
            await session.scalars(
                select(Contact.value).where(
                    Contact.member_id == slots["member_id"],
                    Contact.kind == "phone",
                    Contact.is_primary.is_(True),
                )
            )
        ).all()
        assert phones == ["+17065550147"]
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "settings.contact.phone")
            )
        ).one()
        assert entry.details["new"] == "***-***-0147"


async def test_a_number_in_the_first_message_gets_its_code_straight_away(demo, session_factory):
    slots = await confirmed(session_factory, "1000007315", "Earl")
    texts, set_slots = await start(slots, "contact", "change my cell to 706-555-0199")
    assert texts == [
        (
            "I sent a 6-digit code to your new number ***-***-0199. Nothing changes "
            "(now ***-***-0102) until you reply with it here."
        )
    ]
    assert (
        set_slots["contact_kind_choice"] == "phone"
        and set_slots["new_contact"]["value"] == "+17065550199"
    )
    assert set_slots["settings_next"] == "contact"


async def test_bad_numbers_and_card_numbers_are_not_kept(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000004821", "Dana"),
        "contact_kind_choice": "phone",
    }
    form = ValidateContactForm()
    texts, _, set_slots = await answer(form, slots, "new_contact", "555", "contact_form")
    assert texts == [
        "That isn't a valid US phone number. Please send it with area code, like 706-555-0147."
    ]
    assert set_slots["new_contact"] is None
    card = "4111 1111 1111 1111"
    texts, _, set_slots = await answer(form, slots, "new_contact", card, "contact_form")
    assert set_slots["new_contact"] is None and "didn't keep that number" in texts[0]
    texts, _, _ = await answer(
        form, {**slots, "settings_failures": 1}, "new_contact", "(706) 555-0101", "contact_form"
    )
    assert texts == [
        (
            "That's already the number on file (***-***-0101). Send a different one, or say never "
            "mind. "
            "If you'd rather talk with a person, say agent or call (706) 547-2167."
        )
    ]


async def test_every_settings_reply_fits_one_sms(demo, session_factory):
    slots = await confirmed(session_factory, "1000004821", "Dana")
    for action, text in [
        ("paperless_off", ""),
        ("paperless_on", ""),
        ("notifications", "alerts"),
        ("contact", "new email dana.new@example.org"),
    ]:
        texts, _ = await start(slots, action, text)
        for message in texts:
            assert len(message) <= 306 and is_gsm7(message), message
