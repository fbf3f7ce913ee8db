"""tenant: the rollups cut by the dossier's receiving unit (indicators by unit)

Revision ID: t0022
Revises: t0021
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0022"
down_revision: str | None = "t0021"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Rollups are derived data (reporting.rollups): the rows of a day are recomputed whole from the
# dossiers. A day's counts cannot be split by unit after the fact, so both tables are emptied
# and the refresh state is set back to "never run": the next run of the job (every two minutes)
# recomputes every day that has anything to count, by unit. Published periods are frozen
# snapshots in their own table and are not touched.
_RESET = (
    "DELETE FROM reporting_days",
    "DELETE FROM reporting_backlog",
    "UPDATE reporting_state SET watermark = NULL, pending = '{}'",
)


def upgrade() -> None:
    for statement in _RESET:
        op.execute(statement)
    # The receiving unit; a dossier received before units were recorded counts for the root
    # unit (the service centre), as the officers' unit rule has it; 0 only in a tenant with no
    # unit at all. No foreign key: a rollup row outlives nothing, and unit 0 is not a unit.
    op.add_column("reporting_days", sa.Column("unit_id", sa.BigInteger, nullable=False))
    op.drop_constraint("reporting_days_pkey", "reporting_days", type_="primary")
    op.create_primary_key(
        "reporting_days_pkey", "reporting_days", ["day", "procedure_id", "channel", "unit_id"]
    )
    op.add_column("reporting_backlog", sa.Column("unit_id", sa.BigInteger, nullable=False))
    op.drop_constraint("reporting_backlog_pkey", "reporting_backlog", type_="primary")
    op.create_primary_key(
        "reporting_backlog_pkey", "reporting_backlog", ["procedure_id", "channel", "unit_id"]
    )


def downgrade() -> None:
    for statement in _RESET:
        op.execute(statement)
    op.drop_constraint("reporting_backlog_pkey", "reporting_backlog", type_="primary")
    op.drop_column("reporting_backlog", "unit_id")
    op.create_primary_key("reporting_backlog_pkey", "reporting_backlog", ["procedure_id", "channel"])
    op.drop_constraint("reporting_days_pkey", "reporting_days", type_="primary")
    op.drop_column("reporting_days", "unit_id")
    op.create_primary_key("reporting_days_pkey", "reporting_days", ["day", "procedure_id", "channel"])
