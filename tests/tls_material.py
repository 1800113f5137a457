"""Real PEM material for tests of tls=provided: the loader parses it (config/pem.py), so fakes no longer pass.

Keys are EC P-256 (generated in well under a millisecond) unless a test asks for RSA; every pair
is made fresh per process, so no key is ever committed.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

DEV_NAMES = ("*.localhost", "*.example.com")
"""Cover the dev and prod stack files' host names (blog./cloud. under localhost and example.com)."""


@dataclass(frozen=True)
class Pair:
    certificate: str
    """PEM chain: the server's certificate first, then (when asked for) an issuer."""
    key: str
    """PEM private key, PKCS#8, unencrypted."""


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def _certificate(
    subject_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    names: Sequence[str],
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "selfhost test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


@cache
def pair(
    names: tuple[str, ...] = DEV_NAMES, *, rsa_bits: int = 0, with_issuer: bool = False, password: bytes = b""
) -> Pair:
    """A certificate for ``names`` and its key (RSA of ``rsa_bits`` if given, else EC P-256)."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(65537, rsa_bits) if rsa_bits else ec.generate_private_key(ec.SECP256R1())
    )
    chain = [_certificate(key, names)]
    if with_issuer:
        issuer = ec.generate_private_key(ec.SECP256R1())
        chain.append(_certificate(issuer, ("issuer.test",)))
    text = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    return Pair(certificate=text, key=_pem_key(key, password or None))
