"""tenant: supplement requests and the paused clock on dossiers

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0005"
down_revision: str | None = "t0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Each pause of the legal clock ({"start", "end"} ISO times); the due date is recomputed
    # from them (DOMAIN: a supplement request pauses the clock until the citizen answers).
    op.add_column(
        "dossiers", sa.Column("pauses", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    # The open supplement request: reason, list of what is missing, who asked and when.
    op.add_column("dossiers", sa.Column("supplement", JSONB))


def downgrade() -> None:
    op.drop_column("dossiers", "supplement")
    op.drop_column("dossiers", "pauses")
