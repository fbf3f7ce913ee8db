"""tenant: history entries the product writes kept as messages (msgid and values), read in either language

Revision ID: t0020
Revises: t0019
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0020"
down_revision: str | None = "t0019"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: PostgreSQL adds the column without rewriting the table, and the
    # append-only trigger of dossier_history is not involved (no row is updated). Rows written
    # before keep their text in ``reason`` and are shown as they are.
    op.add_column("dossier_history", sa.Column("message", JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("dossier_history", "message")
