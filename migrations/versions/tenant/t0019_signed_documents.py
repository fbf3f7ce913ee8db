"""tenant: signed documents (slips, receipts, forms, results) with their public verification id

Revision ID: t0019
Revises: t0018
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0019"
down_revision: str | None = "t0018"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_documents",
        # The id printed in the QR code (/xac-thuc/<id>): random, so ids cannot be walked.
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column(
            "dossier_id", sa.BigInteger(), sa.ForeignKey("dossiers.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("unit_id", sa.BigInteger(), sa.ForeignKey("units.id", ondelete="SET NULL"), nullable=True),
        # The unit's name as it was when signed: a renamed unit does not rewrite old documents.
        sa.Column("issuer_name", sa.String(300), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("certificate_serial", sa.String(80), nullable=False),
        sa.Column("certificate_subject", sa.String(500), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timestamped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        # Whether the citizen sees it among the dossier's documents (internal sheets are not shown).
        sa.Column("citizen_visible", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_signed_documents_dossier_id", "signed_documents", ["dossier_id"])
    # An uploaded copy is matched to the filed one by its hash.
    op.create_index("ix_signed_documents_sha256", "signed_documents", ["sha256"])
    op.create_index("ix_signed_documents_certificate_serial", "signed_documents", ["certificate_serial"])


def downgrade() -> None:
    op.drop_table("signed_documents")
