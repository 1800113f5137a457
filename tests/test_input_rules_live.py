"""Tier 3: the config's rules against the real consumers: WordPress 7.1's own functions under PHP 8.4, nginx 1.30.

The rules in config/ are meant to be at least as strict as the consumers they protect: an
address the loader accepts must pass WordPress's ``is_email()`` (which ``wp core install``
checks), and a WordPress admin login must pass ``validate_username()``'s test and the 60
characters of ``wp_insert_user()``. Debian unstable's ``wordpress`` package (7.1) supplies
wp-includes/formatting.php unchanged; the script stubs only the hooks and the locale lookup
those functions call.
For tls=provided, a certificate and key pass the loader exactly when nginx 1.30 with Debian's
OpenSSL (the official nginx:1.30 image is Debian trixie) loads them with ``nginx -t``.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from components.apps.wordpress.settings import WordPressApp
from components.core.fields import is_email_address
from config.pem import tls_pair_problem
from tests import sidroot, tls_material

PHP = r"""<?php
function apply_filters($hook, $value) { return $value; }
function _deprecated_argument() {}
function mbstring_binary_safe_encoding() {}
function reset_mbstring_encoding() {}
function get_locale() { return 'en_US'; }
require '/usr/share/wordpress/wp-includes/compat-utf8.php';
require '/usr/share/wordpress/wp-includes/utf8.php';
require '/usr/share/wordpress/wp-includes/formatting.php';
$in = json_decode(file_get_contents('php://stdin'), true);
$out = ['emails' => [], 'users' => []];
foreach ($in['emails'] as $e) { $out['emails'][] = is_email($e) !== false; }
foreach ($in['users'] as $u) {
    // validate_username() (wp-includes/user.php) is exactly this test, before its filter.
    $s = sanitize_user($u, true);
    // wp_insert_user() counts with mb_strlen; a strict login is ASCII, so strlen is the same (no mbstring here).
    $out['users'][] = ($s === $u && !empty($s) && strlen($u) <= 60);
}
echo json_encode($out);
"""

EMAILS = [
    "admin@example.com",
    "a.b-c+d_e%f@sub.example.co",
    "x@y.zz",
    "a@my_host.com",
    "a..b@example.com",
    ".a@example.com",
    "a@-x.com",
    "a@x-.com",
    "a@x..com",
    "a@x.c0m",
    "ops;x@example.com",
    "o{ps}@example.com",
    "o'ps@example.com",
    "--exec@example.com",
    "a@b",
    "admin@example.com\n",
    "a@10.0.0.1",
    "A@EXAMPLE.COM",
    "a" * 88 + "@example.com",
    "a" * 89 + "@example.com",
]
USERS = ["0", "admin", "root-admin", "a.b@c", "a" * 60, "a" * 61, "bad user", "x\n", "-x", "_x", "ä", "a%41", "a&amp;b"]


def _random_strings(alphabet: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(count)]


@pytest.fixture(scope="module")
def wordpress_root() -> Path:
    reason = sidroot.skip_reason()
    if reason:
        pytest.skip(reason)
    return sidroot.ensure_root(["php8.4-cli", "wordpress"])


def _wordpress_says(root: Path, emails: list[str], users: list[str]) -> tuple[list[bool], list[bool]]:
    script = root / "tmp" / f"selfhost-rules-{random.randrange(1 << 30)}.php"
    script.write_text(PHP)
    try:
        done = subprocess.run(
            sidroot.chroot_command(root, "php", f"/tmp/{script.name}"),
            input=json.dumps({"emails": emails, "users": users}),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        script.unlink()
    result = json.loads(done.stdout)
    return result["emails"], result["users"]


def test_every_address_the_config_accepts_wordpress_accepts(wordpress_root: Path) -> None:
    locals_ = _random_strings("aaaaabbbbccc0.-_+%;{}'#$!=/?^`|~", 1500, 1)
    domains = _random_strings("aaaaabbbbcc1.-_", 1500, 2)
    fuzz = [f"{local}@{domain}" for local, domain in zip(locals_, domains, strict=True)]
    candidates = EMAILS + [f"{e}.com" for e in fuzz] + fuzz
    wordpress, _ = _wordpress_says(wordpress_root, candidates, [])
    ours = [is_email_address(e) for e in candidates]
    looser = [e for e, mine, theirs in zip(candidates, ours, wordpress, strict=True) if mine and not theirs]
    assert not looser, f"the config accepts what WordPress's is_email() refuses: {looser[:10]}"
    assert sum(ours) > 20, "the fuzz should contain accepted addresses too"
    # The cases the catalogue refuses because WordPress does (not only because the rule is strict):
    refused_by_wordpress = {e for e, ok in zip(candidates, wordpress, strict=True) if not ok}
    assert {"a@my_host.com", "a@b", "a@x..com", "a@-x.com"} <= refused_by_wordpress


def _config_accepts_login(login: str) -> bool:
    try:
        WordPressApp(kind="wordpress", hostname="blog.localhost", admin_user=login)
    except ValidationError:
        return False
    return True


def test_every_wordpress_login_the_config_accepts_wordpress_accepts(wordpress_root: Path) -> None:
    candidates = USERS + _random_strings("aZ09._@- %&;ä", 1500, 3)
    _, wordpress = _wordpress_says(wordpress_root, [], candidates)
    ours = [_config_accepts_login(u) for u in candidates]
    looser = [u for u, mine, theirs in zip(candidates, ours, wordpress, strict=True) if mine and not theirs]
    assert not looser, f"the config accepts logins WordPress refuses: {looser[:10]}"
    said = dict(zip(USERS, wordpress, strict=False))
    assert said["a" * 61] is False, "WordPress's 60-character limit"
    assert said["0"] is False, "PHP's empty('0'): validate_username() and wp_insert_user() refuse the login 0"


# --- tls=provided: what the loader accepts, the real nginx 1.30 loads ---------------------------


def _nginx_loads(root: Path, certificate: str, key: str) -> tuple[bool, str]:
    """``nginx -t`` on a server with this certificate and key: loaded, and nginx's error if not."""
    directory = Path(tempfile.mkdtemp(dir=root / "tmp", prefix="selfhost-tls-"))
    inner = f"/tmp/{directory.name}"
    try:
        (directory / "cert.pem").write_text(certificate)
        (directory / "key.pem").write_text(key)
        (directory / "nginx.conf").write_text(
            f"pid {inner}/nginx.pid;\nerror_log {inner}/error.log;\nevents {{}}\n"
            f"http {{ access_log off; server {{ listen 127.0.0.1:1 ssl; "
            f"ssl_certificate {inner}/cert.pem; ssl_certificate_key {inner}/key.pem; }} }}\n"
        )
        done = subprocess.run(
            sidroot.chroot_command(root, "nginx", "-t", "-q", "-p", inner, "-c", f"{inner}/nginx.conf"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.returncode == 0, done.stderr
    finally:
        shutil.rmtree(directory)


@pytest.fixture(scope="module")
def nginx_root() -> Path:
    reason = sidroot.skip_reason()
    if reason:
        pytest.skip(reason)
    return sidroot.ensure_root(["nginx"])


def _chain_reversed(text: str) -> str:
    end = "-----END CERTIFICATE-----\n"
    return "".join(reversed([block + end for block in text.split(end) if block.strip()]))


PLAIN = tls_material.pair(("blog.localhost",))
CHAINED = tls_material.pair(("blog.localhost",), with_issuer=True)
RSA_1024 = tls_material.pair(("blog.localhost",), rsa_bits=1024)
RSA_2048 = tls_material.pair(("blog.localhost",), rsa_bits=2048)
ENCRYPTED = tls_material.pair(("blog.localhost",), password=b"pass")
BAG = "Bag Attributes\n    localKeyID: 01 02\nsubject=CN = blog.localhost\n"
TLS_CASES = {
    # name: (certificate, key, nginx loads it)
    "plain-pair": (PLAIN.certificate, PLAIN.key, True),
    "with-intermediate": (CHAINED.certificate, CHAINED.key, True),
    "rsa-2048": (RSA_2048.certificate, RSA_2048.key, True),
    "pkcs12-bag-attributes": (BAG + PLAIN.certificate, "Bag Attributes\n" + PLAIN.key, True),
    "crlf-line-ends": (PLAIN.certificate.replace("\n", "\r\n"), PLAIN.key.replace("\n", "\r\n"), True),
    "key-of-another-pair": (PLAIN.certificate, CHAINED.key, False),
    "intermediate-first": (_chain_reversed(CHAINED.certificate), CHAINED.key, False),
    "rsa-1024": (RSA_1024.certificate, RSA_1024.key, False),
    "encrypted-key": (ENCRYPTED.certificate, ENCRYPTED.key, False),
    "not-pem": ("hello", PLAIN.key, False),
}


@pytest.mark.parametrize("case", sorted(TLS_CASES))
def test_the_loader_and_nginx_agree_on_certificates(nginx_root: Path, case: str) -> None:
    certificate, key, nginx_should_load = TLS_CASES[case]
    loaded, error = _nginx_loads(nginx_root, certificate, key)
    assert loaded is nginx_should_load, error
    problem = tls_pair_problem(certificate, key, ["blog.localhost"])
    assert (problem is None) is loaded, problem
    if problem:
        assert not any(len(line) > 16 and line in problem for line in key.splitlines())
