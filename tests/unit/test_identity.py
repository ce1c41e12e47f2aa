"""Identity verification: the rules a member (or an attacker) would notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.profile import load_profile
from bot.services.identity import (
    MISMATCH_MESSAGE,
    Tier,
    VerificationRules,
    VerificationService,
    VerificationStatus,
    normalize_account_number,
    normalize_zip,
    tier_still_valid,
)
from bot.store.db import session_scope
from bot.store.models import AuditEntry, Contact, Member, VerificationAttempt
from tests.store import rows

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
RULES = VerificationRules(member_services_phone="(706) 547-2167")
SECRET = "test-secret"


async def seed(factory) -> dict[str, int]:
    async with session_scope(factory) as s:
        dana = Member(member_number="M1", first_name="Dana", last_name="Whitfield")
        marcus = Member(member_number="M2", first_name="Marcus", last_name="Reed")
        s.add_all([dana, marcus])
        await s.flush()
        a1 = rows.account(dana, "1000004821")
        m1 = rows.account(marcus, "1000005560")
        m2 = rows.account(marcus, "1000005578")
        s.add_all([a1, m1, m2])
        s.add_all(
            [
                Contact(member_id=dana.id, kind="phone", value="+17065550101", is_primary=True),
                Contact(member_id=marcus.id, kind="phone", value="+17065550104", is_primary=True),
            ]
        )
        await s.flush()
        s.add_all(
            [
                rows.payment(
                    a1.id,
                    9000,
                    "p-old",
                    "Office",
                    channel="office",
                    received_at=NOW - timedelta(days=40),
                ),
                rows.payment(a1.id, 11820, "p-last", received_at=NOW - timedelta(days=16)),
                rows.payment(
                    a1.id,
                    5000,
                    "p-declined",
                    status="declined",
                    received_at=NOW - timedelta(days=2),
                ),
            ]
        )
        return {"dana": dana.id, "dana_acct": a1.id, "marcus": marcus.id, "m1": m1.id, "m2": m2.id}


@pytest.fixture
async def svc(session_factory):
    ids = await seed(session_factory)
    service = VerificationService(session_factory, SECRET, RULES)
    service.ids = ids  # type: ignore[attr-defined]
    return service


async def attempt(
    service: VerificationService,
    zip_code: str,
    *,
    account: str = "1000004821",
    conversation: str = "c1",
    at: datetime = NOW,
    **extra: str,
):
    """One account+ZIP attempt: Dana's account in conversation c1 at NOW unless told otherwise."""
    return await service.verify_account(
        conversation_id=conversation, account_number=account, zip_code=zip_code, now=at, **extra
    )


def test_tiers_are_ordered() -> None:
    assert Tier.PUBLIC < Tier.VERIFIED < Tier.CONFIRMED
    assert Tier.CONFIRMED >= Tier.VERIFIED
    assert not Tier.PUBLIC >= Tier.VERIFIED


def test_input_normalisation() -> None:
    assert normalize_account_number("1000-004 821") == "1000004821"
    assert normalize_account_number("100000482") is None
    assert normalize_account_number("10000048211") is None
    assert normalize_account_number("10000o4821") is None
    assert normalize_zip("30833") == "30833"
    assert normalize_zip("30833-1234") == "30833"
    assert normalize_zip("3083") is None


async def test_account_and_zip_verifies_and_lists_accounts(svc) -> None:
    r = await attempt(svc, "30833-0042", account="1000 004 821")
    assert r.ok and r.status is VerificationStatus.VERIFIED
    assert r.tier is Tier.VERIFIED
    assert r.method == "zip"
    assert r.member.first_name == "Dana"
    assert r.member.account_id == svc.ids["dana_acct"]
    assert [a.label for a in r.member.accounts] == ["account ending 4821 (412 Mill St, Wrens)"]


async def test_member_with_two_accounts_gets_both_to_pick_from(svc) -> None:
    r = await attempt(svc, "30805", account="1000005578")
    assert r.ok
    assert r.member.account_id == svc.ids["m2"]
    assert {a.last4 for a in r.member.accounts} == {"5560", "5578"}


async def test_last_payment_amount_is_a_second_factor(svc) -> None:
    ok = await svc.verify_account(
        conversation_id="c1", account_number="1000004821", last_payment_amount_cents=11820, now=NOW
    )
    assert ok.ok and ok.method == "last_payment"
    older = await svc.verify_account(
        conversation_id="c2", account_number="1000004821", last_payment_amount_cents=9000, now=NOW
    )
    assert older.status is VerificationStatus.MISMATCH


async def test_wrong_zip_and_unknown_account_get_identical_answers(svc) -> None:
    wrong_zip = await attempt(svc, "30434")
    unknown = await attempt(svc, "30833", account="9999999999", conversation="c2")
    assert wrong_zip.status is unknown.status is VerificationStatus.MISMATCH
    assert wrong_zip.message == unknown.message == MISMATCH_MESSAGE
    assert wrong_zip.member is None and unknown.member is None


async def test_attempts_store_only_an_hmac_of_the_account_number(svc, session_factory) -> None:
    await attempt(svc, "30434")
    await attempt(svc, "30833")
    async with session_factory() as s:
        rows = (await s.scalars(select(VerificationAttempt))).all()
    assert [r.success for r in rows] == [False, True]
    for row in rows:
        assert "1000004821" not in row.account_key and len(row.account_key) == 64
    assert rows[0].account_key == rows[1].account_key


async def test_malformed_input_is_re_asked_and_not_counted(svc, session_factory) -> None:
    for _ in range(6):
        r = await attempt(svc, "30833", account="12345")
        assert r.status is VerificationStatus.FORMAT and "10 digits" in r.message
    bad_zip = await attempt(svc, "308")
    assert bad_zip.status is VerificationStatus.FORMAT
    async with session_factory() as s:
        assert (await s.scalars(select(VerificationAttempt))).all() == []
    r = await attempt(svc, "30833")
    assert r.ok


async def test_fifth_failure_locks_the_conversation_and_points_to_the_phone(svc) -> None:
    for i in range(4):
        r = await attempt(svc, "30833", account=f"100000000{i}", at=NOW + timedelta(minutes=i))
        assert r.status is VerificationStatus.MISMATCH
    fifth = await attempt(svc, "11111", at=NOW + timedelta(minutes=4))
    assert fifth.status is VerificationStatus.LOCKED
    assert fifth.retry_after == NOW + timedelta(minutes=19)
    assert "(706) 547-2167" in fifth.message and "15 minutes" in fifth.message

    # Even the right answer fails while locked, and says when to try again.
    right = await attempt(svc, "30833", at=NOW + timedelta(minutes=10))
    assert right.status is VerificationStatus.LOCKED and right.member is None
    assert right.retry_after == NOW + timedelta(minutes=19)
    assert "9 minutes" in right.message

    # Another conversation on another account is unaffected by this conversation's lock.
    other = await attempt(
        svc, "30833", account="1000005560", conversation="c2", at=NOW + timedelta(minutes=10)
    )
    assert other.ok


async def test_lock_expires_after_fifteen_minutes(svc) -> None:
    for i in range(5):
        r = await attempt(svc, "30434", at=NOW + timedelta(seconds=i))
    assert r.status is VerificationStatus.LOCKED
    still = await attempt(svc, "30833", at=NOW + timedelta(minutes=14, seconds=59))
    assert still.status is VerificationStatus.LOCKED
    after = await attempt(svc, "30833", at=NOW + timedelta(minutes=15, seconds=5))
    assert after.ok


async def test_one_miss_after_a_lock_does_not_relock(svc) -> None:
    for _ in range(5):
        await attempt(svc, "30434")
    later = NOW + timedelta(minutes=15)
    miss = await attempt(svc, "30434", at=later)
    assert miss.status is VerificationStatus.MISMATCH


async def test_failures_on_one_account_across_conversations_lock_that_account(svc) -> None:
    for i in range(3):
        r = await attempt(svc, "30434", conversation="attacker-1", at=NOW + timedelta(minutes=i))
        assert r.status is VerificationStatus.MISMATCH
    r = await attempt(svc, "30805", conversation="attacker-2", at=NOW + timedelta(minutes=3))
    assert r.status is VerificationStatus.MISMATCH
    fifth = await attempt(svc, "30824", conversation="attacker-2", at=NOW + timedelta(minutes=4))
    assert fifth.status is VerificationStatus.LOCKED
    # The real member, in a fresh conversation, is locked out of that account too...
    member = await attempt(svc, "30833", conversation="dana", at=NOW + timedelta(minutes=5))
    assert member.status is VerificationStatus.LOCKED
    # ...but the lock is about that account: other accounts still verify in a fresh conversation.
    other = await attempt(
        svc, "30833", account="1000005560", conversation="marcus", at=NOW + timedelta(minutes=5)
    )
    assert other.ok


async def test_failures_older_than_the_window_do_not_count(svc) -> None:
    for i in range(4):
        await attempt(svc, "30434", at=NOW + timedelta(minutes=i))
    r = await attempt(svc, "30434", at=NOW + timedelta(minutes=16))
    assert r.status is VerificationStatus.MISMATCH


async def test_success_and_lockout_are_audited_without_the_account_number(
    svc, session_factory
) -> None:
    await attempt(svc, "30833", channel="web")
    for _ in range(5):
        await attempt(svc, "11111", account="1000005560", conversation="c2")
    async with session_factory() as s:
        entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    actions = [e.action for e in entries]
    assert "verification.success" in actions and "verification.lockout" in actions
    success = entries[actions.index("verification.success")]
    assert success.account_id == svc.ids["dana_acct"]
    assert success.verified_how == "account+zip" and success.conversation_id == "c1"
    for e in entries:
        assert "1000004821" not in str(e.details) and "1000005560" not in str(e.details)


async def test_phone_on_file_plus_zip_verifies(svc) -> None:
    accounts = await svc.accounts_for_phone("+17065550101")
    assert [a.last4 for a in accounts] == ["4821"]
    r = await svc.verify_by_phone(
        conversation_id="sms-1", phone_e164="+17065550101", zip_code="30833", now=NOW
    )
    assert r.ok and r.method == "phone_on_file" and r.verified_how == "phone_on_file+zip"
    assert r.member.account_id == svc.ids["dana_acct"]


async def test_phone_path_zip_picks_among_several_accounts(svc) -> None:
    accounts = await svc.accounts_for_phone("+17065550104")
    assert {a.last4 for a in accounts} == {"5560", "5578"}
    r = await svc.verify_by_phone(
        conversation_id="sms-2", phone_e164="+17065550104", zip_code="30805", now=NOW
    )
    assert r.ok and r.member.account_id == svc.ids["m2"]


async def test_phone_path_wrong_zip_counts_and_unknown_phone_asks_for_number(svc) -> None:
    unknown = await svc.verify_by_phone(
        conversation_id="sms-3", phone_e164="+14045550199", zip_code="30833", now=NOW
    )
    assert unknown.status is VerificationStatus.NOT_ON_FILE and unknown.member is None
    assert await svc.accounts_for_phone("+14045550199") == []
    for _ in range(4):
        r = await svc.verify_by_phone(
            conversation_id="sms-1", phone_e164="+17065550101", zip_code="30434", now=NOW
        )
        assert r.status is VerificationStatus.MISMATCH and r.message == MISMATCH_MESSAGE
    r = await svc.verify_by_phone(
        conversation_id="sms-1", phone_e164="+17065550101", zip_code="30434", now=NOW
    )
    assert r.status is VerificationStatus.LOCKED
    r = await svc.verify_by_phone(
        conversation_id="sms-1",
        phone_e164="+17065550101",
        zip_code="30833",
        now=NOW + timedelta(minutes=1),
    )
    assert r.status is VerificationStatus.LOCKED


def test_verified_tier_ends_after_fifteen_idle_minutes() -> None:
    verified_at = NOW
    assert tier_still_valid(verified_at, None, NOW + timedelta(minutes=14, seconds=59), RULES)
    assert not tier_still_valid(verified_at, None, NOW + timedelta(minutes=15), RULES)
    # Activity keeps it alive.
    assert tier_still_valid(
        verified_at, NOW + timedelta(minutes=40), NOW + timedelta(minutes=50), RULES
    )
    assert not tier_still_valid(
        verified_at, NOW + timedelta(minutes=40), NOW + timedelta(minutes=56), RULES
    )
    assert not tier_still_valid(None, NOW, NOW, RULES)


def test_rules_from_the_jec_profile() -> None:
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "jec.yml")
    rules = VerificationRules.from_profile(profile)
    assert rules.max_failures == 5
    assert rules.failure_window == timedelta(minutes=15)
    assert rules.lockout == timedelta(minutes=15)
    assert rules.session_idle == timedelta(minutes=15)
    assert rules.member_services_phone == "(706) 547-2167"


async def test_lockout_and_success_on_sqlite_and_postgresql(db_url) -> None:
    """The lock queries (max of aware timestamps, counts since the last lock) agree on both
    databases."""
    from bot.store.db import async_session_factory, make_async_engine

    engine = make_async_engine(db_url)
    try:
        factory = async_session_factory(engine)
        await seed(factory)
        service = VerificationService(factory, SECRET, RULES)
        for i in range(5):
            r = await attempt(service, "30434", conversation="pg", at=NOW + timedelta(minutes=i))
        assert r.status is VerificationStatus.LOCKED and r.retry_after == NOW + timedelta(
            minutes=19
        )
        after = await attempt(service, "30833", conversation="pg", at=NOW + timedelta(minutes=19))
        assert after.ok and after.member.first_name == "Dana"
    finally:
        await engine.dispose()


def test_long_locks_are_worded_in_hours() -> None:
    from bot.services.identity import locked_message

    assert "for 1 hour." in locked_message(NOW + timedelta(minutes=60), NOW, RULES)
    assert "for 2 hours." in locked_message(NOW + timedelta(minutes=61), NOW, RULES)
    assert "for 24 hours." in locked_message(NOW + timedelta(hours=24), NOW, RULES)
    assert "for 15 minutes." in locked_message(NOW + timedelta(minutes=15), NOW, RULES)


def test_client_addresses_are_bucketed_before_keying() -> None:
    from bot.services.throttle import address_bucket

    assert address_bucket("203.0.113.7") == "203.0.113.7"
    assert address_bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert address_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_bucket("[2001:db8::1]") == "2001:db8::/64"
    for junk in ("", "unknown", "203.0.113.7, 10.0.0.1", None, 42, "x" * 100):
        assert address_bucket(junk) is None


async def test_sources_are_stored_as_hmacs_only(svc, session_factory) -> None:
    await svc.verify_account(
        conversation_id="c1",
        account_number="1000004821",
        zip_code="30434",
        now=NOW,
        channel="sms",
        phone_e164="+17065550101",
        client_ip="203.0.113.7",
    )
    async with session_factory() as s:
        (row,) = (await s.scalars(select(VerificationAttempt))).all()
    assert len(row.phone_key) == len(row.address_key) == 64
    assert "7065550101" not in row.phone_key and "203.0.113" not in row.address_key
