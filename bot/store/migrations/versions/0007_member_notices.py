"""Bill, payment and draft notices: `member_notices`, one row per notice occurrence and channel,
claimed before sending (bot/worker/notices.py). Written to match bot/store/models.py (as Alembic
autogenerate would); works on SQLite and PostgreSQL.

Revision ID: 0007_member_notices
Revises: 0006_outage_notices
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_member_notices"
down_revision: str | Sequence[str] | None = "0006_outage_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "member_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_member_notices_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_notices")),
        sa.UniqueConstraint(
            "kind", "account_id", "occurrence", "channel", name="uq_member_notices_occurrence"
        ),
    )
    op.create_index(
        op.f("ix_member_notices_account_id"), "member_notices", ["account_id"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_member_notices_account_id"), table_name="member_notices")
    op.drop_table("member_notices")
