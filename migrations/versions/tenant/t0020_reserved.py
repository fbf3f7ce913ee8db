"""tenant: reserved for history entries in words of either language

Revision ID: t0020
Revises: t0019
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "t0020"
down_revision: str | None = "t0019"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
