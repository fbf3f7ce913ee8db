"""tenant: the citizen's preferred language (their notifications are written in it)

Revision ID: t0015
Revises: t0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0015"
down_revision: str | None = "t0014"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "citizens", sa.Column("preferred_language", sa.String(5), nullable=False, server_default="vi")
    )


def downgrade() -> None:
    op.drop_column("citizens", "preferred_language")
