"""tenant: indexes for the officer queues at 100,000+ dossiers

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t0007"
down_revision: str | None = "t0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Queue pages read "the next 50 by due date" of a status group: walk due_at in order.
    op.create_index("ix_dossiers_due_at_id", "dossiers", ["due_at", "id"])
    # Online dossiers not yet received: the reception deadline (8 working hours).
    op.create_index(
        "ix_dossiers_reception_due_submitted",
        "dossiers",
        ["reception_due_at"],
        postgresql_where="status = 'submitted'",
    )
    op.create_index("ix_dossiers_procedure_code", "dossiers", ["procedure_code"])


def downgrade() -> None:
    op.drop_index("ix_dossiers_procedure_code", "dossiers")
    op.drop_index("ix_dossiers_reception_due_submitted", "dossiers")
    op.drop_index("ix_dossiers_due_at_id", "dossiers")
