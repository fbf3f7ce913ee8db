"""platform: one tenant per payment account

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p0004"
down_revision: str | None = "p0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # A provider event names the merchant account; the tenant it touches must be unambiguous
    # (tenant A's webhook can never reach tenant B).
    op.execute(
        "CREATE UNIQUE INDEX ux_tenants_stripe_account ON platform.tenants "
        "((settings->'payments'->>'stripe_account')) "
        "WHERE settings->'payments'->>'stripe_account' IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX platform.ux_tenants_stripe_account")
