"""tenant: citizens (keyed by issuer and subject) and role grants by personal ID

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0002"
down_revision: str | None = "t0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("personal_id", sa.String(12), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("birthdate", sa.String(10)),
        sa.Column("gender", sa.String(20)),
        sa.Column("address", sa.Text),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_index("ix_citizens_personal_id", "citizens", ["personal_id"])
    op.create_table(
        "role_grants",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("personal_id", sa.String(12), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('officer', 'tenant_admin')", name="role"),
        sa.CheckConstraint("personal_id ~ '^[0-9]{12}$'", name="personal_id_format"),
        sa.UniqueConstraint("personal_id", "role"),
    )


def downgrade() -> None:
    op.drop_table("role_grants")
    op.drop_table("citizens")
