"""tenant: the applicant's phone and address as given when the dossier was received

Revision ID: t0023
Revises: t0022
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0023"
down_revision: str | None = "t0022"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # What the appointment slip shows of the applicant's contact, kept with the dossier: the slip
    # signed at intake and one signed later by the job (the signer was down) must be the same
    # document, and the applicant's record may change (or belong to an earlier e-ID login).
    op.add_column("dossiers", sa.Column("applicant_phone", sa.String(32), nullable=True))
    op.add_column("dossiers", sa.Column("applicant_address", sa.Text, nullable=True))
    # Dossiers an officer typed in (desk, post) showed their applicant record's phone and address
    # until now: they keep showing them. What a system sent through the API was not kept.
    op.execute(
        """
        UPDATE dossiers d SET applicant_phone = c.phone, applicant_address = c.address
        FROM citizens c
        WHERE c.id = d.citizen_id AND d.channel IN (1, 3) AND NOT d.submitted_by_citizen
        """
    )


def downgrade() -> None:
    op.drop_column("dossiers", "applicant_address")
    op.drop_column("dossiers", "applicant_phone")
