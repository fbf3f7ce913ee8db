"""tenant: satisfaction — ratings of delivered dossiers and feedback (PAKN) with answer deadlines

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0008"
down_revision: str | None = "t0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # One rating per dossier (5 levels), by the citizen who owns it.
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False, unique=True),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("score", sa.SmallInteger, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        sa.CheckConstraint("char_length(comment) <= 1000", name="comment_length"),
    )
    op.create_index("ix_ratings_citizen_id", "ratings", ["citizen_id"])
    op.create_index("ix_ratings_created_at", "ratings", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id")),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("answered_by", sa.String(200)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("char_length(content) <= 4000", name="content_length"),
        sa.CheckConstraint("due_at >= received_at", name="due_after_received"),
        # An answer is recorded whole: text, who and when together.
        sa.CheckConstraint(
            "(answer IS NULL) = (answered_at IS NULL) AND (answer IS NULL) = (answered_by IS NULL)",
            name="answer_complete",
        ),
    )
    op.create_index("ix_feedback_citizen_id", "feedback", ["citizen_id"])
    # The officers' list: unanswered ones, oldest first.
    op.create_index(
        "ix_feedback_unanswered_received_at",
        "feedback",
        ["received_at"],
        postgresql_where="answered_at IS NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_unanswered_received_at", "feedback")
    op.drop_index("ix_feedback_citizen_id", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_ratings_created_at", "ratings")
    op.drop_index("ix_ratings_citizen_id", "ratings")
    op.drop_table("ratings")
