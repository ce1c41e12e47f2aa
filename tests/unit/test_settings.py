"""Account settings: paperless, notification preferences and contact changes confirmed by a code
sent to the NEW phone or email; every change audited with masked values only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.services.notify import DeliveryResult
from bot.services.otp import OtpRules, OtpService
from bot.services.settings import (
    AccountSettings,
    Actor,
    ContactStatus,
    normalize_email,
    normalize_phone,
)
from bot.store.models import AuditEntry, Contact, NotificationPreference
from tests.store import rows

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
OLD_PHONE = "+17065550101"


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.sent.append((to_e164, body))
        return DeliveryResult("outbox")

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.sent.append((to, body))
        return DeliveryResult("outbox")

    def last_code(self) -> str:
        return re.search(r"code: (\d{6})", self.sent[-1][1]).group(1)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def actor(session_factory) -> Actor:
    async with session_factory() as session:
        member = await rows.member(session, "M1", "Dana", "Whitfield")
        account = rows.account(member, "1000004821", paperless=False)
        session.add(account)
        session.add(
            Contact(
                member_id=member.id,
                kind="phone",
                value=OLD_PHONE,
                is_primary=True,
                is_verified=True,
            )
        )
        session.add(
            Contact(member_id=member.id, kind="email", value="dana@example.com", is_primary=True)
        )
        await session.commit()
        return Actor(
            member_id=member.id,
            account_id=account.id,
            conversation_id="conv-1",
            channel="web",
            verified_how="account number + ZIP + code",
        )


@pytest.fixture
def service(session_factory, notifier) -> AccountSettings:
    return AccountSettings(session_factory, OtpService(session_factory, OtpRules(), notifier))


async def audits(session_factory) -> list[AuditEntry]:
    async with session_factory() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def test_paperless_on_then_off_is_stored_and_audited_once_per_change(
    service, actor, session_factory
) -> None:
    first = await service.set_paperless(actor, True, now=NOW)
    again = await service.set_paperless(actor, True, now=NOW)
    assert (first.changed, again.changed) == (True, False)
    assert await service.paperless(actor.account_id) is True
    await service.set_paperless(actor, False, now=NOW)
    assert await service.paperless(actor.account_id) is False
    entries = await audits(session_factory)
    assert [(e.action, e.details) for e in entries] == [
        ("settings.paperless", {"paperless": True}),
        ("settings.paperless", {"paperless": False}),
    ]
    assert (
        entries[0].actor == f"member:{actor.member_id}"
        and entries[0].verified_how == actor.verified_how
    )


async def test_paperless_refuses_another_members_account(service, actor) -> None:
    stranger = Actor(
        member_id=actor.member_id + 99,
        account_id=actor.account_id,
        conversation_id="x",
        channel="web",
    )
    with pytest.raises(LookupError):
        await service.set_paperless(stranger, True, now=NOW)


async def test_notification_preference_is_created_changed_and_listed(
    service, actor, session_factory
) -> None:
    on = await service.set_preference(actor, "outage", "sms", True, now=NOW)
    assert on.changed
    assert await service.preferences(actor.account_id) == {("outage", "sms"): True}
    off = await service.set_preference(actor, "outage", "sms", False, now=NOW)
    assert off.changed and await service.preferences(actor.account_id) == {("outage", "sms"): False}
    unchanged = await service.set_preference(actor, "bill_ready", "email", False, now=NOW)
    assert not unchanged.changed  # nothing stored means off already
    async with session_factory() as session:
        assert len((await session.scalars(select(NotificationPreference))).all()) == 1
    assert [e.details for e in await audits(session_factory)] == [
        {"topic": "outage", "channel": "sms", "enabled": True},
        {"topic": "outage", "channel": "sms", "enabled": False},
    ]
    with pytest.raises(ValueError):
        await service.set_preference(actor, "weather", "sms", True, now=NOW)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("706-555-0147", "+17065550147"),
        ("(706) 555-0147", "+17065550147"),
        ("+1 706 555 0147", "+17065550147"),
        ("7065550147", "+17065550147"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_phone(raw).value == expected


@pytest.mark.parametrize(
    "raw", ["555", "call me", "", "123-456-7890", "+44 20 7946 0958", "9" * 50]
)
def test_bad_phone_numbers_are_refused_with_an_example(raw: str) -> None:
    result = normalize_phone(raw)
    assert result.value is None and "706-555-0147" in result.error


def test_emails_get_a_simple_check() -> None:
    assert normalize_email("Earl.H@Example.NET").value == "earl.h@example.net"
    for bad in ["earl", "earl@", "earl@example", "a b@example.com", "<script>@x.com"]:
        assert normalize_email(bad).value is None


async def test_phone_change_sends_the_code_to_the_new_number_and_updates_only_after_it(
    service, actor, notifier, session_factory
) -> None:
    started = await service.start_contact_change(actor, "phone", "706-555-0147", now=NOW)
    assert started.status is ContactStatus.CODE_SENT
    assert (started.masked_new, started.masked_old) == ("***-***-0147", "***-***-0101")
    assert notifier.sent[-1][0] == "+17065550147"
    assert await service.current_contact(actor.member_id, "phone") == OLD_PHONE  # not yet

    wrong = "000000" if notifier.last_code() != "000000" else "111111"
    bad = await service.confirm_contact_change(actor, "phone", started.new_value, wrong, now=NOW)
    assert bad.status is ContactStatus.WRONG_CODE and bad.attempts_left == 4
    assert await service.current_contact(actor.member_id, "phone") == OLD_PHONE

    done = await service.confirm_contact_change(
        actor, "phone", started.new_value, notifier.last_code(), now=NOW
    )
    assert done.status is ContactStatus.UPDATED
    assert (done.masked_old, done.masked_new) == ("***-***-0101", "***-***-0147")
    assert await service.current_contact(actor.member_id, "phone") == "+17065550147"
    entry = (await audits(session_factory))[-1]
    assert entry.action == "settings.contact.phone"
    assert entry.details == {
        "old": "***-***-0101",
        "new": "***-***-0147",
        "confirmed_by": "code to new",
    }
    assert "7065550147" not in str(entry.details)


async def test_a_code_sent_to_one_number_cannot_confirm_another(service, actor, notifier) -> None:
    await service.start_contact_change(actor, "phone", "706-555-0147", now=NOW)
    swapped = await service.confirm_contact_change(
        actor, "phone", "+17065550199", notifier.last_code(), now=NOW
    )
    assert swapped.status is ContactStatus.NO_CODE
    assert await service.current_contact(actor.member_id, "phone") == OLD_PHONE


async def test_email_change_and_refusals(service, actor, notifier) -> None:
    same = await service.start_contact_change(actor, "phone", "(706) 555-0101", now=NOW)
    assert same.status is ContactStatus.SAME_AS_CURRENT and not notifier.sent
    invalid = await service.start_contact_change(actor, "email", "not an email", now=NOW)
    assert invalid.status is ContactStatus.INVALID and invalid.error
    started = await service.start_contact_change(actor, "email", "dana.w@example.org", now=NOW)
    assert (
        started.status is ContactStatus.CODE_SENT and notifier.sent[-1][0] == "dana.w@example.org"
    )
    done = await service.confirm_contact_change(
        actor, "email", started.new_value, notifier.last_code(), now=NOW
    )
    assert (done.status, done.masked_old, done.masked_new) == (
        ContactStatus.UPDATED,
        "d***@example.com",
        "d***@example.org",
    )
    assert await service.current_contact(actor.member_id, "email") == "dana.w@example.org"
