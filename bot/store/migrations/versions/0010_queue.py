"""The durable queue: `queue_jobs` (embedded engine), `conversation_leases` (one worker per
conversation at a time, every engine) and `turn_requests` (member messages waiting for their turn).

Written to match bot/store/models.py; works on SQLite and PostgreSQL.

Revision ID: 0010_queue
Revises: 0009_desk
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_queue"
down_revision: str | Sequence[str] | None = "0009_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("worker", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_queue_jobs_key")),
    )
    op.create_index("ix_queue_jobs_status_run_at", "queue_jobs", ["status", "run_at"])
    op.create_table(
        "conversation_leases",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("lease_until", TS, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_leases")),
    )
    op.create_table(
        "turn_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rasa_text", sa.Text(), nullable=False),
        sa.Column("from_button", sa.Boolean(), nullable=False),
        sa.Column("turn_metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("courtesy_sent", sa.Boolean(), nullable=False),
        sa.Column("apologized", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_turn_requests_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_requests")),
        sa.UniqueConstraint("key", name=op.f("uq_turn_requests_key")),
    )
    op.create_index(
        "ix_turn_requests_conversation_status", "turn_requests", ["conversation_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_turn_requests_conversation_status", table_name="turn_requests")
    op.drop_table("turn_requests")
    op.drop_table("conversation_leases")
    op.drop_index("ix_queue_jobs_status_run_at", table_name="queue_jobs")
    op.drop_table("queue_jobs")
