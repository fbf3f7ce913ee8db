"""tenant: dossiers, their immutable history, files, drafts and the per-agency code sequence

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0004"
down_revision: str | None = "t0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

STATUSES = (
    "'submitted', 'accepted', 'refused', 'in_progress', 'supplement_requested', 'payment_requested', "
    "'withdrawn', 'stopped', 'processed', 'delivered'"
)


def upgrade() -> None:
    # Gap-free dossier numbers: one row per agency and day, incremented inside the submitting
    # transaction (a rolled-back submission gives its number back).
    op.create_table(
        "dossier_sequences",
        sa.Column("agency_code", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "day"),
    )
    op.create_table(
        "dossiers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(80), nullable=False, unique=True),
        sa.Column("procedure_id", sa.BigInteger, sa.ForeignKey("procedures.id"), nullable=False),
        sa.Column("procedure_code", sa.String(40), nullable=False),
        sa.Column("procedure_name", sa.String(300), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("applicant_name", sa.String(200), nullable=False),
        sa.Column("applicant_personal_id", sa.String(12), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("channel", sa.SmallInteger, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("fee_vnd", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("agency_code", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reception_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="status"),
        sa.CheckConstraint("channel IN (1, 2, 3)", name="channel"),
    )
    op.create_index("ix_dossiers_citizen_id", "dossiers", ["citizen_id", "created_at"])
    op.create_index("ix_dossiers_status_due", "dossiers", ["status", "due_at"])
    op.create_table(
        "dossier_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("from_status", sa.String(24)),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_dossier_history_dossier_id", "dossier_history", ["dossier_id", "id"])
    # DOMAIN: every transition is recorded and never edited — enforced by the database itself.
    op.execute(
        """
        CREATE FUNCTION dossier_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'dossier history is append-only';
        END $$;
        CREATE TRIGGER dossier_history_append_only BEFORE UPDATE OR DELETE ON dossier_history
            FOR EACH ROW EXECUTE FUNCTION dossier_history_is_append_only();
        """
    )
    op.create_table(
        "dossier_drafts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("procedure_id", sa.BigInteger, sa.ForeignKey("procedures.id"), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        # Submitting twice with the same draft token creates one dossier (double click, retry).
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("citizen_id", "procedure_id"),
    )
    op.create_table(
        "dossier_files",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("draft_id", sa.BigInteger, sa.ForeignKey("dossier_drafts.id", ondelete="SET NULL")),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id")),
        sa.Column("document_code", sa.String(40), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_dossier_files_dossier_id", "dossier_files", ["dossier_id"])
    op.create_index("ix_dossier_files_draft_id", "dossier_files", ["draft_id"])


def downgrade() -> None:
    op.drop_table("dossier_files")
    op.drop_table("dossier_drafts")
    op.drop_table("dossier_history")
    op.execute("DROP FUNCTION dossier_history_is_append_only()")
    op.drop_table("dossiers")
    op.drop_table("dossier_sequences")
