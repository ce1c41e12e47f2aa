"""Console sessions held server-side, sign-in attempts, and agents that can be disabled or use a
second factor (docs/security.md, items 8 and 9).

`console_sessions` holds a SHA-256 of each session id with its CSRF token, absolute expiry and
revocation; `console_sign_in_attempts` counts refused sign-ins per username and per address
(HMACs); `agents` gains `disabled_at`, `totp_secret` and `totp_last_step`. Written to match
bot/store/models.py (as Alembic autogenerate would); works on SQLite and PostgreSQL.

Revision ID: 0005_console_sessions
Revises: 0004_security_counters
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_console_sessions"
down_revision: str | Sequence[str] | None = "0004_security_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("agents", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agents", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("agents", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_console_sessions_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_console_sessions_id_hash")),
    )
    op.create_index("ix_console_sessions_agent", "console_sessions", ["agent_id", "revoked_at"])
    op.create_table(
        "console_sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sign_in_attempts")),
    )
    op.create_index(
        "ix_console_sign_in_attempts_user_time",
        "console_sign_in_attempts",
        ["username_key", "at"],
    )
    op.create_index(
        "ix_console_sign_in_attempts_address_time",
        "console_sign_in_attempts",
        ["address_key", "at"],
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_console_sign_in_attempts_address_time", table_name="console_sign_in_attempts")
    op.drop_index("ix_console_sign_in_attempts_user_time", table_name="console_sign_in_attempts")
    op.drop_table("console_sign_in_attempts")
    op.drop_index("ix_console_sessions_agent", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
        batch.drop_column("disabled_at")
