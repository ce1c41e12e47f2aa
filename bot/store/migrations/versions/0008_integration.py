"""The two-way link with the co-op's systems and delivery that keeps trying (docs/integration.md).

`integration_events` is the event outbox (one row per change made in chat, written with the
change); `integration_deliveries` one row per event and target (unique: each event goes out once
per target); `inbound_draft_results` the draft results the billing system sent, once per result
id. The `outbox` gains the retry state of a text or email (attempts, next try, lease), Twilio's
delivery status and the email copy a text that kept failing got. Written to match
bot/store/models.py (as Alembic autogenerate would); works on SQLite and PostgreSQL.

Revision ID: 0008_integration
Revises: 0007_member_notices
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_integration"
down_revision: str | Sequence[str] | None = "0007_member_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_OUTBOX_COLUMNS = (
    ("retryable", sa.Boolean(), True),
    ("attempts", sa.Integer(), True),
    ("next_attempt_at", _TS, True),
    ("lease_until", _TS, True),
    ("delivery_status", sa.String(length=20), True),
    ("delivery_error_code", sa.String(length=10), True),
    ("delivery_updated_at", _TS, True),
    ("gave_up_at", _TS, True),
    ("fallback_outbox_id", sa.Integer(), True),
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outbox") as batch:
        for name, type_, _ in _OUTBOX_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.execute("UPDATE outbox SET retryable = false, attempts = 0")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("retryable", existing_type=sa.Boolean(), nullable=False)
        batch.alter_column("attempts", existing_type=sa.Integer(), nullable=False)
    op.create_table(
        "integration_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_number", sa.String(length=10), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("member_number", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=True),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_integration_events_event_id")),
    )
    op.create_index("ix_integration_events_occurred", "integration_events", ["occurred_at", "id"])
    op.create_table(
        "integration_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["integration_events.id"],
            name=op.f("fk_integration_deliveries_event_pk_integration_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_deliveries")),
        sa.UniqueConstraint("event_pk", "target", name=op.f("uq_integration_deliveries_event_pk")),
    )
    op.create_index(
        "ix_integration_deliveries_due",
        "integration_deliveries",
        ["target", "status", "next_attempt_at"],
    )
    op.create_table(
        "inbound_draft_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.String(length=80), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("draft_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("return_code", sa.String(length=8), nullable=True),
        sa.Column("scheduled_draft_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["scheduled_draft_id"],
            ["scheduled_drafts.id"],
            name=op.f("fk_inbound_draft_results_scheduled_draft_id_scheduled_drafts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_draft_results")),
        sa.UniqueConstraint("result_id", name=op.f("uq_inbound_draft_results_result_id")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("inbound_draft_results")
    op.drop_index("ix_integration_deliveries_due", table_name="integration_deliveries")
    op.drop_table("integration_deliveries")
    op.drop_index("ix_integration_events_occurred", table_name="integration_events")
    op.drop_table("integration_events")
    with op.batch_alter_table("outbox") as batch:
        for name, _, _ in reversed(_OUTBOX_COLUMNS):
            batch.drop_column(name)
