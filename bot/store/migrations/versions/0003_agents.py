"""Agents: member-service staff who sign in to the console and take handed-off conversations.

Written to match the `Agent` model at the end of bot/store/models.py (as Alembic autogenerate
would). UTCDateTime columns are written as `sa.DateTime(timezone=True)`. Works on SQLite and
PostgreSQL.

Revision ID: 0003_agents
Revises: 0002_gateway
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_agents"
down_revision: str | Sequence[str] | None = "0002_gateway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("presence", sa.String(length=8), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("username", name=op.f("uq_agents_username")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("agents")
