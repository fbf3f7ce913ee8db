"""tenant: reserved for the routing of procedures to units

Revision ID: t0018
Revises: t0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "t0018"
down_revision: str | None = "t0017"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
