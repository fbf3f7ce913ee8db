"""The development CA: made once however many workers start together, never in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from motcua.core.settings import SettingsError, load_settings
from motcua.signing.certificates import DEV_MARK, DevCertificateAuthority
from motcua.signing.pades import LocalKeySigner
from motcua.signing.signers import SigningRefusedError
from tests.notifications.test_mail_settings import PROD

_ISSUE = (
    "import sys; from pathlib import Path; from motcua.signing.certificates import DevCertificateAuthority;"
    "ca = DevCertificateAuthority(Path(sys.argv[1]));"
    "key = ca.key_for('demo', 'Demo', unit_id=7, unit_name='Sở');"
    "print(ca.root().serial_number, key.certificate.serial_number)"
)


def test_workers_starting_together_share_one_root_and_one_key_per_unit(tmp_path: Path) -> None:
    folder = tmp_path / "signing"
    workers = [
        subprocess.Popen([sys.executable, "-c", _ISSUE, str(folder)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    answers = {worker.communicate(timeout=60)[0] for worker in workers}
    assert len(answers) == 1 and all(w.returncode == 0 for w in workers)
    ca = DevCertificateAuthority(folder)
    key = ca.key_for("demo", "Demo", unit_id=7, unit_name="Sở")
    assert answers == {f"{ca.root().serial_number} {key.certificate.serial_number}\n".encode()}
    assert DEV_MARK in key.certificate.subject.rfc4514_string()
    assert (folder / "tenants" / "demo" / "unit-7.p12").stat().st_mode & 0o077 == 0
    # Another unit gets a key of its own.
    assert ca.key_for("demo", "Demo", unit_id=8, unit_name="Phường").certificate != key.certificate


def test_production_refuses_the_development_keys(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MOTCUA_SIGNING_BACKEND"):
        load_settings({**PROD, "MOTCUA_SIGNING_BACKEND": "local", "MOTCUA_DATA_DIR": str(tmp_path)})
    assert load_settings({**PROD, "MOTCUA_DATA_DIR": str(tmp_path)}).signing_backend == "pkcs11"
    ca = DevCertificateAuthority(tmp_path / "signing")
    with pytest.raises(SigningRefusedError, match="thử nghiệm"):
        LocalKeySigner(ca.key_for("demo", "Demo"), production=True)
