"""Agent roles (agent, supervisor, admin); private notes agents write on a handed-over
conversation; on each handoff, when the member left
the chat and the answer to the one-question survey after it (docs/agent-console.md).

`handoff_notes` is staff-only: its rows are never conversation messages, so neither the web chat
nor SMS can deliver one. Written to match bot/store/models.py; works on SQLite and PostgreSQL.

Revision ID: 0009_desk
Revises: 0008_integration
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_desk"
down_revision: str | Sequence[str] | None = "0008_integration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    for column in ("member_left_at", "survey_asked_at", "survey_answered_at"):
        op.add_column(
            "handoff_requests", sa.Column(column, sa.DateTime(timezone=True), nullable=True)
        )
    op.add_column("handoff_requests", sa.Column("survey_score", sa.Integer(), nullable=True))
    op.add_column(
        "agents",
        sa.Column("role", sa.String(length=12), server_default="agent", nullable=False),
    )
    op.execute("UPDATE agents SET role = 'admin' WHERE is_admin")
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_handoff_notes_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff_requests.id"],
            name=op.f("fk_handoff_notes_handoff_id_handoff_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_notes")),
    )
    op.create_index("ix_handoff_notes_conversation", "handoff_notes", ["conversation_id", "id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_handoff_notes_conversation", table_name="handoff_notes")
    op.drop_table("handoff_notes")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("handoff_requests") as batch:
        for column in ("member_left_at", "survey_asked_at", "survey_score", "survey_answered_at"):
            batch.drop_column(column)
