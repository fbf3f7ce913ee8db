"""platform: tenant settings (working calendar, upload limits…)

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "p0003"
down_revision: str | None = "p0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Additive with a default: safe while the previous release still serves (expand step).
    op.add_column(
        "tenants",
        sa.Column("settings", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_column("tenants", "settings", schema="platform")
