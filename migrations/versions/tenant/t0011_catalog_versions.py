"""tenant: catalogue management — publication state, document templates, immutable form versions

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0011"
down_revision: str | None = "t0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # New procedures start unpublished (an administrator publishes them when they are ready);
    # every procedure that exists already was public, so it stays public.
    op.add_column("procedures", sa.Column("published", sa.Boolean, nullable=False, server_default="false"))
    op.execute("UPDATE procedures SET published = true")
    # The template of each required document that has one, {document code: {id, name, …}}: kept
    # on the procedure row so the (cached) public page can link them without another query.
    op.add_column(
        "procedures", sa.Column("templates", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))
    )
    op.create_table(
        "procedure_templates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "procedure_id", sa.BigInteger, sa.ForeignKey("procedures.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("document_code", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        # Small (size-limited) and part of the catalogue: in the tenant's schema, so exports and
        # restores of the tenant carry them.
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_procedure_templates_procedure_id", "procedure_templates", ["procedure_id"])

    # Every procedure has its current form as a version row (version 1 for those never edited),
    # and every draft and dossier names a version that exists.
    op.execute(
        "INSERT INTO procedure_forms (procedure_id, version, definition) "
        "SELECT p.id, p.form_version, p.form_fields FROM procedures p "
        "WHERE NOT EXISTS (SELECT 1 FROM procedure_forms f WHERE f.procedure_id = p.id "
        "AND f.version = p.form_version)"
    )
    op.execute(
        "UPDATE dossier_drafts d SET form_version = 1 WHERE NOT EXISTS (SELECT 1 FROM procedure_forms f "
        "WHERE f.procedure_id = d.procedure_id AND f.version = d.form_version)"
    )
    # A published version is what citizens' drafts and dossiers were filled against: never
    # rewritten (a change is a new version).
    op.execute(
        """
        CREATE FUNCTION procedure_forms_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a published form version is never changed';
        END $$;
        CREATE TRIGGER procedure_forms_immutable BEFORE UPDATE ON procedure_forms
            FOR EACH ROW EXECUTE FUNCTION procedure_forms_are_immutable();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER procedure_forms_immutable ON procedure_forms")
    op.execute("DROP FUNCTION procedure_forms_are_immutable()")
    op.drop_table("procedure_templates")
    op.drop_column("procedures", "templates")
    op.drop_column("procedures", "published")
