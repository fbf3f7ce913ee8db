"""tenant: each procedure's tier and deciding unit (procedure_routes), the commune a draft is
sent to (dossier_drafts.receiving_unit_id)

Revision ID: t0018
Revises: t0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0018"
down_revision: str | None = "t0017"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "procedure_routes",
        sa.Column(
            "procedure_id",
            sa.BigInteger(),
            sa.ForeignKey("procedures.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tier", sa.String(10), nullable=False),
        # NULL: the commune that received the dossier decides (commune tier), or the service
        # centre (province and ministry tiers).
        sa.Column("deciding_unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("tier IN ('province', 'commune', 'ministry')", name="ck_procedure_routes_tier"),
    )
    # Nullable, no default: added without rewriting the table.
    op.add_column(
        "dossier_drafts", sa.Column("receiving_unit_id", sa.BigInteger(), sa.ForeignKey("units.id"))
    )


def downgrade() -> None:
    op.drop_column("dossier_drafts", "receiving_unit_id")
    op.drop_table("procedure_routes")
