"""Browsers of the admin tests, for the verification pages; a SoftHSM2 token for the PKCS#11 signer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pkcs11 import Attribute, CertificateType, ObjectClass

from motcua.signing.certificates import IssuedKey
from tests.admin.conftest import signed_in  # noqa: F401

# Debian's softhsm2 (`make test` installs it).
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "87654321"


@dataclass
class SoftHsm:
    """A SoftHSM2 token directory of its own, made for this test session.

    PKCS#11 modules read their configuration once, when the process first loads them, and SoftHSM
    lists only the tokens that exist then: every token is created before the product's signer loads
    the module. Keys can be added at any time (SoftHSM notices new objects)."""

    folder: Path
    conf: Path
    module: str = SOFTHSM_MODULE
    tokens: dict[str, str] = field(default_factory=dict)  # label → user PIN
    _ids: int = 0

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["softhsm2-util", *args],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )

    def init_token(self, label: str, pin: str) -> None:
        self._run("--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN)
        self.tokens[label] = pin

    def import_key(self, token: str, label: str, key: IssuedKey) -> Path:
        """The key (as unencrypted PKCS#8 PEM, the form ``softhsm2-util`` reads) and its certificate
        into the token under ``label``; the PEM file is deleted at once, and its path returned so
        that a test can show it is gone."""
        self._ids += 1
        object_id = self._ids.to_bytes(4, "big")
        private, _, _ = pkcs12.load_key_and_certificates(key.pkcs12, key.passphrase)
        assert private is not None
        pem = self.folder / f"{label}.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        try:
            self._run(
                "--import", str(pem), "--token", token, "--label", label,
                "--id", object_id.hex(), "--pin", self.tokens[token],
            )  # fmt: skip
        finally:
            pem.unlink()
        self.add_certificate(
            token, label, key.certificate.public_bytes(serialization.Encoding.DER), object_id
        )
        return pem

    def add_certificate(self, token: str, label: str, der: bytes, object_id: bytes = b"") -> None:
        """A certificate as a public token object, through python-pkcs11 in this process: a read-write
        session without logging in, so no login of the product's signer is disturbed (a PKCS#11 login
        belongs to the whole process, and closing a logged-in session would end it)."""
        from asn1crypto import x509 as asn1_x509

        cert = asn1_x509.Certificate.load(der)
        lib = pkcs11.lib(self.module)
        with lib.get_token(token_label=token).open(rw=True) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.LABEL: label,
                    Attribute.ID: object_id,
                    Attribute.SUBJECT: cert.subject.dump(),
                    Attribute.ISSUER: cert.issuer.dump(),
                    Attribute.SERIAL_NUMBER: cert["tbs_certificate"]["serial_number"].dump(),
                    Attribute.VALUE: der,
                }
            )

    def private_key_facts(self, token: str, label: str) -> dict[str, object]:
        """What the token says of a private key, asked by another process (its own login)."""
        script = """
import json, sys, pkcs11
from pkcs11 import Attribute, ObjectClass
module, token, pin, label = sys.argv[1:]
with pkcs11.lib(module).get_token(token_label=token).open(user_pin=pin) as session:
    (key,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
    facts = {"sensitive": key[Attribute.SENSITIVE], "extractable": key[Attribute.EXTRACTABLE]}
    try:
        key[Attribute.VALUE]
        facts["value"] = "read"
    except pkcs11.PKCS11Error as exc:
        facts["value"] = type(exc).__name__
print(json.dumps(facts))
"""
        out = subprocess.run(
            [sys.executable, "-c", script, self.module, token, self.tokens[token], label],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )
        facts: dict[str, object] = json.loads(out.stdout)
        return facts


# Tokens of the session: the product's, and one whose PIN the tests get wrong.
TOKEN = "motcua-test"
TOKEN_PIN = "24681357"
OTHER_TOKEN = "motcua-khac"
OTHER_PIN = "13572468"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    if not (Path(SOFTHSM_MODULE).is_file() and shutil.which("softhsm2-util")):
        pytest.fail("Debian's softhsm2 is needed for the PKCS#11 tests: `make test` installs it")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir(mode=0o700)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    hsm = SoftHsm(folder=folder, conf=conf)
    hsm.init_token(TOKEN, TOKEN_PIN)
    hsm.init_token(OTHER_TOKEN, OTHER_PIN)
    # The module reads SOFTHSM2_CONF when this process first loads it, and keeps it until exit.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield hsm
