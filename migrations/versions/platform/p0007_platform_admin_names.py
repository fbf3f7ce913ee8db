"""platform: platform administrators' names and last console login, for the console's list and
the audit viewer

Revision ID: p0007
Revises: p0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0007"
down_revision: str | None = "p0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and additive (expand step): an administrator added by personal ID has no name
    # until their first console login, which writes it from the e-ID claims.
    op.add_column("platform_admins", sa.Column("name", sa.String(200)), schema="platform")
    op.add_column(
        "platform_admins", sa.Column("last_login_at", sa.DateTime(timezone=True)), schema="platform"
    )


def downgrade() -> None:
    op.drop_column("platform_admins", "last_login_at", schema="platform")
    op.drop_column("platform_admins", "name", schema="platform")
