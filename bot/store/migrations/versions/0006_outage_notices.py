"""Outage texts claimed once per address, and named counters for references that never run out.

`outage_notifications` holds one row per outage text or email ("outage near you", "power is
back"), unique per (outage, kind, channel, address): inserting it is the claim made before
sending. `reference_counters` holds named sequences (`outage_report:2026`) for report references
of the form R-2026-000123. Written to match bot/store/models.py; works on SQLite and PostgreSQL.

Revision ID: 0006_outage_notices
Revises: 0005_console_sessions
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_outage_notices"
down_revision: str | Sequence[str] | None = "0005_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "outage_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_outage_notifications_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_outage_notifications_outage_id_outages")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["outage_reports.id"],
            name=op.f("fk_outage_notifications_report_id_outage_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_notifications")),
        sa.UniqueConstraint(
            "outage_id", "kind", "channel", "to", name=op.f("uq_outage_notifications_outage_id")
        ),
    )
    op.create_index(
        op.f("ix_outage_notifications_outage_id"), "outage_notifications", ["outage_id"]
    )
    op.create_index(op.f("ix_outage_notifications_to"), "outage_notifications", ["to"])
    op.create_table(
        "reference_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_counters")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("reference_counters")
    op.drop_index(op.f("ix_outage_notifications_to"), table_name="outage_notifications")
    op.drop_index(op.f("ix_outage_notifications_outage_id"), table_name="outage_notifications")
    op.drop_table("outage_notifications")
