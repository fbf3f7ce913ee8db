"""tenant: dossiers indexed by receiving unit, and open steps by unit, in the queues' order

Revision ID: t0021
Revises: t0020
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0021"
down_revision: str | None = "t0020"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # An officer's queue lists the dossiers of their units (workflow.scope: receiving unit first)
    # by due date: a unit's desk reads its own dossiers in order instead of filtering the
    # whole tenant's, and the unit is a foreign key PostgreSQL does not index by itself.
    op.create_index("ix_dossiers_receiving_unit_due", "dossiers", ["receiving_unit_id", "due_at", "id"])
    # A unit's queue reads its open steps by due date, then id: with the id in the index, a page
    # is the first 51 entries, not every step sharing a due date (deadlines cluster at the end
    # of working days) looked up and sorted.
    op.drop_index("ix_dossier_steps_open_by_unit", table_name="dossier_steps")
    op.create_index(
        "ix_dossier_steps_open_by_unit",
        "dossier_steps",
        ["unit_id", "due_at", "id"],
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_dossier_steps_open_by_unit", table_name="dossier_steps")
    op.create_index(
        "ix_dossier_steps_open_by_unit",
        "dossier_steps",
        ["unit_id", "due_at"],
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.drop_index("ix_dossiers_receiving_unit_due", table_name="dossiers")
