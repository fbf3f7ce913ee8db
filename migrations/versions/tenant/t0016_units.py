"""tenant: units (service centre, departments, communes and wards) and their staff

Revision ID: t0016
Revises: t0015
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0016"
down_revision: str | None = "t0015"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "parent_id", sa.BigInteger(), sa.ForeignKey("units.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("agency_code", sa.String(13), nullable=False),
        sa.Column("division_code", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_units_parent_id", "units", ["parent_id"])
    op.create_unique_constraint("uq_units_agency_code", "units", ["agency_code"])
    op.create_table(
        "unit_staff",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("unit_id", sa.BigInteger(), sa.ForeignKey("units.id", ondelete="CASCADE"), nullable=False),
        sa.Column("personal_id", sa.String(12), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("unit_id", "personal_id", "role", name="uq_unit_staff_unit_id_personal_id_role"),
    )
    op.create_index("ix_unit_staff_unit_id", "unit_staff", ["unit_id"])
    op.create_index("ix_unit_staff_personal_id", "unit_staff", ["personal_id"])
    # A tenant that existed before units gets its one-stop desk, with the agency code its
    # dossier codes already carry (`motcua units seed` adds the rest of its province). The
    # template schema and a tenant being onboarded get theirs from the onboarding seed step.
    op.execute(
        r"""
        INSERT INTO units (kind, tier, name, agency_code)
        SELECT 'service_centre',
               CASE WHEN t.kind = 'ministry' THEN 'ministry' ELSE 'province' END,
               CASE WHEN t.kind = 'ministry' THEN 'Bộ phận Một cửa'
                    ELSE 'Trung tâm Phục vụ hành chính công' END,
               t.settings ->> 'agency_code'
        FROM platform.tenants t
        WHERE t.schema_name = current_schema() AND t.status <> 'provisioning'
          AND coalesce(t.settings ->> 'agency_code', '') ~ '^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$'
        ON CONFLICT (agency_code) DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("unit_staff")
    op.drop_table("units")
