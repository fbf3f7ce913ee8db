"""tenant: back office — assignment, history IP, apology slips, deadline notices sent once

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0006"
down_revision: str | None = "t0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("dossiers", sa.Column("assigned_to", sa.String(12)))  # officer's personal ID
    op.add_column("dossiers", sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.create_index("ix_dossiers_assigned_to", "dossiers", ["assigned_to"])
    # Audit (issue: who, when, from, to, reason, IP); history stays append-only via its trigger.
    op.add_column("dossier_history", sa.Column("ip", sa.String(64)))
    op.create_table(
        "apology_slips",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        sa.Column("previous_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("new_due_at > previous_due_at", name="later"),
    )
    op.create_index("ix_apology_slips_dossier_id", "apology_slips", ["dossier_id"])
    # The deadline scan tells people once per dossier and kind, however often it runs.
    op.create_table(
        "deadline_notices",
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("dossier_id", "kind", "due_at"),
    )


def downgrade() -> None:
    op.drop_table("deadline_notices")
    op.drop_table("apology_slips")
    op.drop_column("dossier_history", "ip")
    op.drop_index("ix_dossiers_assigned_to", "dossiers")
    op.drop_column("dossiers", "finished_at")
    op.drop_column("dossiers", "assigned_to")
