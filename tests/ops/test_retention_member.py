"""Retention deletes what is past its period (injected clock) and nothing else; a member's
export holds what we hold about them, masked as stored; erasure keeps what the law requires.
The data-layer tests run on SQLite and on PostgreSQL (`db_url`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.config import load_settings
from bot.demo import generate_demo_data
from bot.ops.member import MemberNotFound, erase_member, export_member
from bot.ops.retention import run_retention
from bot.profile import Retention, load_profile
from bot.store.db import make_sync_engine
from bot.store.models import (
    Account,
    AuditEntry,
    CallbackRequest,
    Conversation,
    ConversationMessage,
    DraftAuthorization,
    DraftEnrollment,
    OutboxMessage,
    Payment,
    PaymentMethod,
    VerificationAttempt,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DANA, DANA_PHONE = "1000004821", "+17065550101"


@pytest.fixture
def profile():
    return load_profile(load_settings().coop_profile)


def _tracker(path: Path, rows: list[tuple[str, float]]) -> str:
    conn = sqlite3.connect(path)
    conn.execute(
        "create table events (id integer primary key, sender_id text, type_name text, "
        "timestamp real, intent_name text, action_name text, data text)"
    )
    conn.executemany(
        "insert into events (sender_id, type_name, timestamp, data) values (?, 'user', ?, ?)",
        [(sender, ts, json.dumps({"text": "hi"})) for sender, ts in rows],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def _count(url: str, model, *where) -> int:
    engine = make_sync_engine(url)
    with Session(engine) as s:
        n = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    engine.dispose()
    return n


def _add(url: str, *objs) -> None:
    engine = make_sync_engine(url)
    with Session(engine) as s, s.begin():
        for obj in objs:
            s.add(obj)
            s.flush()
    engine.dispose()


def _conversation(cid: str, at: datetime, text: str = "hello", channel: str = "web", ext=None):
    return [
        Conversation(
            id=cid, channel=channel, external_id=ext or cid, created_at=at, last_activity_at=at
        ),
        ConversationMessage(
            conversation_id=cid, seq=1, direction="in", sender="member", text=text, created_at=at
        ),
    ]


def test_retention_deletes_only_what_is_past_its_period(db_url, tmp_path, profile):
    generate_demo_data(db_url, members=2, today=date(2026, 11, 28))
    profile = replace(
        profile,
        retention=Retention(
            conversation_messages_days=30,
            verification_attempts_days=7,
            outbox_bodies_days=3,
            audit_entries_days=100,
        ),
    )
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=2)
    _add(
        db_url,
        *_conversation("web-old", old),
        *_conversation("web-new", recent),
        VerificationAttempt(
            conversation_id="c",
            account_key="k",
            method="zip",
            success=False,
            created_at=NOW - timedelta(days=8),
        ),
        VerificationAttempt(
            conversation_id="c", account_key="k", method="zip", success=False, created_at=recent
        ),
        OutboxMessage(
            channel="sms",
            to=DANA_PHONE,
            body="Your code is 123456",
            status="outbox",
            created_at=NOW - timedelta(days=4),
        ),
        OutboxMessage(
            channel="sms", to=DANA_PHONE, body="Receipt", status="outbox", created_at=recent
        ),
        AuditEntry(at=NOW - timedelta(days=101), actor="system", action="old"),
        AuditEntry(at=recent, actor="system", action="new"),
    )
    tracker = _tracker(
        tmp_path / "tracker.db", [("web-old", old.timestamp()), ("web-new", recent.timestamp())]
    )
    payments_before = _count(db_url, Payment)

    dry = run_retention(db_url, tracker, profile, NOW, dry_run=True)
    assert dry.counts["conversation messages"] == 1
    assert dry.counts["Rasa tracker events"] == 1
    assert _count(db_url, ConversationMessage) == 2  # a dry run deletes nothing

    report = run_retention(db_url, tracker, profile, NOW)
    assert report.counts == dry.counts
    assert _count(db_url, Conversation) == 1
    assert _count(db_url, Conversation, Conversation.id == "web-new") == 1
    assert _count(db_url, VerificationAttempt) == 1
    assert _count(db_url, OutboxMessage, OutboxMessage.body == "") == 1
    assert _count(db_url, OutboxMessage) == 2  # who and when stay
    assert _count(db_url, AuditEntry, AuditEntry.action == "old") == 0
    assert _count(db_url, AuditEntry, AuditEntry.action == "new") == 1
    assert _count(db_url, Payment) == payments_before  # never deleted here
    conn = sqlite3.connect(tmp_path / "tracker.db")
    assert [r[0] for r in conn.execute("select sender_id from events")] == ["web-new"]
    conn.close()
    again = run_retention(db_url, tracker, profile, NOW)
    assert not any(again.counts.values())


def test_draft_authorizations_are_kept_two_years_after_cancellation(db_url, profile):
    generate_demo_data(db_url, members=2, today=date(2026, 11, 28))
    engine = make_sync_engine(db_url)
    with Session(engine) as s, s.begin():
        account = s.scalar(select(Account).where(Account.account_number == DANA))
        method = s.scalar(select(PaymentMethod).where(PaymentMethod.member_id == account.member_id))
        for cancelled in (NOW - timedelta(days=2 * 365 + 2), NOW - timedelta(days=2 * 365 - 30)):
            enrollment = DraftEnrollment(
                account_id=account.id,
                payment_method_id=method.id,
                draft_day=3,
                amount_rule="full_balance",
                status="cancelled",
                starts_on=date(2023, 1, 3),
                cancelled_at=cancelled,
            )
            s.add(enrollment)
            s.flush()
            s.add(
                DraftAuthorization(
                    enrollment_id=enrollment.id,
                    action="cancel",
                    text="...",
                    accepted_at=cancelled,
                    channel="web",
                    verified_how="otp",
                )
            )
    engine.dispose()
    before = _count(db_url, DraftAuthorization)
    report = run_retention(db_url, "", profile, NOW)
    assert report.counts["draft authorizations"] == 1
    assert _count(db_url, DraftAuthorization) == before - 1


def test_member_export_holds_their_data_masked_as_stored(db_url, tmp_path):
    generate_demo_data(db_url, members=2, today=date(2026, 11, 28))
    _add(
        db_url,
        *_conversation(
            "sms-dana", NOW, text="pay with 4242 **** **** 4242", channel="sms", ext=DANA_PHONE
        ),
        *_conversation("web-someone-else", NOW),
        OutboxMessage(channel="sms", to=DANA_PHONE, body="Receipt", status="outbox"),
    )
    tracker = _tracker(tmp_path / "t.db", [("sms-dana", NOW.timestamp()), ("web-x", 1.0)])
    data = export_member(db_url, tracker, DANA)
    assert data["member"]["first_name"] == "Dana"
    assert DANA in [a["account_number"] for a in data["accounts"]]
    assert [m["text"] for m in data["messages"]] == ["pay with 4242 **** **** 4242"]
    assert [e["sender_id"] for e in data["tracker_events"]] == ["sms-dana"]
    assert data["texts_and_emails"] and data["payments"]
    assert all("token" not in m and len(m["last4"]) == 4 for m in data["payment_methods"])
    json.dumps(data)  # JSON-ready
    with pytest.raises(MemberNotFound):
        export_member(db_url, tracker, "9999999999")


def test_member_erase_forgets_conversations_and_keeps_payments_and_authorizations(db_url, tmp_path):
    generate_demo_data(db_url, members=2, today=date(2026, 11, 28))
    _add(
        db_url,
        *_conversation("sms-dana", NOW, channel="sms", ext=DANA_PHONE),
        *_conversation("web-someone-else", NOW),
        OutboxMessage(channel="sms", to=DANA_PHONE, body="Receipt for $142.87", status="outbox"),
        CallbackRequest(channel="sms", phone=DANA_PHONE, name="Dana", conversation_id="sms-dana"),
    )
    tracker = _tracker(tmp_path / "t.db", [("sms-dana", NOW.timestamp()), ("web-x", 1.0)])
    payments = _count(db_url, Payment)
    report = erase_member(db_url, tracker, DANA, NOW, actor="it:maria")
    assert report.erased["messages"] == 1 and report.erased["Rasa tracker events"] == 1
    assert _count(db_url, Conversation, Conversation.id == "sms-dana") == 0
    assert _count(db_url, Conversation, Conversation.id == "web-someone-else") == 1
    assert _count(db_url, CallbackRequest) == 0
    assert _count(db_url, OutboxMessage, OutboxMessage.to == DANA_PHONE) == 0
    assert _count(db_url, OutboxMessage, OutboxMessage.to == "***-***-0101") == 1
    assert _count(db_url, Payment) == payments  # financial records stay
    assert _count(db_url, AuditEntry, AuditEntry.action == "member_erased") == 1
    data = export_member(db_url, tracker, DANA)
    assert data["messages"] == [] and data["member"]["first_name"] == "Dana"


def test_jecbot_member_erase_needs_yes(sqlite_url, monkeypatch, capsys):
    generate_demo_data(sqlite_url, members=1, today=date(2026, 11, 28))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RASA_TRACKER_URL", "sqlite:///" + sqlite_url.split("///")[1] + ".t")
    assert main(["member", "erase", DANA]) == 1
    assert "--yes" in capsys.readouterr().err
    assert main(["member", "export", DANA]) == 0
    assert json.loads(capsys.readouterr().out)["member"]["last_name"] == "Whitfield"
    assert main(["retention", "--dry-run"]) == 0
    assert "would delete" in capsys.readouterr().out
