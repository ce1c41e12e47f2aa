"""Initial schema: the 22 member-services tables of bot/store/models.py.

Generated with Alembic autogenerate from the models and reviewed. UTCDateTime columns are
written as `sa.DateTime(timezone=True)` (their storage type), so this file does not import app
code. Works on SQLite (batch mode) and PostgreSQL.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=True),
        sa.Column("verified_how", sa.String(length=60), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_number", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("is_senior", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("member_number", name=op.f("uq_members_member_number")),
    )
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("cause", sa.String(length=120), nullable=True),
        sa.Column("crew_status", sa.String(length=120), nullable=True),
        sa.Column("customers_affected", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("estimated_restoration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
        sa.UniqueConstraint("reference", name=op.f("uq_outages_reference")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider_id", sa.String(length=80), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_to"), ["to"], unique=False)

    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_attempts")),
    )
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_verification_attempts_account_time", ["account_key", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_attempts_conversation_id"),
            ["conversation_id"],
            unique=False,
        )

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("service_street", sa.String(length=200), nullable=False),
        sa.Column("service_town", sa.String(length=80), nullable=False),
        sa.Column("service_zip", sa.String(length=10), nullable=False),
        sa.Column("county", sa.String(length=80), nullable=True),
        sa.Column("feeder", sa.String(length=40), nullable=True),
        sa.Column("paperless", sa.Boolean(), nullable=False),
        sa.Column("levelized_billing", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_accounts_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("account_number", name=op.f("uq_accounts_account_number")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_accounts_service_town"), ["service_town"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_accounts_service_zip"), ["service_zip"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_contacts_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("member_id", "kind", "value", name=op.f("uq_contacts_member_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_value"), ["value"], unique=False)

    op.create_table(
        "outage_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("town", sa.String(length=80), nullable=True),
        sa.Column("zip", sa.String(length=10), nullable=True),
        sa.Column("feeder", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_outage_areas_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_areas")),
    )
    with op.batch_alter_table("outage_areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outage_areas_outage_id"), ["outage_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outage_areas_town"), ["town"], unique=False)
        batch_op.create_index(batch_op.f("ix_outage_areas_zip"), ["zip"], unique=False)

    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("brand", sa.String(length=30), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("holder_name", sa.String(length=120), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_payment_methods_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
        sa.UniqueConstraint("token", name=op.f("uq_payment_methods_token")),
    )
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_methods_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("billing_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("kwh", sa.Integer(), nullable=False),
        sa.Column("late_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_bills_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("account_id", "billing_date", name=op.f("uq_bills_account_id")),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bills_account_id"), ["account_id"], unique=False)

    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("best_time", sa.String(length=120), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("verified_tier", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_callback_requests_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    op.create_table(
        "draft_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("payment_method_id", sa.Integer(), nullable=False),
        sa.Column("draft_day", sa.Integer(), nullable=False),
        sa.Column("amount_rule", sa.String(length=12), nullable=False),
        sa.Column("fixed_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_draft_enrollments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["payment_method_id"],
            ["payment_methods.id"],
            name=op.f("fk_draft_enrollments_payment_method_id_payment_methods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_enrollments")),
    )
    with op.batch_alter_table("draft_enrollments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_enrollments_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("verified_tier", sa.String(length=12), nullable=False),
        sa.Column("verified_how", sa.String(length=60), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_handoff_requests_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_handoff_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_requests")),
    )
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_requests_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notification_preferences_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint(
            "account_id", "topic", "channel", name=op.f("uq_notification_preferences_account_id")
        ),
    )
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("destination", sa.String(length=254), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_one_time_codes_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_one_time_codes_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "outage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("outage_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("town", sa.String(length=80), nullable=True),
        sa.Column("zip", sa.String(length=10), nullable=True),
        sa.Column("hazard", sa.Boolean(), nullable=False),
        sa.Column("hazard_description", sa.String(length=200), nullable=True),
        sa.Column("notify_on_restore", sa.Boolean(), nullable=False),
        sa.Column("notify_phone", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("idempotency_key", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_outage_reports_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_outage_reports_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_reports")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outage_reports_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_outage_reports_reference")),
    )
    with op.batch_alter_table("outage_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outage_reports_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "payment_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_links_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_payment_links_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_links")),
        sa.UniqueConstraint("nonce", name=op.f("uq_payment_links_nonce")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("payment_method_id", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method_label", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("confirmation_number", sa.String(length=20), nullable=True),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("processor_reference", sa.String(length=80), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["payment_method_id"],
            ["payment_methods.id"],
            name=op.f("fk_payments_payment_method_id_payment_methods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("confirmation_number", name=op.f("uq_payments_confirmation_number")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_account_id"), ["account_id"], unique=False)

    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("requested_date", sa.Date(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_service_requests_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_service_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_service_requests_reference")),
    )
    op.create_table(
        "usage_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kwh", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_readings_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_readings")),
        sa.UniqueConstraint("account_id", "day", name=op.f("uq_usage_readings_account_id")),
    )
    op.create_table(
        "draft_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("verified_how", sa.String(length=60), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("copy_sent_to", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["draft_enrollments.id"],
            name=op.f("fk_draft_authorizations_enrollment_id_draft_enrollments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_authorizations")),
    )
    with op.batch_alter_table("draft_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_authorizations_enrollment_id"), ["enrollment_id"], unique=False
        )

    op.create_table(
        "scheduled_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("draft_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["draft_enrollments.id"],
            name=op.f("fk_scheduled_drafts_enrollment_id_draft_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_scheduled_drafts_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_drafts")),
        sa.UniqueConstraint(
            "enrollment_id", "draft_date", name=op.f("uq_scheduled_drafts_enrollment_id")
        ),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("scheduled_drafts")
    with op.batch_alter_table("draft_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_authorizations_enrollment_id"))

    op.drop_table("draft_authorizations")
    op.drop_table("usage_readings")
    op.drop_table("service_requests")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_account_id"))

    op.drop_table("payments")
    op.drop_table("payment_links")
    with op.batch_alter_table("outage_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outage_reports_account_id"))

    op.drop_table("outage_reports")
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_codes_conversation_id"))

    op.drop_table("one_time_codes")
    op.drop_table("notification_preferences")
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_requests_conversation_id"))

    op.drop_table("handoff_requests")
    with op.batch_alter_table("draft_enrollments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_enrollments_account_id"))

    op.drop_table("draft_enrollments")
    op.drop_table("callback_requests")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bills_account_id"))

    op.drop_table("bills")
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_methods_member_id"))

    op.drop_table("payment_methods")
    with op.batch_alter_table("outage_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outage_areas_zip"))
        batch_op.drop_index(batch_op.f("ix_outage_areas_town"))
        batch_op.drop_index(batch_op.f("ix_outage_areas_outage_id"))

    op.drop_table("outage_areas")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_value"))
        batch_op.drop_index(batch_op.f("ix_contacts_member_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_service_zip"))
        batch_op.drop_index(batch_op.f("ix_accounts_service_town"))
        batch_op.drop_index(batch_op.f("ix_accounts_member_id"))

    op.drop_table("accounts")
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_attempts_conversation_id"))
        batch_op.drop_index("ix_verification_attempts_account_time")

    op.drop_table("verification_attempts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_to"))

    op.drop_table("outbox")
    op.drop_table("outages")
    op.drop_table("members")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_account_id"))

    op.drop_table("audit_log")
