"""tenant: workflow steps per procedure, each dossier's steps, its receiving and deciding units

Revision ID: t0017
Revises: t0016
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0017"
down_revision: str | None = "t0016"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: PostgreSQL adds the columns without rewriting the table.
    op.add_column("dossiers", sa.Column("receiving_unit_id", sa.BigInteger(), sa.ForeignKey("units.id")))
    op.add_column("dossiers", sa.Column("deciding_unit_id", sa.BigInteger(), sa.ForeignKey("units.id")))
    op.create_table(
        "workflow_steps",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "procedure_id",
            sa.BigInteger(),
            sa.ForeignKey("procedures.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("share_percent", sa.Integer(), nullable=False),
        sa.UniqueConstraint("procedure_id", "position", name="uq_workflow_steps_procedure_id_position"),
        sa.CheckConstraint("share_percent BETWEEN 0 AND 100", name="ck_workflow_steps_share"),
    )
    op.create_table(
        "dossier_steps",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "dossier_id", sa.BigInteger(), sa.ForeignKey("dossiers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("assignee", sa.String(12), nullable=True),
        sa.Column("budget_hours", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worked_hours", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_dossier_steps_dossier_id", "dossier_steps", ["dossier_id"])
    # The queues read the open steps of a unit; the forecast reads the finished ones.
    op.create_index(
        "ix_dossier_steps_open_by_unit",
        "dossier_steps",
        ["unit_id", "due_at"],
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    # At most one open step per dossier, whatever two officers do at the same moment.
    op.create_index(
        "uq_dossier_steps_one_open",
        "dossier_steps",
        ["dossier_id"],
        unique=True,
        postgresql_where=sa.text("finished_at IS NULL"),
    )

    op.create_table(
        "dossier_transfers",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "dossier_id", sa.BigInteger(), sa.ForeignKey("dossiers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("from_unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("to_unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dossier_transfers_dossier_id", "dossier_transfers", ["dossier_id"])
    op.create_table(
        "consultations",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "dossier_id", sa.BigInteger(), sa.ForeignKey("dossiers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("asking_unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_by", sa.String(200), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_consultations_dossier_id", "consultations", ["dossier_id"])
    op.create_index("ix_consultations_unit_id", "consultations", ["unit_id"])


def downgrade() -> None:
    op.drop_table("consultations")
    op.drop_table("dossier_transfers")
    op.drop_table("dossier_steps")
    op.drop_table("workflow_steps")
    op.drop_column("dossiers", "deciding_unit_id")
    op.drop_column("dossiers", "receiving_unit_id")
