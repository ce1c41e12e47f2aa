"""Security counters and locks across conversations (docs/security.md, issue 12 items 3, 7, 14).

Verification attempts also record where a try came from (`phone_key`, `address_key`: HMACs,
never the phone or address), one-time codes record an HMAC of their destination, and
`security_locks` holds locks on an account, phone, client address or code destination. Written
to match bot/store/models.py (as Alembic autogenerate would); works on SQLite and PostgreSQL.

Revision ID: 0004_security_counters
Revises: 0003_agents
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_security_counters"
down_revision: str | Sequence[str] | None = "0003_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "security_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_locks")),
    )
    op.create_index(
        "ix_security_locks_scope_key_until", "security_locks", ["scope", "key", "until"]
    )
    op.add_column(
        "verification_attempts", sa.Column("phone_key", sa.String(length=64), nullable=True)
    )
    op.add_column(
        "verification_attempts", sa.Column("address_key", sa.String(length=64), nullable=True)
    )
    op.create_index(
        "ix_verification_attempts_phone_time",
        "verification_attempts",
        ["phone_key", "created_at"],
    )
    op.create_index(
        "ix_verification_attempts_address_time",
        "verification_attempts",
        ["address_key", "created_at"],
    )
    op.create_index("ix_verification_attempts_time", "verification_attempts", ["created_at"])
    op.add_column(
        "one_time_codes", sa.Column("destination_key", sa.String(length=64), nullable=True)
    )
    op.create_index(
        "ix_one_time_codes_destination_time",
        "one_time_codes",
        ["destination_key", "created_at"],
    )
    op.create_index(
        "ix_one_time_codes_account_time", "one_time_codes", ["account_id", "created_at"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_one_time_codes_account_time", table_name="one_time_codes")
    op.drop_index("ix_one_time_codes_destination_time", table_name="one_time_codes")
    with op.batch_alter_table("one_time_codes") as batch:
        batch.drop_column("destination_key")
    op.drop_index("ix_verification_attempts_time", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_address_time", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_phone_time", table_name="verification_attempts")
    with op.batch_alter_table("verification_attempts") as batch:
        batch.drop_column("address_key")
        batch.drop_column("phone_key")
    op.drop_index("ix_security_locks_scope_key_until", table_name="security_locks")
    op.drop_table("security_locks")
