"""Bank draft records with the member's copy: reading the situation, and delivering the copy of
each authorization (sent, failed, no contact on file), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import PROJECT_ROOT
from bot.profile import load_profile
from bot.services import draft_authorizations as records
from bot.services.balance import BillingRules
from bot.services.draft_authorizations import Agreement
from bot.services.drafts import CardNotAllowed
from bot.services.notify import DeliveryResult
from bot.store.db import session_scope
from bot.store.models import (
    Contact,
    DraftAuthorization,
    DraftEnrollment,
)
from tests.store import rows
from tests.store.sessions import open_sessions

PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10 AM in Wrens
EARL_EMAIL = "earl.hardeman@example.com"
EARL_PHONE = "+17065550102"


@dataclass
class RecordingNotifier:
    """A `Notifier` that keeps what it was asked to send and answers with `status`."""

    status: str = "sent"
    sent: list[tuple[str, ...]] = field(default_factory=list)

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.sent.append(("sms", to_e164, body))
        return DeliveryResult(self.status)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.sent.append(("email", to, subject, body))
        return DeliveryResult(self.status)


@dataclass(frozen=True)
class Earl:
    member_id: int
    account_id: int
    checking_id: int
    card_id: int


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_sessions(db_url) as factory:
        yield factory


@pytest.fixture
def members(sessions: async_sessionmaker[AsyncSession]) -> SqlMemberServices:
    return SqlMemberServices(sessions, BillingRules.from_profile(PROFILE))


@pytest.fixture
async def earl(sessions: async_sessionmaker[AsyncSession]) -> Earl:
    """Earl: account ending 7315, checking ending 6120 and a Visa; a phone and an email."""
    async with session_scope(sessions) as s:
        member = await rows.member(s, "M1", "Earl", "Hardeman")
        account = rows.account(member, "1000007315")
        checking = rows.bank(member, "tok_chk", "6120")
        card = rows.card(member, "tok_visa")
        phone = Contact(
            member_id=member.id, kind="phone", value=EARL_PHONE, is_primary=True, is_verified=True
        )
        email = Contact(member_id=member.id, kind="email", value=EARL_EMAIL, is_verified=True)
        s.add_all([account, checking, card, phone, email])
        await s.flush()
        return Earl(member.id, account.id, checking.id, card.id)


def agreement(earl: Earl, now: datetime = NOW) -> Agreement:
    return Agreement(
        member_id=earl.member_id,
        account_id=earl.account_id,
        now=now,
        channel="web",
        verified_how="zip+otp",
        conversation_id="conv-1",
    )


async def enroll(
    sessions: async_sessionmaker[AsyncSession],
    members: SqlMemberServices,
    notifier: RecordingNotifier,
    earl: Earl,
    **over: object,
) -> records.Recorded:
    terms: dict[str, object] = {
        "payment_method_id": earl.checking_id,
        "draft_day": 18,
        "amount_rule": "full_balance",
        "fixed_amount_cents": None,
        "today": TODAY,
    } | over
    return await records.record_enrollment(
        sessions,
        members,
        notifier,
        PROFILE,
        agreement(earl),
        **terms,  # type: ignore[arg-type]
    )


async def authorizations(sessions: async_sessionmaker[AsyncSession]) -> list[DraftAuthorization]:
    async with sessions() as s:
        rows = await s.scalars(select(DraftAuthorization).order_by(DraftAuthorization.id))
        return list(rows)


async def forget_contacts(sessions: async_sessionmaker[AsyncSession], kind: str | None) -> None:
    async with session_scope(sessions) as s:
        await s.execute(delete(Contact).where(Contact.kind == kind) if kind else delete(Contact))


# ---------------------------------------------------------------- the member's situation


async def test_situation_reads_the_account_the_enrollment_and_the_bank_accounts(
    sessions, members, earl
) -> None:
    before = await records.draft_situation(
        sessions, members, account_id=earl.account_id, member_id=earl.member_id
    )
    assert before.account_last4 == "7315" and before.enrollment is None and before.method is None
    assert {m.last4 for m in before.methods} == {"6120", "4242"}
    assert [m.last4 for m in before.bank_methods] == ["6120"]

    recorded = await enroll(sessions, members, RecordingNotifier(), earl)
    after = await records.draft_situation(
        sessions, members, account_id=earl.account_id, member_id=earl.member_id
    )
    assert after.enrollment == recorded.enrollment
    assert (after.enrollment.draft_day, after.enrollment.starts_on) == (18, date(2026, 12, 18))
    assert after.method is not None and after.method.phrase == "checking ending 6120"
    assert await records.active_enrollment(sessions, earl.account_id) == recorded.enrollment


# ---------------------------------------------------------------- the copy


async def test_a_sent_copy_keeps_the_masked_destination_on_the_record(
    sessions, members, earl
) -> None:
    notifier = RecordingNotifier("sent")
    recorded = await enroll(sessions, members, notifier, earl)

    assert recorded.copy.sent and recorded.copy.sent_to == "e***@example.com"
    [auth] = await authorizations(sessions)
    assert (auth.action, auth.copy_sent_to) == ("enroll", "e***@example.com")
    assert notifier.sent == [
        (
            "email",
            EARL_EMAIL,
            "Jefferson Energy Cooperative: your bank draft authorization",
            auth.text,
        )
    ]


async def test_a_copy_that_could_not_be_sent_is_cleared_from_the_record(
    sessions, members, earl
) -> None:
    notifier = RecordingNotifier("failed")
    recorded = await enroll(sessions, members, notifier, earl)

    assert not recorded.copy.sent and recorded.copy.sent_to is None
    [auth] = await authorizations(sessions)
    assert auth.copy_sent_to is None
    assert len(notifier.sent) == 1  # it was tried
    # the member's agreement stands: only the claim of a copy is withdrawn
    assert await records.active_enrollment(sessions, earl.account_id) == recorded.enrollment


async def test_no_contact_on_file_sends_nothing_and_the_record_says_no_copy(
    sessions, members, earl
) -> None:
    await forget_contacts(sessions, None)
    notifier = RecordingNotifier("sent")
    recorded = await enroll(sessions, members, notifier, earl)

    assert recorded.copy.sent_to is None
    assert notifier.sent == []
    [auth] = await authorizations(sessions)
    assert auth.copy_sent_to is None


async def test_without_an_email_the_copy_is_texted_to_the_phone_on_file(
    sessions, members, earl
) -> None:
    await forget_contacts(sessions, "email")
    notifier = RecordingNotifier("sent")
    recorded = await enroll(sessions, members, notifier, earl)

    assert recorded.copy.sent_to == "***-***-0102"
    [auth] = await authorizations(sessions)
    assert auth.copy_sent_to == "***-***-0102"
    [(channel, to, body)] = notifier.sent
    assert (channel, to) == ("sms", EARL_PHONE)
    assert body in (f"JEC: {auth.text}", auth.text) and len(body) <= 320


async def test_the_primary_verified_email_comes_first(sessions, members, earl) -> None:
    async with session_scope(sessions) as s:
        await s.execute(delete(Contact).where(Contact.kind == "email"))
        s.add_all(
            [
                Contact(member_id=earl.member_id, kind="email", value="old@example.com"),
                Contact(
                    member_id=earl.member_id,
                    kind="email",
                    value="main@example.org",
                    is_primary=True,
                    is_verified=True,
                ),
            ]
        )
    destination = await records.copy_destination(members, earl.member_id)
    assert destination == records.CopyDestination("email", "main@example.org", "m***@example.org")


async def test_a_refused_enrollment_stores_nothing_and_sends_no_copy(
    sessions, members, earl
) -> None:
    notifier = RecordingNotifier("sent")
    with pytest.raises(CardNotAllowed):
        await enroll(sessions, members, notifier, earl, payment_method_id=earl.card_id)
    assert notifier.sent == []
    assert await authorizations(sessions) == []


# ---------------------------------------------------------------- change and cancel


async def test_change_then_cancel_each_send_their_own_copy(sessions, members, earl) -> None:
    await enroll(sessions, members, RecordingNotifier("sent"), earl)
    wednesday = datetime(2026, 12, 16, 14, 0, tzinfo=UTC)  # the Dec 18 draft is with the bank

    notifier = RecordingNotifier("sent")
    changed = await records.record_change(
        sessions,
        members,
        notifier,
        PROFILE,
        agreement(earl, wednesday),
        today=date(2026, 12, 16),
        draft_day=3,
    )
    assert (changed.enrollment.draft_day, changed.enrollment.starts_on) == (3, date(2027, 1, 3))
    assert changed.still_happening == date(2026, 12, 18)
    assert changed.copy.sent_to == "e***@example.com"
    assert notifier.sent[0][2] == "Jefferson Energy Cooperative: your new bank draft authorization"

    failing = RecordingNotifier("failed")
    cancelled = await records.record_cancellation(
        sessions, members, failing, PROFILE, agreement(earl, wednesday)
    )
    assert cancelled.copy.sent_to is None
    assert failing.sent[0][2] == "Jefferson Energy Cooperative: your bank draft is cancelled"
    assert await records.active_enrollment(sessions, earl.account_id) is None

    auths = await authorizations(sessions)
    assert [(a.action, a.copy_sent_to) for a in auths] == [
        ("enroll", "e***@example.com"),
        ("change", "e***@example.com"),
        ("cancel", None),  # only the copy that failed is withdrawn
    ]
    assert cancelled.text == auths[2].text == failing.sent[0][3]
    async with sessions() as s:
        status = await s.scalar(select(DraftEnrollment.status))
    assert status == "cancelled"
