"""`jecbot member export ACCOUNT` and `jecbot member erase ACCOUNT`: a member's data rights.

Export: everything the assistant holds about the member who holds ACCOUNT, as JSON: the member,
all their accounts, contacts, saved payment methods (as stored: brand and last 4, never the
processor token), bills, usage, payments, drafts and their authorizations, requests, outage
reports, handoffs, callbacks, audit entries, texts and emails sent to them, the record of bill,
payment and draft notices (`member_notices`, destinations masked), and their
conversations (messages as stored, already masked) with Rasa's tracker events. Secrets are left
out: one-time code hashes and salts, payment-link nonces, HMAC keys.

Erase: what the assistant may forget, keeping what the law and the co-op require. Erased: the
conversations and their messages, Rasa's tracker events for them, callback and handoff requests,
one-time codes, payment-page links, the restore-notice phone on outage reports, the integration
events about the member's changes (docs/integration.md; the co-op's systems keep what they were
sent), and texts and emails to the member (bodies blanked, destination masked). Kept: the
member, accounts, bills, usage and payments (the billing system's financial records), draft
enrollments and authorizations (NACHA), service requests, notification preferences and SMS
opt-outs (so the member is never texted against their wish), the notice records (already masked;
they keep a notice from going twice), and the audit log, which gains a `member_erased` entry.
Verification attempts are keyed, not linked to a member; they age out with retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, inspect, or_, select, text, update
from sqlalchemy.orm import Session

from bot.core.masking import mask_email, mask_phone
from bot.store.db import make_sync_engine
from bot.store.models import (
    Account,
    AuditEntry,
    Base,
    Bill,
    CallbackRequest,
    Contact,
    Conversation,
    ConversationMessage,
    DraftAuthorization,
    DraftEnrollment,
    HandoffRequest,
    IntegrationDelivery,
    IntegrationEvent,
    Member,
    MemberNotice,
    NotificationPreference,
    OneTimeCode,
    OutageReport,
    OutboxMessage,
    Payment,
    PaymentLink,
    PaymentMethod,
    ScheduledDraft,
    ServiceRequest,
    SmsOptOut,
    UsageReading,
)

# Columns never exported: secrets or keys that identify nothing to the member.
SECRET_COLUMNS = {
    "payment_methods": {"token"},
    "one_time_codes": {"code_hash", "salt", "destination_key"},
    "payment_links": {"nonce"},
}
KEPT = (
    "member, accounts, bills, usage, payments (financial records)",
    "draft enrollments and authorizations (NACHA)",
    "service requests, notification preferences, SMS opt-outs",
    "audit log (with this erasure recorded)",
)


class MemberNotFound(Exception):
    """No account with that number."""


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(obj: Base) -> dict[str, Any]:
    table = obj.__table__.name  # type: ignore[attr-defined]
    hidden = SECRET_COLUMNS.get(table, set())
    return {
        c.key: _value(getattr(obj, c.key))
        for c in inspect(obj).mapper.column_attrs
        if c.key not in hidden
    }


@dataclass
class _Scope:
    """The rows that belong to one member, found from one of their account numbers."""

    member: Member
    account_ids: list[int]
    phones: list[str]
    emails: list[str]
    conversation_ids: set[str] = field(default_factory=set)


def _scope(session: Session, account_number: str) -> _Scope:
    account = session.scalar(select(Account).where(Account.account_number == account_number))
    if account is None:
        raise MemberNotFound(f"no account {account_number}")
    member = account.member
    account_ids = [a.id for a in member.accounts]
    contacts = member.contacts
    scope = _Scope(
        member=member,
        account_ids=account_ids,
        phones=[c.value for c in contacts if c.kind == "phone"],
        emails=[c.value for c in contacts if c.kind == "email"],
    )
    referenced = [
        select(AuditEntry.conversation_id).where(AuditEntry.account_id.in_(account_ids)),
        select(HandoffRequest.conversation_id).where(
            or_(HandoffRequest.account_id.in_(account_ids), HandoffRequest.member_id == member.id)
        ),
        select(CallbackRequest.conversation_id).where(
            or_(
                CallbackRequest.account_id.in_(account_ids), CallbackRequest.phone.in_(scope.phones)
            )
        ),
        select(ServiceRequest.conversation_id).where(ServiceRequest.member_id == member.id),
        select(OutageReport.conversation_id).where(OutageReport.account_id.in_(account_ids)),
        select(OneTimeCode.conversation_id).where(OneTimeCode.account_id.in_(account_ids)),
        select(PaymentLink.conversation_id).where(PaymentLink.member_id == member.id),
        select(Conversation.id).where(
            Conversation.channel == "sms", Conversation.external_id.in_(scope.phones)
        ),
    ]
    for query in referenced:
        scope.conversation_ids.update(c for c in session.scalars(query) if c)
    return scope


def _rows(session: Session, query: Any) -> list[dict[str, Any]]:
    return [_row(obj) for obj in session.scalars(query)]


def _condition(model: Any, where: tuple[str, Any] | list[tuple[str, Any]]) -> Any:
    """For a (column name, value) pair: that column equals the value, or is one of the values
    when they are a list or a query; for a list of pairs: any of them holds."""
    if isinstance(where, list):
        return or_(*(_condition(model, one) for one in where))
    column, value = getattr(model, where[0]), where[1]
    return column == value if isinstance(value, int) else column.in_(value)


def export_member(database_url: str, tracker_url: str, account_number: str) -> dict[str, Any]:
    """Everything held about the member who holds `account_number`, JSON-ready."""
    engine = make_sync_engine(database_url)
    try:
        with Session(engine) as s:
            scope = _scope(s, account_number)
            accounts, member_id = scope.account_ids, scope.member.id
            enrollments = select(DraftEnrollment.id).where(DraftEnrollment.account_id.in_(accounts))
            conversations = scope.conversation_ids
            by_member = ("member_id", member_id)
            by_account = ("account_id", accounts)
            by_enrollment = ("enrollment_id", enrollments)
            # What is exported, in this order: a table and the rows of it that are the member's.
            # A condition is (column, value): equal to it, or one of them; a list: any of these.
            tables: list[tuple[str, Any, Any]] = [
                ("accounts", Account, ("id", accounts)),
                ("contacts", Contact, by_member),
                ("payment_methods", PaymentMethod, by_member),
                ("bills", Bill, by_account),
                ("usage_readings", UsageReading, by_account),
                ("payments", Payment, by_account),
                ("draft_enrollments", DraftEnrollment, by_account),
                ("draft_authorizations", DraftAuthorization, by_enrollment),
                ("scheduled_drafts", ScheduledDraft, by_enrollment),
                ("notification_preferences", NotificationPreference, by_account),
                ("notices", MemberNotice, by_account),
                ("service_requests", ServiceRequest, by_member),
                ("outage_reports", OutageReport, by_account),
                ("callback_requests", CallbackRequest, [by_account, ("phone", scope.phones)]),
                ("handoff_requests", HandoffRequest, [by_account, by_member]),
                ("one_time_codes", OneTimeCode, by_account),
                ("payment_links", PaymentLink, by_member),
                ("audit_log", AuditEntry, by_account),
                ("texts_and_emails", OutboxMessage, ("to", scope.phones + scope.emails)),
                ("sms_opt_outs", SmsOptOut, ("phone", scope.phones)),
                ("conversations", Conversation, ("id", conversations)),
            ]
            data = {"member": _row(scope.member)}
            for name, model, where in tables:
                data[name] = _rows(s, select(model).where(_condition(model, where)))
            data["messages"] = _rows(
                s,
                select(ConversationMessage)
                .where(ConversationMessage.conversation_id.in_(conversations))
                .order_by(ConversationMessage.conversation_id, ConversationMessage.seq),
            )
    finally:
        engine.dispose()
    data["tracker_events"] = _tracker(tracker_url, sorted(scope.conversation_ids), erase=False)
    return data


def _tracker(tracker_url: str, senders: list[str], *, erase: bool) -> Any:
    """Rasa's events for these conversations (export), or how many were deleted (erase)."""
    if not tracker_url or not senders:
        return 0 if erase else []
    engine: Engine = make_sync_engine(tracker_url)
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table("events"):
                return 0 if erase else []
            params = {f"s{i}": sender for i, sender in enumerate(senders)}
            where = "sender_id in (" + ", ".join(f":{k}" for k in params) + ")"
            if erase:
                return conn.execute(text(f"delete from events where {where}"), params).rowcount
            rows = conn.execute(
                text(
                    "select sender_id, type_name, timestamp, intent_name, action_name, data "
                    f"from events where {where} order by id"
                ),
                params,
            ).mappings()
            return [{**row, "data": json.loads(row["data"] or "null")} for row in rows]
    finally:
        engine.dispose()


@dataclass(frozen=True)
class ErasureReport:
    account_number: str
    erased: dict[str, int]
    kept: tuple[str, ...] = KEPT

    def summary(self) -> str:
        lines = [f"Erased for the member holding account {self.account_number}:"]
        lines += [f"  {name:<34} {n:>6}" for name, n in self.erased.items()]
        lines.append("Kept (required by law or the co-op):")
        lines += [f"  {item}" for item in self.kept]
        return "\n".join(lines)


def erase_member(
    database_url: str, tracker_url: str, account_number: str, now: datetime, actor: str
) -> ErasureReport:
    """Forget what may be forgotten about the member (module docstring); one audit entry."""
    engine = make_sync_engine(database_url)
    erased: dict[str, int] = {}
    try:
        with Session(engine) as s, s.begin():
            scope = _scope(s, account_number)
            accounts, member_id = scope.account_ids, scope.member.id
            conversations = sorted(scope.conversation_ids)
            nosync = {"synchronize_session": False}

            def run(name: str, stmt: Any) -> None:
                erased[name] = s.execute(stmt.execution_options(**nosync)).rowcount or 0

            run(
                "messages",
                delete(ConversationMessage).where(
                    ConversationMessage.conversation_id.in_(conversations)
                ),
            )
            run("conversations", delete(Conversation).where(Conversation.id.in_(conversations)))
            run(
                "callback requests",
                delete(CallbackRequest).where(
                    or_(
                        CallbackRequest.account_id.in_(accounts),
                        CallbackRequest.phone.in_(scope.phones),
                    )
                ),
            )
            run(
                "handoff requests",
                delete(HandoffRequest).where(
                    or_(
                        HandoffRequest.account_id.in_(accounts),
                        HandoffRequest.member_id == member_id,
                    )
                ),
            )
            run("one-time codes", delete(OneTimeCode).where(OneTimeCode.account_id.in_(accounts)))
            run("payment links", delete(PaymentLink).where(PaymentLink.member_id == member_id))
            run(
                "outage restore-notice phones",
                update(OutageReport)
                .where(
                    OutageReport.account_id.in_(accounts), OutageReport.notify_phone.is_not(None)
                )
                .values(notify_phone=None, notify_on_restore=False),
            )
            # the events about the member's changes carry their contacts and addresses
            theirs = or_(
                IntegrationEvent.account_id.in_(accounts), IntegrationEvent.member_id == member_id
            )
            run(
                "integration event deliveries",
                delete(IntegrationDelivery).where(
                    IntegrationDelivery.event_pk.in_(select(IntegrationEvent.id).where(theirs))
                ),
            )
            run("integration events", delete(IntegrationEvent).where(theirs))
            sent = 0
            for to in scope.phones + scope.emails:
                masked = mask_phone(to) if to in scope.phones else mask_email(to)
                result = s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.to == to)
                    .values(to=masked, body="")
                    .execution_options(**nosync)
                )
                sent += result.rowcount or 0
            erased["texts and emails (blanked)"] = sent
            erased["Rasa tracker events"] = 0  # filled in below, after this commit
            s.add(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="member_erased",
                    account_id=accounts[0] if accounts else None,
                    details={"account_ids": accounts, **{k: v for k, v in erased.items() if v}},
                )
            )
    finally:
        engine.dispose()
    erased["Rasa tracker events"] = _tracker(tracker_url, conversations, erase=True)
    return ErasureReport(account_number, erased)
