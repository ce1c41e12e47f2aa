"""Bank drafts: allowed days, the notice rules, the authorization wording, and the records kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import PROJECT_ROOT
from bot.profile import load_profile
from bot.services import draft_authorizations as records
from bot.services import drafts
from bot.services.drafts import (
    AlreadyEnrolled,
    AmountRuleNotAllowed,
    CardNotAllowed,
    DraftAmountInvalid,
    DraftDayNotAllowed,
    DraftError,
    NotEnrolled,
    PaymentMethodNotFound,
)
from bot.services.members import MethodRecord, method_phrase
from bot.store.db import session_scope
from bot.store.models import (
    AuditEntry,
    DraftAuthorization,
    DraftEnrollment,
    Member,
)
from tests.draft_wording import full_balance_from_checking
from tests.store import rows

NY = ZoneInfo("America/New_York")
PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10 AM in Wrens


def enrollment(day: int, starts_on: date) -> DraftEnrollment:
    return DraftEnrollment(
        account_id=1,
        payment_method_id=1,
        draft_day=day,
        amount_rule="full_balance",
        status="active",
        starts_on=starts_on,
    )


# -- days ------------------------------------------------------------------------------------------


def test_allowed_days_come_from_the_profile() -> None:
    assert drafts.allowed_days(PROFILE) == (3, 18)
    assert drafts.describe_allowed_days(PROFILE) == "the 3rd or the 18th"


@pytest.mark.parametrize(
    ("typed", "day"),
    [(18, 18), ("18", 18), ("18th", 18), ("the 18th", 18), ("3rd", 3), (" The 3RD ", 3)],
)
def test_draft_day_accepts_the_ways_members_say_it(typed: object, day: int) -> None:
    assert drafts.validate_draft_day(typed, PROFILE) == day  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", [5, 0, 29, "15th", "tomorrow", "", True])
def test_other_draft_days_are_refused_with_the_allowed_ones(typed: object) -> None:
    with pytest.raises(DraftDayNotAllowed) as info:
        drafts.validate_draft_day(typed, PROFILE)  # type: ignore[arg-type]
    assert (
        str(info.value) == "We can draft on the 3rd or the 18th of the month. Which works for you?"
    )
    assert isinstance(info.value, ValueError)


# -- first draft date ------------------------------------------------------------------------------


def test_first_full_balance_draft_leaves_ten_days_notice() -> None:
    # Nov 28: Dec 18 is 20 days away, fine; Dec 3 is only 5 days away, so Jan 3.
    assert drafts.next_draft_date(18, TODAY, PROFILE) == date(2026, 12, 18)
    assert drafts.next_draft_date(3, TODAY, PROFILE) == date(2027, 1, 3)


def test_ten_days_exactly_is_enough_nine_is_not() -> None:
    assert drafts.next_draft_date(18, date(2026, 12, 8), PROFILE) == date(2026, 12, 18)
    assert drafts.next_draft_date(18, date(2026, 12, 9), PROFILE) == date(2027, 1, 18)


def test_fixed_amount_needs_only_the_cancel_notice() -> None:
    assert drafts.next_draft_date(3, TODAY, PROFILE, "fixed") == date(2026, 12, 3)
    assert drafts.next_draft_date(3, date(2026, 12, 1), PROFILE, "fixed") == date(2027, 1, 3)


def test_first_draft_date_crosses_the_year() -> None:
    assert drafts.next_draft_date(3, date(2026, 12, 20), PROFILE) == date(2027, 1, 3)
    assert drafts.next_draft_date(18, date(2026, 12, 20), PROFILE) == date(2027, 1, 18)


def test_first_draft_date_refuses_a_day_not_allowed() -> None:
    with pytest.raises(DraftDayNotAllowed):
        drafts.next_draft_date(15, TODAY, PROFILE)


# -- cancellation ----------------------------------------------------------------------------------


def test_cancel_four_days_before_stops_that_draft() -> None:
    e = enrollment(18, date(2026, 12, 18))
    now = datetime(2026, 12, 14, 16, 0, tzinfo=NY)
    assert drafts.cancellation_effective(e, now, PROFILE) == date(2026, 12, 18)
    assert drafts.draft_still_happening(e, now, PROFILE) is None


def test_cancel_three_days_before_is_still_in_time() -> None:
    # "cancel at least 3 days before a draft date": the 15th is 3 days before the 18th
    e = enrollment(18, date(2026, 12, 18))
    now = datetime(2026, 12, 15, 9, 0, tzinfo=NY)
    assert drafts.submission_date(date(2026, 12, 18), PROFILE) == date(2026, 12, 15)
    # the draft goes to the bank on the 15th, so a cancel that day no longer stops it
    assert drafts.cancellation_effective(e, now, PROFILE) == date(2027, 1, 18)
    assert drafts.draft_still_happening(e, now, PROFILE) == date(2026, 12, 18)


def test_cancel_on_the_draft_day_and_after_it() -> None:
    e = enrollment(18, date(2026, 12, 18))
    assert drafts.cancellation_effective(e, datetime(2026, 12, 18, 9, tzinfo=NY), PROFILE) == date(
        2027, 1, 18
    )
    assert drafts.cancellation_effective(e, datetime(2026, 12, 19, 9, tzinfo=NY), PROFILE) == date(
        2027, 1, 18
    )
    assert drafts.draft_still_happening(e, datetime(2026, 12, 19, 9, tzinfo=NY), PROFILE) is None


def test_cancel_before_the_first_draft_means_no_draft_at_all() -> None:
    e = enrollment(18, date(2027, 1, 18))
    now = datetime(2026, 12, 16, 9, tzinfo=NY)  # Dec 18 is not a draft of this enrollment
    assert drafts.cancellation_effective(e, now, PROFILE) == date(2027, 1, 18)
    assert drafts.draft_still_happening(e, now, PROFILE) is None


def test_cancellation_uses_the_local_date_not_utc() -> None:
    e = enrollment(18, date(2026, 12, 18))
    late_evening_14th = datetime(2026, 12, 15, 3, 0, tzinfo=UTC)  # 10 PM Dec 14 in Wrens
    assert drafts.cancellation_effective(e, late_evening_14th, PROFILE) == date(2026, 12, 18)


def test_cancellation_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        drafts.cancellation_effective(
            enrollment(18, date(2026, 12, 18)), datetime(2026, 12, 14, 9), PROFILE
        )


# -- wording ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (18, "18th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (28, "28th"),
    ],
)
def test_ordinals(n: int, word: str) -> None:
    assert drafts.ordinal(n) == word


def test_full_amount_authorization_names_start_amount_accounts_day_and_how_to_cancel() -> None:
    text = full_balance_from_checking(PROFILE, date(2027, 1, 18), 18, "4821", "6120")
    assert text == (
        "Starting Jan 18, 2027, Jefferson Energy Cooperative will draft the full amount due on "
        "account ending 4821 from checking ending 6120 on the 18th of each month, until you "
        "cancel. You can cancel any time by chat, text, phone or at an office, at least 3 days "
        "before a draft date."
    )


def test_authorization_for_a_fixed_amount_names_the_amount() -> None:
    text = drafts.authorization_text(
        PROFILE,
        start_date=date(2026, 12, 3),
        draft_day=3,
        amount_rule="fixed",
        fixed_amount_cents=5000,
        account_last4="7315",
        method_kind="savings",
        method_last4="0042",
    )
    assert text.startswith(
        "Starting Dec 3, 2026, Jefferson Energy Cooperative will draft $50.00 on "
        "account ending 7315"
    )
    assert "from savings ending 0042 on the 3rd of each month" in text


def test_fixed_amount_must_be_within_payment_limits() -> None:
    assert drafts.validate_terms("fixed", 5000, PROFILE) == 5000
    assert drafts.validate_terms("full_balance", None, PROFILE) is None
    with pytest.raises(DraftAmountInvalid, match=r"from \$1.00 to \$5,000.00"):
        drafts.validate_terms("fixed", 99, PROFILE)
    with pytest.raises(DraftAmountInvalid):
        drafts.validate_terms("fixed", None, PROFILE)
    with pytest.raises(AmountRuleNotAllowed):
        drafts.validate_terms("half", None, PROFILE)


def test_the_upcoming_draft_of_an_enrollment_never_comes_before_it_starts() -> None:
    e = enrollment(18, date(2027, 1, 18))
    assert drafts.upcoming_draft_date(e, TODAY) == date(2027, 1, 18)
    assert drafts.upcoming_draft_date(e, date(2027, 1, 18)) == date(2027, 1, 18)
    assert drafts.upcoming_draft_date(e, date(2027, 1, 19)) == date(2027, 2, 18)
    assert drafts.upcoming_draft_date(e, date(2027, 12, 19)) == date(2028, 1, 18)


def test_payment_methods_read_the_same_in_a_list_and_mid_sentence() -> None:
    checking = MethodRecord(1, 1, "checking", "Ogeechee Valley Bank", "6120")
    visa = MethodRecord(2, 1, "card", "Visa", "4242", 9, 2028)
    assert (checking.label, checking.phrase) == ("Checking ending 6120", "checking ending 6120")
    assert (visa.label, visa.phrase) == ("Visa ending 4242", "Visa ending 4242")
    assert method_phrase("savings", None, "0042") == "savings ending 0042"


def _situation(current: drafts.Enrollment | None) -> drafts.DraftSituation:
    return drafts.DraftSituation(
        account_last4="2209",
        enrollment=current,
        methods=[
            MethodRecord(7, 1, "checking", "Bank", "3344"),
            MethodRecord(8, 1, "savings", "Bank", "0042"),
            MethodRecord(9, 1, "card", "Visa", "4242", 9, 2028),
        ],
    )


def test_proposed_terms_fill_what_a_change_leaves_alone_from_the_enrollment() -> None:
    current = drafts.Enrollment(1, 1, 7, 18, "fixed", 7500, date(2026, 12, 18))
    changing_the_day = drafts.proposed_terms(
        _situation(current),
        draft_day=3,
        amount_rule=None,
        fixed_amount_cents=None,
        payment_method_id=None,
    )
    assert changing_the_day == drafts.DraftTerms(3, "fixed", 7500, "checking", "3344")
    new = drafts.proposed_terms(
        _situation(None),
        draft_day=18,
        amount_rule=None,
        fixed_amount_cents=None,
        payment_method_id=8,
    )
    assert new == drafts.DraftTerms(18, "full_balance", None, "savings", "0042")
    for missing in ({"draft_day": None, "payment_method_id": 8}, {"payment_method_id": 9}):
        terms = {"draft_day": 18, "amount_rule": None, "fixed_amount_cents": None} | missing
        assert drafts.proposed_terms(_situation(None), **terms) is None  # type: ignore[arg-type]


def test_the_terms_wording_is_the_authorization_text_from_the_first_draft_date() -> None:
    terms = drafts.DraftTerms(18, "full_balance", None, "checking", "6120")
    assert drafts.terms_authorization(
        PROFILE, terms, account_last4="7315", today=TODAY
    ) == full_balance_from_checking(PROFILE, date(2026, 12, 18), 18, "7315", "6120")


# -- records ---------------------------------------------------------------------------------------


@pytest.fixture
async def seeded(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_scope(session_factory) as s:
        earl = Member(member_number="M1", first_name="Earl", last_name="Hardeman")
        other = Member(member_number="M2", first_name="Someone", last_name="Else")
        s.add_all([earl, other])
        await s.flush()
        account = rows.account(earl, "1000007315")
        checking = rows.bank(earl, "tok_chk", "6120")
        card = rows.card(earl, "tok_visa")
        savings = rows.bank(earl, "tok_sav", "0042", "savings")
        foreign = rows.bank(other, "tok_other", "9999")
        s.add_all([account, checking, card, savings, foreign])
        await s.flush()
        return {
            "account": account.id,
            "checking": checking.id,
            "card": card.id,
            "savings": savings.id,
            "foreign": foreign.id,
        }


def enroll_kwargs(ids: dict[str, int], **over: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "account_id": ids["account"],
        "payment_method_id": ids["checking"],
        "draft_day": 18,
        "amount_rule": "full_balance",
        "fixed_amount_cents": None,
        "today": TODAY,
        "now": NOW,
        "channel": "web",
        "verified_how": "zip+otp",
        "conversation_id": "conv-1",
        "profile": PROFILE,
    }
    kwargs.update(over)
    return kwargs


async def test_enroll_stores_the_enrollment_and_the_exact_authorization(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        e = await records.enroll(s, **enroll_kwargs(seeded, copy_sent_to="e***@example.com"))  # type: ignore[arg-type]
        enrollment_id = e.id
    async with session_scope(session_factory) as s:
        active = await records.get_active(s, seeded["account"])
        assert active is not None and active.id == enrollment_id
        assert (active.draft_day, active.amount_rule, active.starts_on) == (
            18,
            "full_balance",
            date(2026, 12, 18),
        )
        assert active.fixed_amount_cents is None and active.status == "active"
        auths = (await s.execute(select(DraftAuthorization))).scalars().all()
        assert len(auths) == 1
        auth = auths[0]
        assert auth.action == "enroll" and auth.channel == "web" and auth.verified_how == "zip+otp"
        assert auth.conversation_id == "conv-1" and auth.copy_sent_to == "e***@example.com"
        assert auth.accepted_at == NOW
        assert auth.text.startswith(
            "Starting Dec 18, 2026, Jefferson Energy Cooperative will draft the full amount due "
            "on account ending 7315 from checking ending 6120 on the 18th of each month"
        )
        audit = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "draft.enroll"))
        ).scalar_one()
        assert audit.account_id == seeded["account"] and audit.verified_how == "zip+otp"
        assert "6120" in str(audit.details) and "tok_chk" not in str(audit.details)


async def test_enroll_with_a_fixed_amount_from_savings(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        e = await records.enroll(
            s,
            **enroll_kwargs(
                seeded,
                payment_method_id=seeded["savings"],
                draft_day="3rd",
                amount_rule="fixed",
                fixed_amount_cents=7500,
            ),
        )  # type: ignore[arg-type]
        assert (e.draft_day, e.fixed_amount_cents, e.starts_on) == (3, 7500, date(2026, 12, 3))


async def test_enroll_refuses_a_card(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    with pytest.raises(CardNotAllowed, match="checking or savings account, not a card"):
        async with session_scope(session_factory) as s:
            await records.enroll(s, **enroll_kwargs(seeded, payment_method_id=seeded["card"]))  # type: ignore[arg-type]
    async with session_scope(session_factory) as s:
        assert await s.scalar(select(func.count()).select_from(DraftEnrollment)) == 0
        assert await s.scalar(select(func.count()).select_from(DraftAuthorization)) == 0


async def test_enroll_refuses_another_members_bank_account_without_saying_so(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    with pytest.raises(PaymentMethodNotFound) as info:
        async with session_scope(session_factory) as s:
            await records.enroll(s, **enroll_kwargs(seeded, payment_method_id=seeded["foreign"]))  # type: ignore[arg-type]
    assert "9999" not in str(info.value)
    with pytest.raises(PaymentMethodNotFound):
        async with session_scope(session_factory) as s:
            await records.enroll(s, **enroll_kwargs(seeded, payment_method_id=424242))  # type: ignore[arg-type]


async def test_one_active_enrollment_per_account(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        await records.enroll(s, **enroll_kwargs(seeded))  # type: ignore[arg-type]
    with pytest.raises(AlreadyEnrolled, match="already on bank draft"):
        async with session_scope(session_factory) as s:
            await records.enroll(s, **enroll_kwargs(seeded, draft_day=3))  # type: ignore[arg-type]


async def test_enroll_refuses_a_day_or_amount_outside_the_rules(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    with pytest.raises(DraftDayNotAllowed):
        async with session_scope(session_factory) as s:
            await records.enroll(s, **enroll_kwargs(seeded, draft_day=10))  # type: ignore[arg-type]
    with pytest.raises(DraftAmountInvalid):
        async with session_scope(session_factory) as s:
            await records.enroll(
                s, **enroll_kwargs(seeded, amount_rule="fixed", fixed_amount_cents=600000)
            )  # type: ignore[arg-type]


async def test_change_day_records_a_new_authorization_from_the_next_allowed_date(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        e = await records.enroll(s, **enroll_kwargs(seeded))  # type: ignore[arg-type]
    later = datetime(2026, 12, 1, 15, tzinfo=UTC)
    async with session_scope(session_factory) as s:
        changed = await records.change(
            s,
            account_id=seeded["account"],
            draft_day=3,
            today=date(2026, 12, 1),
            now=later,
            channel="sms",
            verified_how="phone+zip+otp",
            conversation_id="conv-2",
            profile=PROFILE,
        )
        assert changed.id == e.id
        assert (changed.draft_day, changed.starts_on) == (3, date(2027, 1, 3))
    async with session_scope(session_factory) as s:
        auths = (
            (await s.execute(select(DraftAuthorization).order_by(DraftAuthorization.id)))
            .scalars()
            .all()
        )
        assert [a.action for a in auths] == ["enroll", "change"]
        assert auths[1].text.startswith("Starting Jan 3, 2027,")
        assert "on the 3rd of each month" in auths[1].text
        assert auths[1].channel == "sms"


async def test_change_to_a_fixed_amount_and_refuse_a_card(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        await records.enroll(s, **enroll_kwargs(seeded))  # type: ignore[arg-type]
    common = {
        "account_id": seeded["account"],
        "today": TODAY,
        "now": NOW,
        "channel": "web",
        "verified_how": "zip+otp",
        "conversation_id": None,
        "profile": PROFILE,
    }
    async with session_scope(session_factory) as s:
        e = await records.change(s, amount_rule="fixed", fixed_amount_cents=12000, **common)  # type: ignore[arg-type]
        assert (e.amount_rule, e.fixed_amount_cents, e.draft_day) == ("fixed", 12000, 18)
    with pytest.raises(CardNotAllowed):
        async with session_scope(session_factory) as s:
            await records.change(s, payment_method_id=seeded["card"], **common)  # type: ignore[arg-type]


async def test_change_without_an_enrollment(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    with pytest.raises(NotEnrolled):
        async with session_scope(session_factory) as s:
            await records.change(
                s,
                account_id=seeded["account"],
                draft_day=3,
                today=TODAY,
                now=NOW,
                channel="web",
                verified_how="zip+otp",
                conversation_id=None,
                profile=PROFILE,
            )


async def test_cancel_records_when_it_takes_effect(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        await records.enroll(s, **enroll_kwargs(seeded))  # type: ignore[arg-type]
    cancel_at = datetime(2026, 12, 16, 14, tzinfo=NY)  # after the Dec 18 draft went to the bank
    async with session_scope(session_factory) as s:
        result = await records.cancel(
            s,
            account_id=seeded["account"],
            now=cancel_at,
            channel="web",
            verified_how="zip+otp",
            conversation_id="conv-3",
            profile=PROFILE,
        )
        assert result.first_skipped == date(2027, 1, 18)
        assert result.still_happening == date(2026, 12, 18)
        assert result.enrollment.status == "cancelled"
    async with session_scope(session_factory) as s:
        assert await records.get_active(s, seeded["account"]) is None
        e = (await s.execute(select(DraftEnrollment))).scalar_one()
        assert e.ends_on == date(2026, 12, 18) and e.cancelled_at == cancel_at
        auth = (
            await s.execute(select(DraftAuthorization).where(DraftAuthorization.action == "cancel"))
        ).scalar_one()
        assert auth.text == (
            "Bank draft cancelled on Dec 16, 2026. Jefferson Energy Cooperative will make no "
            "drafts from Jan 18, 2027 on. The draft on Dec 18, 2026 was already sent to the bank "
            "and will still happen."
        )
    with pytest.raises(NotEnrolled):
        async with session_scope(session_factory) as s:
            await records.cancel(
                s,
                account_id=seeded["account"],
                now=cancel_at,
                channel="web",
                verified_how="zip+otp",
                conversation_id=None,
                profile=PROFILE,
            )
    # and the member can enroll again afterwards; the old authorizations are kept
    async with session_scope(session_factory) as s:
        await records.enroll(s, **enroll_kwargs(seeded, today=date(2026, 12, 16), now=cancel_at))  # type: ignore[arg-type]
        assert await s.scalar(select(func.count()).select_from(DraftAuthorization)) == 3


async def test_cancel_in_time_stops_the_next_draft(
    session_factory: async_sessionmaker[AsyncSession], seeded: dict[str, int]
) -> None:
    async with session_scope(session_factory) as s:
        await records.enroll(s, **enroll_kwargs(seeded))  # type: ignore[arg-type]
    async with session_scope(session_factory) as s:
        result = await records.cancel(
            s,
            account_id=seeded["account"],
            now=NOW,
            channel="web",
            verified_how="zip+otp",
            conversation_id=None,
            profile=PROFILE,
        )
        assert (result.first_skipped, result.still_happening) == (date(2026, 12, 18), None)
        assert result.enrollment.ends_on == TODAY


def test_all_draft_errors_are_value_errors_with_member_sentences() -> None:
    for cls in (
        DraftDayNotAllowed,
        CardNotAllowed,
        AlreadyEnrolled,
        NotEnrolled,
        PaymentMethodNotFound,
        DraftAmountInvalid,
        AmountRuleNotAllowed,
    ):
        assert issubclass(cls, DraftError) and issubclass(cls, ValueError)
