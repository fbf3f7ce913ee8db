"""tenant: procedures catalog and tenant audit log

Revision ID: t0001
Revises:
Create Date: 2026-11-23

Runs with ``search_path`` set to the tenant's schema, so tables carry no schema name.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("tenant",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("field", sa.String(120), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False, server_default=""),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("processing_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fee_vnd", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("search_text", sa.Text, nullable=False, server_default=""),
        sa.Column("form_fields", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("level IN ('information', 'partial', 'full')", name="level"),
        sa.CheckConstraint("fee_vnd >= 0", name="fee_not_negative"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("procedures")
