"""What looks like a secret in a container's environment or command line: one rule, used by the
settings (a clear error before any resource) and by the policy pack (over whatever is registered).

Stdlib only: the policy pack imports it from its own virtualenv.
"""

from __future__ import annotations

import re

SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASS", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY", "PASSPHRASE", "SALT", "CREDENTIALS"}
)
SECRET_FLAG = re.compile(r"--?(requirepass|masterauth|password|passwd|pass|secret|token|api-?key)(=.*)?", re.I | re.S)
"""A command-line option that carries a secret (``--password=...``, ``--requirepass``): ``ps`` and
``docker inspect`` show it."""


def is_secret_name(variable: str) -> bool:
    """PASSWORD, SECRET, TOKEN, KEY, ... as a word of an environment variable's name."""
    return any(word in SECRET_WORDS for word in re.split(r"[^A-Z0-9]+", variable.upper()))


def plain_secret_variable_problem(variable: str, value: str) -> str | None:
    """Why ``variable=value`` puts a secret where ``docker inspect`` shows it, or None.

    A secret-like name is allowed only as ``*_FILE`` naming a file (an absolute path).
    """
    if not is_secret_name(variable):
        return None
    if not variable.endswith("_FILE"):
        return f"{variable} looks like a secret, and the environment is shown by `docker inspect`"
    if not value.startswith("/"):
        return f"{variable} must name a file (an absolute path), not hold a value"
    return None
