"""platform: platform administrators and per-tenant identity settings

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_admins",
        sa.Column("personal_id", sa.String(12), primary_key=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("personal_id ~ '^[0-9]{12}$'", name="personal_id_format"),
        schema="platform",
    )
    op.create_table(
        "identity_settings",
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey("platform.tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        # Encrypted with a key derived from MOTCUA_SECRET_KEY (never stored in clear).
        sa.Column("client_secret_sealed", sa.Text, nullable=False),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("personal_id_claim", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("identity_settings", schema="platform")
    op.drop_table("platform_admins", schema="platform")
