"""What the appointment slip shows of the applicant's contact is kept with the dossier (t0023):
a dossier an officer typed in before the migration keeps showing its applicant record's phone and
address; an online one keeps showing its form's contact phone and no address."""

from __future__ import annotations

from alembic import command as alembic_command
from alembic.config import Config
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.tenancy.migrate import migrate_tenant_schema
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, in_progress_dossier


def test_the_migration_keeps_what_the_slips_of_earlier_dossiers_showed(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    schema = tenant.schema
    config = Config(str(live_settings.root / "alembic.ini"))
    config.set_main_option("script_location", str(live_settings.root / "migrations"))
    with engine.begin() as conn:  # the tenant as it was before t0023
        config.attributes.update(connection=conn, schema=schema)
        alembic_command.downgrade(config, "t0022")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schema}.citizens (issuer, subject, personal_id, full_name, phone, address) "
                "VALUES ('intake', '001190000009', '001190000009', 'Người nộp', '0987654321', "
                "'Số 5 phố Huế, Hà Nội')"
            )
        )
        for code in ("DESK-1", "POST-1", "ONLINE-1", "CITIZEN-AT-DESK-1"):
            in_progress_dossier(conn, tenant, code, str(BIRTH["code"]))
        conn.execute(
            text(
                f"UPDATE {schema}.dossiers SET "
                "submitted_by_citizen = code IN ('ONLINE-1', 'CITIZEN-AT-DESK-1'), "
                "channel = CASE code WHEN 'POST-1' THEN 3 WHEN 'ONLINE-1' THEN 2 ELSE 1 END"
            )
        )
    migrate_tenant_schema(engine, live_settings.root, schema)

    with engine.connect() as conn:
        kept: dict[str, str] = dict(
            conn.execute(
                text(f"SELECT code, (applicant_phone, applicant_address)::text FROM {schema}.dossiers")
            ).all()
        )
    typed_in = '(0987654321,"Số 5 phố Huế, Hà Nội")'
    assert kept == {
        "DESK-1": typed_in,
        "POST-1": typed_in,
        "ONLINE-1": "(,)",
        "CITIZEN-AT-DESK-1": "(,)",
    }
