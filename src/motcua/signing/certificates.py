"""The development certificate authority: a root, one signing certificate per tenant and per
unit, and a revocation list, kept under ``data_dir/signing`` (never in git).

Every certificate it issues says in its subject that it has no legal value ("KHÔNG CÓ GIÁ TRỊ
PHÁP LÝ — chỉ dùng thử nghiệm"), and production refuses to sign with it (``signers``).

Decisions:

* Keys are ECDSA P-256: a signature costs a fraction of a millisecond, where RSA-3072 costs ten
  (the timestamp authority's is RSA-2048: pyHanko's in-process timestamper signs with RSA only).
* Files are created once and then only read, under an ``flock`` on ``.lock`` in the folder, so two
  workers starting together (or two threads of one) never make two roots or two keys for one unit;
  each file is written to a temporary name and renamed into place, so a reader never sees half a
  key. Keys are ``0o600``.
* Each signing certificate is a PKCS#12 file, the form a key from a real CA arrives in.
* Revocation: ``revoked.json`` lists serial numbers; ``crl()`` signs them into an X.509 CRL that
  the validator is given, so a revoked key is refused when signing and shown as revoked when a
  document it signed is checked.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Shown in every development certificate's subject, and so in every signature panel of a reader.
DEV_MARK = "KHÔNG CÓ GIÁ TRỊ PHÁP LÝ — chỉ dùng thử nghiệm"
DEV_ROOT_NAME = "motcua Development Root CA"
# PKCS#12 files of the development CA: a passphrase only so that readers that insist on one open them.
DEV_PASSPHRASE = b"motcua-dev"
_ROOT_YEARS = 10
_LEAF_DAYS = 2 * 365
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class IssuedKey:
    """A signing key and its certificate, as the signer loads them."""

    pkcs12: bytes
    passphrase: bytes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


class DevCertificateAuthority:
    """The development CA under ``folder`` (``data_dir/signing``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        # The root never changes once made; the CRL is re-signed when the list changes or ages.
        self._root_cached: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        self._crl_cached: tuple[frozenset[int], datetime, bytes] | None = None

    # -- the root ---------------------------------------------------------------------------
    def root(self) -> x509.Certificate:
        cert, _ = self._root()
        return cert

    def root_pem(self) -> bytes:
        return self.root().public_bytes(serialization.Encoding.PEM)

    def _root(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if self._root_cached is not None:
            return self._root_cached
        cert_path, key_path = self.folder / "root.pem", self.folder / "root-key.pem"
        if not cert_path.exists():
            with self._locked():
                if not cert_path.exists():  # another process may have made it while we waited
                    key = ec.generate_private_key(ec.SECP256R1())
                    name = x509.Name(
                        [
                            x509.NameAttribute(NameOID.COMMON_NAME, DEV_ROOT_NAME),
                            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_MARK),
                            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        ]
                    )
                    now = datetime.now(UTC) - timedelta(minutes=5)
                    cert = (
                        x509.CertificateBuilder()
                        .subject_name(name)
                        .issuer_name(name)
                        .public_key(key.public_key())
                        .serial_number(x509.random_serial_number())
                        .not_valid_before(now)
                        .not_valid_after(now + timedelta(days=365 * _ROOT_YEARS))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .add_extension(_key_usage(ca=True), critical=True)
                        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                        .sign(key, hashes.SHA256())
                    )
                    _write(key_path, _key_pem(key), mode=0o600)
                    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        self._root_cached = (cert, loaded)
        return self._root_cached

    # -- signing certificates ---------------------------------------------------------------
    def key_for(
        self,
        tenant_slug: str,
        tenant_name: str,
        *,
        unit_id: int | None = None,
        unit_name: str | None = None,
    ) -> IssuedKey:
        """The tenant's signing key (or one unit's), issued on first use."""
        if not _SLUG.fullmatch(tenant_slug):
            raise ValueError(f"not a tenant slug: {tenant_slug!r}")
        name = f"unit-{int(unit_id)}.p12" if unit_id is not None else "tenant.p12"
        path = self.folder / "tenants" / tenant_slug / name
        if not path.exists():
            root, root_key = self._root()
            with self._locked():
                if not path.exists():
                    data = self._issue(root, root_key, tenant_name, unit_name or tenant_name)
                    _write(path, data, mode=0o600)
        return self._load(path.read_bytes())

    def tsa_key(self) -> IssuedKey:
        """The development timestamp authority's key (``dev.timestamps``), issued on first use."""
        path = self.folder / "tsa.p12"
        if not path.exists():
            root, root_key = self._root()
            with self._locked():
                if not path.exists():
                    data = self._issue(root, root_key, "motcua", "motcua Development TSA", tsa=True)
                    _write(path, data, mode=0o600)
        return self._load(path.read_bytes())

    def issue(
        self,
        tenant_name: str,
        holder: str,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedKey:
        """A key kept nowhere: tests use it for the expired certificate and the stranger's key."""
        root, root_key = self._root()
        return self._load(self._issue(root, root_key, tenant_name, holder, not_before, not_after))

    def _issue(
        self,
        root: x509.Certificate,
        root_key: ec.EllipticCurvePrivateKey,
        tenant_name: str,
        holder: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        *,
        tsa: bool = False,
    ) -> bytes:
        # pyHanko's in-process timestamper (the development TSA) signs with RSA only.
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if tsa
            else ec.generate_private_key(ec.SECP256R1())
        )
        # RFC 3161 §2.3: a TSA's certificate has exactly one, critical, extended key usage.
        usage = (
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
            if tsa
            else (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        )
        start = not_before or datetime.now(UTC) - timedelta(minutes=5)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, holder[:64]),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, tenant_name[:64]),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_MARK),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(not_after or start + timedelta(days=_LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(usage[0], critical=usage[1])
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        return pkcs12.serialize_key_and_certificates(
            holder.encode(),
            key,
            cert,
            [root],
            serialization.BestAvailableEncryption(DEV_PASSPHRASE),
        )

    @staticmethod
    def _load(data: bytes) -> IssuedKey:
        _, cert, others = pkcs12.load_key_and_certificates(data, DEV_PASSPHRASE)
        assert cert is not None
        return IssuedKey(pkcs12=data, passphrase=DEV_PASSPHRASE, certificate=cert, chain=tuple(others))

    # -- revocation -------------------------------------------------------------------------
    def revoke(self, serial: int) -> None:
        with self._locked():
            serials = self.revoked_serials() | {serial}
            _write(self._revoked_path, json.dumps(sorted(str(s) for s in serials)).encode())

    def revoked_serials(self) -> frozenset[int]:
        try:
            return frozenset(int(s) for s in json.loads(self._revoked_path.read_text()))
        except FileNotFoundError:
            return frozenset()

    def crl(self) -> bytes:
        """The revocation list, signed by the root (DER), for the validator."""
        revoked = self.revoked_serials()
        now = datetime.now(UTC)
        cached = self._crl_cached
        if cached is not None and cached[0] == revoked and now - cached[1] < timedelta(hours=1):
            return cached[2]
        root, root_key = self._root()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(root.subject)
            .last_update(now - timedelta(minutes=5))
            .next_update(now + timedelta(days=1))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        )
        for serial in sorted(revoked):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - timedelta(minutes=5))
                .build()
            )
        crl = builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        self._crl_cached = (revoked, now, crl)
        return crl

    @property
    def _revoked_path(self) -> Path:
        return self.folder / "revoked.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
