"""Tier 3: the config's e-mail and user-name rules against WordPress 7.1's own functions, run by PHP 8.4.

The rules in config/ are meant to be at least as strict as the consumers they protect: an
address the loader accepts must pass WordPress's ``is_email()`` (which ``wp core install``
checks), and a WordPress admin login must pass ``validate_username()``'s test and the 60
characters of ``wp_insert_user()``. Debian unstable's ``wordpress`` package (7.1) supplies
wp-includes/formatting.php unchanged; the script stubs only the hooks and locale lookup those functions call.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.fields import is_email_address
from config.settings import WordPressApp
from tests import sidroot

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
