"""Issue 12 items 3 and 14: verification failures are counted across conversations (per account,
per phone, per client address and overall), so guessing from fresh conversations gets nowhere."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from sqlalchemy import select

from bot.actions.identity.verify import ValidateVerifyForm
from bot.store.models import AuditEntry
from tests.actions.identity_helpers import DANA_ACCOUNT, DANA_ZIP, make_tracker, run
from tests.security.conftest import COMMON_ZIPS, add_sequential_accounts, sms, web

ATTACKER_IP = "203.0.113.7"
PAUSED = "paused verification"


class Attacker:
    """Each guess from a brand-new conversation, as a script would do it."""

    conversations = itertools.count(1)

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    async def guess(self, account: str, zip_code: str) -> tuple[list[str], dict[str, Any]]:
        tracker = make_tracker(
            text=f"{account} {zip_code}",
            new_slots={"account_number": account, "zip_code": zip_code},
            active_loop="verify_form",
            sender_id=f"attack-{next(self.conversations)}",
            metadata=self.metadata,
        )
        texts, _, slots = await run(ValidateVerifyForm(), tracker)
        return texts, slots


async def audit_actions(factory) -> list[str]:
    async with factory() as session:
        return list((await session.scalars(select(AuditEntry.action))).all())


async def enumerate_accounts(attacker: Attacker, accounts: list[tuple[str, str]]) -> list[str]:
    """Try the commonest ZIPs on every account in turn; the accounts that verified."""
    verified = []
    for number, _real_zip in accounts:
        for zip_code in COMMON_ZIPS:
            _texts, slots = await attacker.guess(number, zip_code)
            if slots.get("tier") == "verified":
                verified.append(number)
                break
    return verified


async def test_forty_sequential_accounts_from_fresh_web_chats_are_not_verified(
    demo_deps, session_factory, caplog
) -> None:
    accounts = await add_sequential_accounts(session_factory, 40)
    attacker = Attacker(web(ATTACKER_IP))
    with caplog.at_level(logging.WARNING):
        verified = await enumerate_accounts(attacker, accounts)
    assert len(verified) <= 5, f"{len(verified)} of 40 accounts verified"
    # The address is told to stop, in the usual locked wording, even for a right answer.
    texts, slots = await attacker.guess(*accounts[-1])
    assert PAUSED in texts[0] and slots.get("tier") is None
    assert "verification.address_locked" in await audit_actions(session_factory)
    assert any(
        "verification" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records
    )
    # Members elsewhere are unaffected.
    member = Attacker(web("198.51.100.20"))
    _texts, slots = await member.guess(DANA_ACCOUNT, DANA_ZIP)
    assert slots.get("tier") == "verified"


async def test_the_same_guessing_by_text_from_one_phone_is_stopped(
    demo_deps, session_factory
) -> None:
    accounts = await add_sequential_accounts(session_factory, 40)
    attacker = Attacker(sms("+14045550199"))  # not on file: the account-number path
    verified = await enumerate_accounts(attacker, accounts)
    assert len(verified) <= 5, f"{len(verified)} of 40 accounts verified"
    assert "verification.phone_locked" in await audit_actions(session_factory)


async def test_an_address_trying_many_accounts_waits_longer_each_time(
    demo_deps, session_factory, clock
) -> None:
    attacker = Attacker(web(ATTACKER_IP))
    answers = [(await attacker.guess(f"10099990{i:02d}", "30833"))[0][0] for i in range(10)]
    assert PAUSED not in answers[0] and PAUSED in answers[-1]
    assert "1 hour" in answers[-1]
    clock.advance(minutes=61)
    texts, _ = await attacker.guess("1009999100", "30833")
    assert PAUSED in texts[0] and "2 hours" in texts[0]  # the next pause is longer


async def test_an_account_is_locked_for_the_day_after_ten_failures_from_anywhere(
    demo_deps, session_factory, clock
) -> None:
    n = 0
    for _round in range(2):  # five misses, wait out the 15-minute lock, five more
        for _ in range(5):
            n += 1
            texts, _ = await Attacker(web(f"192.0.2.{n}")).guess(DANA_ACCOUNT, "30801")
        assert PAUSED in texts[0]
        clock.advance(minutes=16)
    # The real member, from a fresh conversation and address, is refused for the rest of the day
    # and pointed to the phone line...
    texts, slots = await Attacker(web("198.51.100.20")).guess(DANA_ACCOUNT, DANA_ZIP)
    assert PAUSED in texts[0] and "(706) 547-2167" in texts[0] and slots.get("tier") is None
    assert "verification.account_locked" in await audit_actions(session_factory)
    clock.advance(hours=24)
    _texts, slots = await Attacker(web("198.51.100.20")).guess(DANA_ACCOUNT, DANA_ZIP)
    assert slots.get("tier") == "verified"


async def test_failures_climbing_across_many_addresses_raise_an_alert(
    demo_deps, session_factory, caplog
) -> None:
    with caplog.at_level(logging.WARNING):
        for i in range(40):  # a botnet: every guess from a new address, on a new account
            await Attacker(web(f"198.18.{i}.1")).guess(f"10088880{i:02d}", "30833")
    actions = await audit_actions(session_factory)
    assert actions.count("verification.failure_rate_high") == 1  # once per window, not per try
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("failure" in r.getMessage() for r in warnings)


async def test_ipv6_addresses_of_one_subscriber_count_as_one_source(demo_deps) -> None:
    """An IPv6 subscriber gets a whole /64: changing the last 64 bits starts nothing afresh."""
    texts = []
    for i in range(7):
        attacker = Attacker(web(f"2001:db8:1:2::{i + 1:x}"))
        texts, _ = await attacker.guess(f"10077770{i:02d}", "30833")
    assert PAUSED in texts[0]
    texts, _ = await Attacker(web("2001:db8:1:3::1")).guess("1007777100", "30833")
    assert PAUSED not in texts[0]  # the next /64 is someone else


async def test_a_locked_address_is_told_before_being_asked_anything(demo_deps) -> None:
    from bot.actions.identity.questions import ActionAskAccountNumber

    attacker = Attacker(web(ATTACKER_IP))
    for i in range(6):
        await attacker.guess(f"10066660{i:02d}", "30833")
    ask = make_tracker(
        text="whats my balance",
        intent="check_balance",
        metadata=web(ATTACKER_IP),
        sender_id="attack-new",
    )
    (text,), _, _ = await run(ActionAskAccountNumber(), ask)
    assert PAUSED in text and "account number" not in text


async def test_cross_conversation_locks_on_sqlite_and_postgresql(db_url) -> None:
    """The lock table, distinct counts and doubling agree on both databases."""
    from datetime import timedelta

    from bot.services.identity import VerificationRules, VerificationService, VerificationStatus
    from bot.store.db import async_session_factory, make_async_engine
    from tests.actions.identity_helpers import NOW

    engine = make_async_engine(db_url)
    try:
        factory = async_session_factory(engine)
        accounts = await add_sequential_accounts(factory, 8)
        service = VerificationService(factory, "x" * 40, VerificationRules())

        async def guess(i: int, number: str, zip_code: str, at):
            return await service.verify_account(
                conversation_id=f"pg-{i}",
                account_number=number,
                zip_code=zip_code,
                now=at,
                client_ip=ATTACKER_IP,
            )

        results = [await guess(i, n, z, NOW) for i, (n, z) in enumerate(accounts[:6])]
        assert [r.status for r in results[:5]] == [VerificationStatus.VERIFIED] * 5
        assert results[5].status is VerificationStatus.LOCKED
        assert results[5].retry_after == NOW + timedelta(hours=1)
        later = NOW + timedelta(minutes=61)
        again = await guess(7, *accounts[7], later)
        assert again.status is VerificationStatus.LOCKED
        assert again.retry_after == later + timedelta(hours=2)
    finally:
        await engine.dispose()


async def _lock_an_address(service, accounts, now):
    for i, (number, zip_code) in enumerate(accounts[:6]):
        result = await service.verify_account(
            conversation_id=f"r-{i}",
            account_number=number,
            zip_code=zip_code,
            now=now,
            client_ip=ATTACKER_IP,
        )
    return result


async def test_locks_are_mirrored_in_redis_where_configured(session_factory, redis_url) -> None:
    import uuid

    from sqlalchemy import delete

    from bot.adapters.redis_locks import RedisLockMirror
    from bot.services.identity import VerificationService, VerificationStatus
    from bot.store.models import SecurityLock
    from tests.actions.identity_helpers import NOW

    url = redis_url
    mirror = RedisLockMirror(url)
    try:
        accounts = await add_sequential_accounts(session_factory, 8)
        secret = uuid.uuid4().hex * 2  # keys of their own: no other test's locks apply
        service = VerificationService(session_factory, secret, mirror=mirror)
        assert (await _lock_an_address(service, accounts, NOW)).status is VerificationStatus.LOCKED
        async with session_factory() as session:
            await session.execute(delete(SecurityLock))
            await session.commit()
        # The database row is gone; the Redis copy still refuses the address, for the hour.
        again = await service.verify_account(
            conversation_id="r-9",
            account_number=accounts[0][0],
            zip_code=accounts[0][1],
            now=NOW,
            client_ip=ATTACKER_IP,
        )
        assert again.status is VerificationStatus.LOCKED
        keys = await mirror._client.keys("jec:lock:address:*")
        assert keys and 3500 < await mirror._client.pttl(keys[0]) / 1000 <= 3600
        await mirror._client.delete(*keys)
    finally:
        await mirror.close()


async def test_an_unreachable_redis_only_means_the_database_answers(session_factory) -> None:
    from bot.adapters.redis_locks import RedisLockMirror
    from bot.services.identity import VerificationService, VerificationStatus
    from tests.actions.identity_helpers import NOW

    mirror = RedisLockMirror("redis://127.0.0.1:1/0", timeout_seconds=0.5)
    try:
        accounts = await add_sequential_accounts(session_factory, 8)
        service = VerificationService(session_factory, "s" * 40, mirror=mirror)
        assert (await _lock_an_address(service, accounts, NOW)).status is VerificationStatus.LOCKED
    finally:
        await mirror.close()
