"""Tier 3: the database healthchecks and server flags, on PostgreSQL 18 and MariaDB 11.8.

The servers come from the Debian unstable root (tests/sidroot.py), each in a network
namespace of its own on its default port (tests/rootservers.py), started once the way the
image's entrypoint starts its first-start server and once the way it starts the final one:

- PostgreSQL (docker-library/postgres 18/*/docker-entrypoint.sh): the temporary server gets
  ``-c listen_addresses=''`` (socket only); the final one listens on ``*``
  (postgresql.conf.sample). The program's exact healthcheck argv must fail on the first and
  pass on the second; the argv it had before (no ``--host``) passes on both.
- MariaDB (MariaDB/mariadb-docker 11.8/docker-entrypoint.sh): the temporary server gets
  ``--skip-networking``. The image's healthcheck.sh is not in Debian; what its ``--connect``
  test relies on is checked instead: ``select @@skip_networking`` over the socket answers 1
  on the temporary server and 0 on the final one, and TCP is refused on the first. And the
  flags the program passes for Nextcloud start the server and take effect.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.apps.nextcloud import spec as nextcloud
from components.services import database
from tests.rootservers import RootServer, ensure

pytestmark = pytest.mark.live

PG_BIN = "/usr/lib/postgresql/18/bin"
"""On the image's PATH too (ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin)."""
USER, DATABASE = "nextcloud", "nextcloud"


@pytest.fixture(scope="module")
def root() -> Path:
    return ensure(["postgresql-18", "mariadb-server"])


def postgres(root: Path, *flags: str) -> RootServer:
    setup = (
        "mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql && "
        f"runuser -u postgres -- {PG_BIN}/initdb --no-sync --username={USER} -D /tmp/pgdata >/dev/null"
    )
    server = RootServer(
        root,
        [f"{PG_BIN}/postgres", "-D", "/tmp/pgdata", *flags],
        user="postgres",
        setup=setup,
        stop_signal=signal.SIGINT,
    )
    server.wait_until(lambda: server.run("test", "-S", "/run/postgresql/.s.PGSQL.5432").returncode == 0, "postgres")
    return server


def healthcheck(server: RootServer, test: tuple[str, ...]) -> int:
    """Run a ``CMD`` healthcheck's argv as Docker does (as the image's user, root), PATH as in the image."""
    assert test[0] == "CMD"
    return server.run(*test[1:], env={"PATH": f"/usr/local/bin:/usr/bin:/bin:{PG_BIN}"}).returncode


PROGRAM_TEST = database.postgres_healthcheck(USER, DATABASE)
FORMER_TEST = ("CMD", "pg_isready", "--username", USER, "--dbname", DATABASE)


@pytest.fixture(scope="module")
def first_start_postgres(root: Path) -> Iterator[RootServer]:
    server = postgres(root, "-c", "listen_addresses=", "-p", "5432")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def final_postgres(root: Path) -> Iterator[RootServer]:
    server = postgres(root, "-c", "listen_addresses=*")
    yield server
    server.stop()


def test_postgres_is_18(final_postgres: RootServer) -> None:
    assert final_postgres.run(f"{PG_BIN}/postgres", "--version").stdout.startswith("postgres (PostgreSQL) 18.")


def test_the_program_checks_postgres_over_tcp_on_localhost() -> None:
    assert PROGRAM_TEST == ("CMD", "pg_isready", "--host", "127.0.0.1", "--username", USER, "--dbname", DATABASE)


def test_first_start_server_is_not_healthy(first_start_postgres: RootServer) -> None:
    assert healthcheck(first_start_postgres, PROGRAM_TEST) == 2  # pg_isready: no response
    # What the healthcheck was before: the socket answers, so the temporary server looked ready.
    assert healthcheck(first_start_postgres, FORMER_TEST) == 0


def test_final_server_is_healthy(final_postgres: RootServer) -> None:
    assert healthcheck(final_postgres, PROGRAM_TEST) == 0


# --- MariaDB ----------------------------------------------------------------------------------------

SOCKET = "/run/mysqld/mysqld.sock"


def mariadb(root: Path, *flags: str) -> RootServer:
    setup = (
        "mkdir -p /run/mysqld && "
        "mariadb-install-db --no-defaults --user=root --datadir=/tmp/mysql --skip-test-db "
        "--auth-root-authentication-method=socket >/dev/null"
    )
    server = RootServer(
        root,
        ["mariadbd", "--no-defaults", "--user=root", "--datadir=/tmp/mysql", f"--socket={SOCKET}", *flags],
        setup=setup,
    )
    server.wait_until(lambda: sql(server, "select 1") == "1", "mariadbd")
    return server


def sql(server: RootServer, query: str, *, tcp: bool = False) -> str:
    where = ["--protocol=tcp", "--host=127.0.0.1"] if tcp else ["--protocol=socket", f"--socket={SOCKET}"]
    result = server.run(
        "mariadb", "--no-defaults", *where, "--user=root", "--batch", "--skip-column-names", "-e", query
    )
    return (result.stdout + result.stderr).strip()


def test_mariadb_first_start_server_fails_the_connect_test_and_the_final_one_passes(root: Path) -> None:
    # The entrypoint's temporary server: its flags include --skip-networking.
    first = mariadb(root, "--skip-networking")
    try:
        assert sql(first, "select @@skip_networking") == "1"
        assert "ERROR 2002" in sql(first, "select 1", tcp=True)
    finally:
        first.stop()
    final = mariadb(root, "--port=3306", *nextcloud.MARIADB_SERVER_ARGS)
    try:
        assert sql(final, "select @@skip_networking") == "0"
        # Over TCP root is refused (socket authentication), which healthcheck.sh counts as connected (28000).
        assert "(28000)" in sql(final, "select 1", tcp=True)
    finally:
        final.stop()


def test_nextclouds_mariadb_flags_take_effect_on_11_8(root: Path) -> None:
    assert database.MARIADB_HEALTHCHECK == ("CMD", "healthcheck.sh", "--connect", "--innodb_initialized")
    server = mariadb(root, *nextcloud.MARIADB_SERVER_ARGS)
    try:
        assert sql(server, "select version()").startswith("11.8.")
        assert sql(server, "select @@transaction_isolation, @@binlog_format").split() == ["READ-COMMITTED", "ROW"]
    finally:
        server.stop()
