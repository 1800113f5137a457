"""tls=provided: the certificate chain and private key must be what nginx can load and serve.

Checked with the ``cryptography`` package before any resource exists, because nginx reads
the files only when the proxy container starts: a certificate that is not PEM, a key that
is encrypted or belongs to another certificate, or a chain that does not name an app's
host name would otherwise show up as a proxy that never becomes healthy, or a browser
warning. Messages never quote the key; of the certificate they name only its DNS names,
which are public (every publicly trusted certificate is in the Certificate Transparency logs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
MIN_RSA_BITS = 2048
"""Debian's OpenSSL runs at security level 2, which refuses smaller RSA keys ("ee key too small", seen
with nginx 1.30 on Debian unstable); the official nginx:1.30 image is ``FROM debian:trixie-slim``
(nginx/docker-nginx, stable/debian/Dockerfile)."""
_CERT_HELP = (
    "set the PEM chain, server certificate first, then its intermediates: "
    '`pulumi config set --secret tlsCertificate -- "$(cat fullchain.pem)"`'
)
_KEY_HELP = 'set the unencrypted PEM key: `pulumi config set --secret tlsKey -- "$(cat privkey.pem)"`'


def _blocks(text: str) -> list[tuple[str, str]]:
    """(label, whole block) of every PEM block.

    Text between blocks is left alone, as OpenSSL's PEM reader (and so nginx) skips it: ``openssl
    pkcs12`` writes "Bag Attributes" lines there, and nginx 1.30 loads such a file.
    """
    return [(match.group(1), match.group(0)) for match in _BLOCK.finditer(text)]


def _certificates(text: str) -> tuple[list[x509.Certificate] | None, str | None]:
    blocks = _blocks(text)
    if not blocks:
        return None, f"tlsCertificate: [secret] is not a PEM certificate chain; {_CERT_HELP}"
    labels = {label for label, _ in blocks}
    if labels & {*_KEY_LABELS, "ENCRYPTED PRIVATE KEY"}:
        return (
            None,
            f"tlsCertificate: holds a private key; give only certificates here and the key in tlsKey; {_CERT_HELP}",
        )
    if labels != {"CERTIFICATE"}:
        return (
            None,
            f"tlsCertificate: holds PEM blocks other than CERTIFICATE ({', '.join(sorted(labels))}); {_CERT_HELP}",
        )
    try:
        return x509.load_pem_x509_certificates(text.encode()), None
    except ValueError:
        return None, f"tlsCertificate: a CERTIFICATE block does not parse as an X.509 certificate; {_CERT_HELP}"


def _private_key(text: str) -> tuple[object | None, str | None]:
    blocks = _blocks(text)
    if not blocks:
        return None, f"tlsKey: [secret] is not a PEM private key; {_KEY_HELP}"
    labels = [label for label, _ in blocks if label != "EC PARAMETERS"]
    if "ENCRYPTED PRIVATE KEY" in labels or "Proc-Type: 4,ENCRYPTED" in text:
        return None, (
            "tlsKey: the key is encrypted; nginx would wait for a passphrase at start. Decrypt it with "
            f"`openssl pkey -in key.pem -out plain.pem`, then {_KEY_HELP}"
        )
    keys = [block for label, block in blocks if label in _KEY_LABELS]
    if len(keys) != 1 or len(labels) != 1:
        return (
            None,
            f"tlsKey: must hold exactly one PEM private key and nothing else (found: {', '.join(labels)}); {_KEY_HELP}",
        )
    try:
        return serialization.load_pem_private_key(keys[0].encode(), password=None), None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None, f"tlsKey: [secret] does not parse as a private key; {_KEY_HELP}"


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in extension.value.get_values_for_type(x509.DNSName)]


def covers(names: Sequence[str], hostname: str) -> bool:
    """Whether a certificate for ``names`` is valid for ``hostname`` (a wildcard covers one whole left label)."""
    _, _, parent = hostname.partition(".")
    return any(name == hostname or (name.startswith("*.") and name[2:] == parent) for name in names)


def tls_pair_problem(certificate_pem: str, key_pem: str, hostnames: Sequence[str]) -> str | None:
    """Why nginx could not serve ``hostnames`` with this chain and key, or None when it can."""
    certificates, problem = _certificates(certificate_pem)
    if problem or not certificates:
        return problem
    key, problem = _private_key(key_pem)
    if problem or key is None:
        return problem
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        return f"tlsKey: an RSA key of {key.key_size} bits; OpenSSL refuses keys below {MIN_RSA_BITS} bits"
    fingerprints = [_spki(certificate.public_key()) for certificate in certificates]
    own = _spki(key.public_key())  # type: ignore[attr-defined]
    if own != fingerprints[0]:
        where = (
            f"it belongs to certificate {fingerprints.index(own) + 1} of the chain; put the server's certificate first"
            if own in fingerprints
            else "the key and the certificate are not a pair"
        )
        return f"tlsKey: does not match the first certificate of tlsCertificate: {where}"
    names = _dns_names(certificates[0])
    missing = [hostname for hostname in hostnames if not covers(names, hostname)]
    if missing:
        return (
            f"tlsCertificate: the certificate is not valid for {', '.join(missing)} (it names "
            f"{', '.join(names) or 'no DNS names in subjectAltName'}); every app's host name needs a certificate "
            "that names it, or a wildcard for its parent domain"
        )
    return None
