"""tenant: full procedure record (channels, fees, documents, results, legal basis) and
versioned form definitions

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0003"
down_revision: str | None = "t0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    # All additive with defaults (expand): the previous release keeps working during a rollout.
    op.add_column("procedures", sa.Column("agency_code", sa.String(40), nullable=False, server_default=""))
    op.add_column(
        "procedures",
        sa.Column("processing_unit", sa.String(16), nullable=False, server_default="working_days"),
    )
    op.add_column("procedures", sa.Column("description", sa.Text, nullable=False, server_default=""))
    for column in ("channels", "fees", "documents", "results", "legal_basis"):
        op.add_column("procedures", sa.Column(column, JSONB, nullable=False, server_default=_EMPTY_LIST))
    op.add_column("procedures", sa.Column("form_version", sa.Integer, nullable=False, server_default="1"))
    op.create_check_constraint(
        "ck_procedures_processing_unit", "procedures", "processing_unit IN ('working_days', 'calendar_days')"
    )
    # A dossier keeps the form version it was filled with; versions are never edited.
    op.create_table(
        "procedure_forms",
        sa.Column(
            "procedure_id", sa.BigInteger, sa.ForeignKey("procedures.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("procedure_id", "version"),
    )
    op.execute(
        "INSERT INTO procedure_forms (procedure_id, version, definition) "
        "SELECT id, 1, form_fields FROM procedures"
    )


def downgrade() -> None:
    op.drop_table("procedure_forms")
    op.drop_constraint("ck_procedures_processing_unit", "procedures")
    for column in (
        "form_version",
        "legal_basis",
        "results",
        "documents",
        "fees",
        "channels",
        "description",
        "processing_unit",
        "agency_code",
    ):
        op.drop_column("procedures", column)
