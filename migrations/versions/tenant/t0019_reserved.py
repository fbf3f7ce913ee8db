"""tenant: reserved for signed documents

Revision ID: t0019
Revises: t0018
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "t0019"
down_revision: str | None = "t0018"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
