"""SQLAlchemy 2 models of the member-services data layer.

Money is stored as integer cents (`*_cents` columns, `BigInteger`) and converted to `Decimal` by
`bot.services.money`. Every timestamp is a `UTCDateTime` (aware, UTC). Card and bank numbers are
never stored: a payment method keeps the processor's token, its type, brand and last four only.
Schema changes go through Alembic (`bot/store/migrations`), never `create_all` in production.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Member(Base):
    """A person (or business) who holds one or more accounts."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_number: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    is_senior: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="member")
    contacts: Mapped[list[Contact]] = relationship(back_populates="member")
    payment_methods: Mapped[list[PaymentMethod]] = relationship(back_populates="member")


class Account(Base):
    """A service account: 10-digit number, one service address."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(10), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|disconnected|final
    service_street: Mapped[str] = mapped_column(String(200))
    service_town: Mapped[str] = mapped_column(String(80), index=True)
    service_zip: Mapped[str] = mapped_column(String(10), index=True)
    county: Mapped[str | None] = mapped_column(String(80))
    feeder: Mapped[str | None] = mapped_column(String(40))
    paperless: Mapped[bool] = mapped_column(Boolean, default=False)
    levelized_billing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="accounts")
    bills: Mapped[list[Bill]] = relationship(back_populates="account", order_by="Bill.billing_date")
    payments: Mapped[list[Payment]] = relationship(back_populates="account")


class Contact(Base):
    """A phone (E.164) or email address on file for a member."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("member_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # phone|email
    value: Mapped[str] = mapped_column(String(254), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="contacts")


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_id", "billing_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    billing_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    kwh: Mapped[int] = mapped_column(Integer)
    late_fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="bills")


class PaymentMethod(Base):
    """A tokenised card or bank account. Never a full number, never a CVV."""

    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # card|checking|savings
    brand: Mapped[str | None] = mapped_column(String(30))  # Visa, Mastercard, ... or bank name
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    holder_name: Mapped[str | None] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="payment_methods")


class Payment(Base):
    """A payment attempt. `idempotency_key` is unique: a retry returns the first row."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    method_label: Mapped[str] = mapped_column(String(60))  # "Visa ending 4242", "Office", "Draft"
    status: Mapped[str] = mapped_column(String(12))  # pending|succeeded|declined|failed
    confirmation_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(12))  # web|sms|office|draft|phone|import
    processor_reference: Mapped[str | None] = mapped_column(String(80))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column()

    account: Mapped[Account] = relationship(back_populates="payments")


class DraftEnrollment(Base):
    """A recurring bank draft (NACHA WEB debit) for one account."""

    __tablename__ = "draft_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    draft_day: Mapped[int] = mapped_column(Integer)
    amount_rule: Mapped[str] = mapped_column(String(12))  # full_balance|fixed
    fixed_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|cancelled
    starts_on: Mapped[date] = mapped_column(Date)
    cancelled_at: Mapped[datetime | None] = mapped_column()
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    authorizations: Mapped[list[DraftAuthorization]] = relationship(back_populates="enrollment")


class DraftAuthorization(Base):
    """The exact wording a member agreed to, kept at least two years after the enrollment ends."""

    __tablename__ = "draft_authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("draft_enrollments.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))  # enroll|change|cancel
    text: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(12))
    verified_how: Mapped[str] = mapped_column(String(60))
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    copy_sent_to: Mapped[str | None] = mapped_column(String(254))  # masked destination

    enrollment: Mapped[DraftEnrollment] = relationship(back_populates="authorizations")


class ScheduledDraft(Base):
    """One draft run; the unique key makes the scheduler safe to run twice."""

    __tablename__ = "scheduled_drafts"
    __table_args__ = (UniqueConstraint("enrollment_id", "draft_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("draft_enrollments.id"))
    draft_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageReading(Base):
    __tablename__ = "usage_readings"
    __table_args__ = (UniqueConstraint("account_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    day: Mapped[date] = mapped_column(Date)
    kwh: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    cost_cents: Mapped[int] = mapped_column(BigInteger)


class Outage(Base):
    __tablename__ = "outages"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|restored
    cause: Mapped[str | None] = mapped_column(String(120))
    crew_status: Mapped[str | None] = mapped_column(String(120))  # assessing|dispatched|on site
    customers_affected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column()
    estimated_restoration_at: Mapped[datetime | None] = mapped_column()
    restored_at: Mapped[datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(40), default="outage management system")

    areas: Mapped[list[OutageArea]] = relationship(back_populates="outage")


class OutageArea(Base):
    """Where an outage is: any of town, ZIP or feeder."""

    __tablename__ = "outage_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id"), index=True)
    town: Mapped[str | None] = mapped_column(String(80), index=True)
    zip: Mapped[str | None] = mapped_column(String(10), index=True)
    feeder: Mapped[str | None] = mapped_column(String(40))

    outage: Mapped[Outage] = relationship(back_populates="areas")


class OutageReport(Base):
    __tablename__ = "outage_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"))
    address: Mapped[str] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(80))
    zip: Mapped[str | None] = mapped_column(String(10))
    hazard: Mapped[bool] = mapped_column(Boolean, default=False)
    hazard_description: Mapped[str | None] = mapped_column(String(200))
    notify_on_restore: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_phone: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(12))
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceRequest(Base):
    """Start, stop or transfer service: collected by the assistant, done by staff."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # start|stop|transfer
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    requested_date: Mapped[date] = mapped_column(Date)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|done
    channel: Mapped[str] = mapped_column(String(12))
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(String(80))


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20))
    best_time: Mapped[str | None] = mapped_column(String(120))
    topic: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    verified_tier: Mapped[str] = mapped_column(String(12), default="public")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(String(80))


class HandoffRequest(Base):
    """A conversation waiting for, or with, a member-service agent."""

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(120), index=True)
    channel: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(
        String(12), default="waiting"
    )  # waiting|assigned|ended|abandoned
    topic: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    verified_tier: Mapped[str] = mapped_column(String(12), default="public")
    verified_how: Mapped[str | None] = mapped_column(String(60))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    member_left_at: Mapped[datetime | None] = mapped_column()  # the member ended the chat
    # The one-question survey after the hand-back: "How did we do? 1-5".
    survey_asked_at: Mapped[datetime | None] = mapped_column()
    survey_score: Mapped[int | None] = mapped_column(Integer)
    survey_answered_at: Mapped[datetime | None] = mapped_column()


class OneTimeCode(Base):
    """A 6-digit code, stored only as a salted hash; 10-minute expiry, 5 attempts."""

    __tablename__ = "one_time_codes"
    __table_args__ = (
        Index("ix_one_time_codes_destination_time", "destination_key", "created_at"),
        Index("ix_one_time_codes_account_time", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(120), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    purpose: Mapped[str] = mapped_column(String(30))  # confirm_tier|contact_change
    destination: Mapped[str] = mapped_column(String(254))  # masked, for display
    # HMAC of the real destination, so sends and wrong guesses are limited per phone or email
    # across conversations without storing the address again.
    destination_key: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(128))
    salt: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationAttempt(Base):
    """One try at identifying a member; lockouts are counted from these rows."""

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_account_time", "account_key", "created_at"),
        Index("ix_verification_attempts_phone_time", "phone_key", "created_at"),
        Index("ix_verification_attempts_address_time", "address_key", "created_at"),
        Index("ix_verification_attempts_time", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(120), index=True)
    # HMAC of the account number typed, so lockouts also apply to numbers that do not exist
    # without storing what was typed.
    account_key: Mapped[str] = mapped_column(String(64))
    # HMACs of where the try came from (the texting phone; the web client's address), so
    # guessing from fresh conversations is still counted per source.
    phone_key: Mapped[str | None] = mapped_column(String(64))
    address_key: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(30))  # zip|last_payment|phone_on_file|otp
    success: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SecurityLock(Base):
    """A lock that spans conversations: verification or one-time codes refused for one account,
    phone, client address or code destination (`key`, an HMAC) until `until`."""

    __tablename__ = "security_locks"
    __table_args__ = (Index("ix_security_locks_scope_key_until", "scope", "key", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))  # account|phone|address|otp_destination|...
    key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    locked_at: Mapped[datetime] = mapped_column()
    until: Mapped[datetime] = mapped_column()


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("account_id", "topic", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    topic: Mapped[str] = mapped_column(String(20))  # outage|bill_ready|payment_received|past_due
    channel: Mapped[str] = mapped_column(String(8))  # sms|email
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class PaymentLink(Base):
    """A signed, single-use link to the secure payment page (15 minutes)."""

    __tablename__ = "payment_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    conversation_id: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(20), default="add_method")
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what, when and how they were verified. Never a secret."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))  # member:<id>|agent:<name>|system|import
    action: Mapped[str] = mapped_column(String(60))
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(12))
    verified_how: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxMessage(Base):
    """Every text or email the assistant sends; the local outbox when no provider is set."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms|email
    to: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued|sent|failed|outbox
    provider_id: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # Delivery that keeps trying (bot/adapters/delivery.py): `retryable` says the message may be
    # sent again or copied by email (anything but a one-time code); `next_attempt_at` is set for a
    # failure worth another try; `attempts` counts provider calls; `lease_until` claims a retry;
    # `delivery_status` is Twilio's latest status callback for the sent text; a text that kept
    # failing is `gave_up_at` with the email copy it got (`fallback_outbox_id`), if any.
    retryable: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_error_code: Mapped[str | None] = mapped_column(String(10))
    delivery_updated_at: Mapped[datetime | None] = mapped_column()
    gave_up_at: Mapped[datetime | None] = mapped_column()
    fallback_outbox_id: Mapped[int | None] = mapped_column(Integer)


# --- Gateway: channels and conversations (bot/gateway) -------------------------------------------


class Conversation(Base):
    """One member conversation on one channel: a web chat, or one phone number by SMS.

    `mode` decides where a member message goes: `bot` (a Rasa turn), `queued` or `agent` (to the
    handoff queue / the agent). `next_seq` is a per-conversation counter, bumped atomically, so
    messages are numbered 1, 2, 3... without races between gateway replicas.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_conversations_channel_external_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # web|sms
    external_id: Mapped[str] = mapped_column(String(120))  # E.164 phone, or the web conversation id
    mode: Mapped[str] = mapped_column(String(8), default="bot")  # bot|queued|agent|survey
    next_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_buttons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # SMS numbered choices
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationMessage(Base):
    """One message in a conversation. `text` is always already masked (no card/bank numbers)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))  # in|out
    sender: Mapped[str] = mapped_column(String(8))  # member|bot|agent|system
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # buttons, image, agent name...
    client_id: Mapped[str | None] = mapped_column(
        String(64)
    )  # web widget's id, for idempotent re-sends
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class SmsInbound(Base):
    """Every Twilio MessageSid seen once: a retry of the same SID is not processed again."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(
        String(12), default="received"
    )  # received|keyword|opted_out|processed


class SmsOptOut(Base):
    """Opt-out state of a phone number; every outbound SMS path checks it."""

    __tablename__ = "sms_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(30))  # keyword:STOP|keyword:START|twilio:21610|...


class SmsStatusCallback(Base):
    """A Twilio delivery status callback, recorded as received."""

    __tablename__ = "sms_status_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), index=True)
    to_number: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Live agents (talk to a person; sign-in and console in bot/gateway) ---------------------------


class Agent(Base):
    """A member-service agent who takes handed-off conversations in the console.

    `presence` is what the agent set (online|away|offline); `last_seen_at` is bumped by the console
    while it is open, so an agent whose browser died stops counting as available after a couple
    of minutes (`bot.services.handoff.agents_available`). The password is an argon2 hash only.
    """

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # agent | supervisor (sees every conversation and the team, reassigns) | admin (also manages
    # agents); `is_admin` is kept equal to role == "admin".
    role: Mapped[str] = mapped_column(String(12), default="agent", server_default="agent")
    presence: Mapped[str] = mapped_column(String(8), default="offline")  # online|away|offline
    last_seen_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by `jecbot agents disable`: the agent can no longer sign in and every session ends.
    disabled_at: Mapped[datetime | None] = mapped_column()
    # The base32 TOTP secret once the agent enrolled a second factor (`jecbot agents enrol-totp`).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so one code cannot be replayed within its 30 seconds.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


# --- Console sessions and sign-in attempts (bot/gateway/console/sessions.py) ----------------------


class ConsoleSessionRow(Base):
    """A signed-in console session, held server-side so it can be revoked.

    The cookie carries a random session id; only its SHA-256 (`id_hash`) is stored, so a database
    dump gives nobody a usable cookie. A session ends at `expires_at` (the absolute lifetime),
    after the inactivity timeout since `last_seen_at`, or when `revoked_at` is set (sign-out,
    password change, the agent disabled).
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_agent", "agent_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(30))


class ConsoleSignInAttempt(Base):
    """One refused console sign-in, counted per username and per client address (HMACs of
    both, never the values) to throttle password guessing."""

    __tablename__ = "console_sign_in_attempts"
    __table_args__ = (
        Index("ix_console_sign_in_attempts_user_time", "username_key", "at"),
        Index("ix_console_sign_in_attempts_address_time", "address_key", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(String(64))
    address_key: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()


# --- Outage texts and references (bot/services/outage/notices.py) --------------------------------


class OutageNotification(Base):
    """One outage text or email to one address: "outage near you" or "power is back".

    The row is the claim: it is inserted (unique per outage, kind, channel and address) before
    anything is sent, so two worker copies, or a rerun after a crash, never send it twice.
    `status` is then what the notifier said (sent|outbox|failed|opted_out|rejected); a row left
    "claimed" means a crash between claim and send (never retried: at most once).
    """

    __tablename__ = "outage_notifications"
    __table_args__ = (UniqueConstraint("outage_id", "kind", "channel", "to"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # restored|near_you
    channel: Mapped[str] = mapped_column(String(8))  # sms|email
    to: Mapped[str] = mapped_column(String(254), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("outage_reports.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(12), default="claimed")
    body: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()


class ReferenceCounter(Base):
    """A named sequence (`outage_report:2026`): references that never run out (R-2026-000123)."""

    __tablename__ = "reference_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Bill, payment and draft notices (bot/worker/notices.py) -------------------------------------


class MemberNotice(Base):
    """One notice to one member on one channel, claimed before it is sent.

    The unique key (kind, account, occurrence, channel) is what makes a notice go out exactly
    once however many worker copies run: a copy inserts the row first and only the one whose
    insert succeeds sends. `occurrence` names what the notice is about (`bill:812`,
    `payment:77`, `draft:2026-12-18`, `run:5`). A row left `sending` by a crash is not sent again
    (a member never gets two); `amount_cents` keeps the amount a draft notice announced.
    """

    __tablename__ = "member_notices"
    __table_args__ = (
        UniqueConstraint(
            "kind", "account_id", "occurrence", "channel", name="uq_member_notices_occurrence"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # bill_ready|payment_received|past_due|draft_*
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    occurrence: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(8))  # sms|email
    destination: Mapped[str] = mapped_column(String(254))  # masked
    status: Mapped[str] = mapped_column(String(12), default="sending")  # sending|sent|failed|...
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


# --- Integration with the co-op's systems (docs/integration.md) ----------------------------------


class IntegrationEvent(Base):
    """One change made in chat, written in the same transaction as the change (the event outbox).

    `event_id` is the public id receivers deduplicate on; `id` orders events for export and
    replay. `data` holds the change's fields (docs/integration.md); never a card or bank number.
    """

    __tablename__ = "integration_events"
    __table_args__ = (Index("ix_integration_events_occurred", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime] = mapped_column()
    account_id: Mapped[int | None] = mapped_column(Integer)
    account_number: Mapped[str | None] = mapped_column(String(10))
    member_id: Mapped[int | None] = mapped_column(Integer)
    member_number: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(12))
    conversation_id: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntegrationDelivery(Base):
    """One event's delivery to one target (`webhook`): the unique pair is what makes each event
    go out once per target, whatever number of workers run. `lease_until` claims a try."""

    __tablename__ = "integration_deliveries"
    __table_args__ = (
        UniqueConstraint("event_pk", "target"),
        Index("ix_integration_deliveries_due", "target", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("integration_events.id"))
    target: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|delivered|expired
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(200))
    response_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundDraftResult(Base):
    """A draft result the billing system sent (endpoint or import), kept once per its `result_id`
    so a resent result changes nothing."""

    __tablename__ = "inbound_draft_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[str] = mapped_column(String(80), unique=True)
    account_number: Mapped[str] = mapped_column(String(10))
    draft_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # paid|returned
    return_code: Mapped[str | None] = mapped_column(String(8))
    scheduled_draft_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_drafts.id"))
    source: Mapped[str] = mapped_column(String(12))  # endpoint|import
    received_at: Mapped[datetime] = mapped_column()


class HandoffNote(Base):
    """A private note an agent wrote on a handed-over conversation: staff only. It lives in its
    own table, never among the conversation's messages, so no delivery path can reach it."""

    __tablename__ = "handoff_notes"
    __table_args__ = (Index("ix_handoff_notes_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff_requests.id"))
    conversation_id: Mapped[str] = mapped_column(String(120))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


# --- The durable queue (bot/queue): jobs, per-conversation leases, member turns waiting ----------


class QueueJob(Base):
    """One job of the embedded (SQL) queue engine: `queued` until a worker leases it (`running`
    with `lease_until`), then `done` or, after `max_attempts`, `failed`. `key` is unique (an
    idempotency key: a MessageSid, a periodic task's name and time slot); a lease that runs out
    (the worker crashed) makes the job claimable again."""

    __tablename__ = "queue_jobs"
    __table_args__ = (Index("ix_queue_jobs_status_run_at", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ConversationLease(Base):
    """Who may run turns of a conversation now: one holder at a time across every worker copy
    (SQL and Redis engines alike); a crashed holder's lease runs out at `lease_until`."""

    __tablename__ = "conversation_leases"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    lease_until: Mapped[datetime] = mapped_column()


class TurnRequest(Base):
    """A stored member message waiting for its bot turn, processed strictly in `seq` order per
    conversation. `status` pending|done|skipped; `done` is set in the same transaction that
    stores the replies, so a retried turn never shows the member a second answer. `key` is the
    idempotency key (sms:<MessageSid>, web:<conversation>:<client id>)."""

    __tablename__ = "turn_requests"
    __table_args__ = (Index("ix_turn_requests_conversation_status", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)  # the member message's seq
    rasa_text: Mapped[str] = mapped_column(Text, default="")
    from_button: Mapped[bool] = mapped_column(Boolean, default=False)
    turn_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    courtesy_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    apologized: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[str | None] = mapped_column(String(64))  # the webhook's, for the logs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
