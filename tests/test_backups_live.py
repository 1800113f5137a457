"""Tier 3: the backup scripts for real: MariaDB 11.8, PostgreSQL 18 and restic 0.19 from Debian unstable.

What this proves, with the scripts components/backups/scripts.py renders, run in stand-ins for
their containers (tests/backupboxes.py: the container's paths, user, volumes, one network; the
scheduler under busybox sh as on the Alpine restic image):

- rows written into a real MariaDB and a real Postgres are dumped by the dumpers (asked by the
  scheduler through control/ files), stored with the volumes by a real restic in a local
  repository (``scheduler.sh once``: no waiting for the clock), restored into FRESH servers and
  compared row for row; the volumes come back byte for byte (modes and symlinks too);
- Nextcloud's maintenance mode (a stub ``php occ`` recording its calls) is on during the dumps
  and the snapshot and off afterwards, also when the dump fails, when the helper is stopped,
  and when the scheduler never asks (the deadline);
- a failing dump fails that app's run only, is written in the status file, and the
  healthcheck (run as Docker would) turns unhealthy; a repository that cannot be opened is
  never re-initialised (restic's exit code 10 alone means "does not exist").
"""

from __future__ import annotations

import datetime
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.backups import scripts
from components.backups.plan import LOCAL_REPOSITORY_DIR, SCHEDULER_STATE_DIR
from tests.backupboxes import Bind, Box, Network, Process, owned_file, passwd_ids
from tests.backupstack import PREFIX, BackupStack, blog_rows, cloud_rows, tree, write_data
from tests.rootservers import ensure
from tests.test_backup_scripts import MONGO_DUMP

pytestmark = pytest.mark.live

PACKAGES = ["restic", "jq", "busybox-static", "mariadb-server", "postgresql-18"]


@pytest.fixture(scope="module")
def root() -> Path:
    return ensure(PACKAGES)


@pytest.fixture(scope="module")
def stack(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackupStack]:
    stack = BackupStack(root, tmp_path_factory.mktemp("backups"), step_timeout=20)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def first_backup(stack: BackupStack) -> dict[str, object]:
    write_data(stack)
    stack.start_helpers()
    result = stack.scheduler("once")
    assert result.returncode == 0, result.stdout + result.stderr
    return {"output": result.stderr, "status": stack.status()}


def test_one_run_backs_up_every_app_and_records_it(stack: BackupStack, first_backup: dict[str, object]) -> None:
    status = first_backup["status"]
    assert isinstance(status, dict)
    assert status["last_run"]["result"] == "ok"
    assert status["last_run"]["failed"] == []
    for app in ("blog", "cloud"):
        record = status["apps"][app]
        assert record["result"] == "ok"
        assert record["error"] is None
        assert len(record["snapshot_id"]) == 64
        assert record["bytes_added"] > 100_000
        assert record["last_success"] == record["last_attempt"]
    assert status["forget"]["result"] == "ok"
    assert "no repository yet: restic init" in str(first_backup["output"])
    health = stack.box(f"{PREFIX}-backup").run(*scheduler_health(stack))
    assert health.returncode == 0, health.stdout
    assert health.stdout.startswith("healthy: last success")


def scheduler_health(stack: BackupStack) -> tuple[str, ...]:
    """The healthcheck's argv (``CMD`` form), run in the scheduler's box as Docker runs it."""
    test = scripts.scheduler_healthcheck(stack.plan)
    assert test[0] == "CMD"
    return test[1:]


def test_snapshots_are_tagged_per_app_and_kind_with_the_stack_as_host(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    result = stack.scheduler("restic", "snapshots", "--json")
    assert result.returncode == 0, result.stderr
    snapshots = json.loads(result.stdout)
    assert sorted((s["hostname"], tuple(s["tags"])) for s in snapshots) == [
        (PREFIX, ("app=blog", "kind=wordpress")),
        (PREFIX, ("app=cloud", "kind=nextcloud")),
    ]
    paths = {s["tags"][0]: sorted(s["paths"]) for s in snapshots}
    assert paths["app=blog"] == ["/backup/apps/blog/dumps/db.sql", "/backup/source/blog/html"]
    assert paths["app=cloud"] == [
        "/backup/apps/cloud/dumps/db.pgdump",
        "/backup/source/cloud/data",
        "/backup/source/cloud/html",
    ]


def test_maintenance_mode_was_on_for_the_dump_and_off_after(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    calls = (stack.occ_log / "calls").read_text().splitlines()
    assert calls == ["/var/www/html/occ maintenance:mode --on", "/var/www/html/occ maintenance:mode --off"]
    assert (stack.occ_log / "state").read_text() == "off\n"


def test_the_dumps_are_consistent_files_with_no_temp_left(stack: BackupStack, first_backup: dict[str, object]) -> None:
    blog = stack.volume(f"{PREFIX}-blog-backup") / "dumps"
    cloud = stack.volume(f"{PREFIX}-cloud-backup") / "dumps"
    assert sorted(p.name for p in blog.iterdir()) == ["db.sql"]
    assert sorted(p.name for p in cloud.iterdir()) == ["db.pgdump"]
    assert b"Dump completed" in (blog / "db.sql").read_bytes()[-200:]
    assert (cloud / "db.pgdump").read_bytes()[:5] == b"PGDMP"
    # The password went through option files, never the command line or the dumps.
    assert b"s3cr" not in (blog / "db.sql").read_bytes()


def test_restore_into_fresh_servers_row_for_row_and_volumes_byte_for_byte(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    old_blog = stack.box_of_server("blog-db-data")
    old_cloud = stack.box_of_server("cloud-db-data")
    expected_blog, expected_cloud = blog_rows(stack, old_blog), cloud_rows(stack, old_cloud)
    assert expected_blog.count("\n") == 2 and expected_cloud.count("\n") == 999
    volumes = {
        name: tree(stack.volume(name))
        for name in (f"{PREFIX}-blog-html", f"{PREFIX}-cloud-html", f"{PREFIX}-cloud-data")
    }
    for name in ("blog-db-data", "cloud-db-data"):
        stack.stop(name)
    fresh_blog = stack.start_mariadb("fresh-blog-db-data")
    fresh_cloud = stack.start_postgres("fresh-cloud-db-data")
    assert stack.mariadb(fresh_blog, "show tables from wordpress") == ""
    for app in ("blog", "cloud"):
        result = stack.scheduler("restore", app)
        assert result.returncode == 0, result.stderr
        dumper = stack.box(f"{PREFIX}-{app}-db-dump").run("/bin/sh", scripts.HELPER_SCRIPT, "restore")
        assert dumper.returncode == 0, dumper.stderr
    assert blog_rows(stack, fresh_blog) == expected_blog
    assert cloud_rows(stack, fresh_cloud) == expected_cloud
    for name, expected in volumes.items():
        app, role = name.removeprefix(f"{PREFIX}-").split("-")
        restored = stack.volume(f"{PREFIX}-{app}-backup") / "restore" / "backup" / "source" / app / role
        assert tree(restored) == expected, name


# --- failures are never silent, and maintenance mode always goes back off ---------------------------


def occ_calls(stack: BackupStack) -> list[str]:
    path = stack.occ_log / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_a_failing_dump_fails_that_app_only_and_turns_the_healthcheck_unhealthy(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    cloud_dumps = stack.volume(f"{PREFIX}-cloud-backup") / "dumps"
    last_dump = (cloud_dumps / "db.pgdump").read_bytes()
    calls_before = len(occ_calls(stack))
    for server in [name for name in stack.servers if "cloud-db" in name]:
        stack.stop(server)  # Postgres is down: pg_dump cannot connect
    result = stack.scheduler("once")
    assert result.returncode == 1
    assert "no repository yet" not in result.stderr  # the repository is opened, never initialised again
    status = stack.status()
    assert status["last_run"]["result"] == "failed"
    assert status["last_run"]["failed"] == ["cloud"]
    assert status["apps"]["blog"]["result"] == "ok"
    cloud = status["apps"]["cloud"]
    assert cloud["result"] == "failed"
    assert cloud["error"].startswith("dump-db: failed: pg_dump: error: connection to server")
    assert cloud["last_success"] < cloud["last_attempt"]
    # The last good dump stays, and nothing half-written is left.
    assert sorted(p.name for p in cloud_dumps.iterdir()) == ["db.pgdump"]
    assert (cloud_dumps / "db.pgdump").read_bytes() == last_dump
    # Maintenance mode went on for the dump and back off although the dump failed.
    assert occ_calls(stack)[calls_before:] == [
        "/var/www/html/occ maintenance:mode --on",
        "/var/www/html/occ maintenance:mode --off",
    ]
    assert (stack.occ_log / "state").read_text() == "off\n"
    health = stack.box(f"{PREFIX}-backup").run(*scheduler_health(stack))
    assert health.returncode == 1
    assert health.stdout.strip() == "unhealthy: the last run failed: cloud"


def test_maintenance_mode_goes_back_off_when_switching_on_fails(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    calls_before = len(occ_calls(stack))
    (stack.occ_log / "fail-on").write_text("")
    try:
        result = stack.scheduler("once")
    finally:
        (stack.occ_log / "fail-on").unlink()
    assert result.returncode == 1
    assert stack.status()["apps"]["cloud"]["error"].startswith("quiesce-on: failed")
    assert occ_calls(stack)[calls_before:] == [
        "/var/www/html/occ maintenance:mode --on",
        "/var/www/html/occ maintenance:mode --off",
    ]


def quiesce_request(stack: BackupStack, step: str, deadline: float) -> str:
    """Ask the quiesce helper as the scheduler does, and wait for its answer."""
    control = stack.volume(f"{PREFIX}-cloud-backup") / "control"
    request_id = f"test-{time.time_ns()}"
    (control / f".{step}.request.tmp").write_text(f"{request_id} {int(deadline)}\n")
    (control / f".{step}.request.tmp").chmod(0o644)
    (control / f".{step}.request.tmp").rename(control / f"{step}.request")
    done = control / f"{step}.done"
    limit = time.monotonic() + 15
    while time.monotonic() < limit:
        if done.exists() and done.read_text().split("\n")[0] == request_id:
            return done.read_text().split("\n")[1]
        time.sleep(0.2)
    raise AssertionError(f"no answer to {step}")


def wait_for_state(stack: BackupStack, state: str, timeout: float = 15) -> None:
    limit = time.monotonic() + timeout
    while (stack.occ_log / "state").read_text().strip() != state:
        assert time.monotonic() < limit, f"maintenance mode is not {state}"
        time.sleep(0.2)


def test_maintenance_mode_goes_back_off_when_the_quiesce_container_stops(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    assert quiesce_request(stack, "quiesce-on", time.time() + 3600) == "ok"
    assert (stack.occ_log / "state").read_text() == "on\n"
    stack.processes[f"{PREFIX}-cloud-quiesce"].stop()  # docker stop: TERM to the container's first process
    assert (stack.occ_log / "state").read_text() == "off\n"
    stack.start_helper(f"{PREFIX}-cloud-quiesce")


def test_maintenance_mode_goes_back_off_at_the_deadline_when_the_scheduler_never_asks(
    stack: BackupStack, first_backup: dict[str, object]
) -> None:
    assert quiesce_request(stack, "quiesce-on", time.time() + 2) == "ok"
    assert (stack.occ_log / "state").read_text() == "on\n"
    wait_for_state(stack, "off")
    # The scheduler's late quiesce-off learns that the snapshot was not taken in maintenance mode.
    assert quiesce_request(stack, "quiesce-off", 0).startswith(
        "failed: maintenance mode was switched off at the deadline"
    )


def test_a_stopped_dumper_fails_its_app_at_once(stack: BackupStack, first_backup: dict[str, object]) -> None:
    stack.stop(f"{PREFIX}-blog-db-dump")
    started = time.monotonic()
    result = stack.scheduler("once")
    assert result.returncode == 1
    blog = stack.status()["apps"]["blog"]
    assert blog["error"].startswith("dump-db: the db-dump helper is not running (no heartbeat")
    assert time.monotonic() - started < 60  # not the step timeout of every step
    helper = stack.box(f"{PREFIX}-blog-db-dump").run(*helper_health())
    assert helper.returncode == 1
    assert helper.stdout.startswith("no heartbeat at /backup/control/db-dump.alive")
    stack.start_helper(f"{PREFIX}-blog-db-dump")
    limit = time.monotonic() + 10
    while stack.box(f"{PREFIX}-blog-db-dump").run(*helper_health()).returncode != 0:
        assert time.monotonic() < limit
        time.sleep(0.5)


def helper_health() -> tuple[str, ...]:
    test = scripts.helper_healthcheck()
    assert test[0] == "CMD"
    return test[1:]


def scheduler_with(stack: BackupStack, tmp_path: Path, repository: Path) -> Box:
    """The scheduler's box with another repository and state volume (the stack's stay as they are)."""
    box = stack.box(f"{PREFIX}-backup")
    (tmp_path / "state").mkdir()
    box.binds[LOCAL_REPOSITORY_DIR] = Bind(repository)
    box.binds[SCHEDULER_STATE_DIR] = Bind(tmp_path / "state")
    return box


def test_a_repository_that_cannot_be_opened_is_never_initialised_again(
    stack: BackupStack, first_backup: dict[str, object], tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    repository.mkdir()
    (repository / "config").write_bytes(b"not a restic config")  # there, but unreadable: not exit code 10
    box = scheduler_with(stack, tmp_path, repository)
    result = box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "once")
    assert result.returncode == 1
    assert "restic init" not in result.stderr
    assert sorted(p.name for p in repository.iterdir()) == ["config"]
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["last_run"]["failed"] == ["(repository)"]
    for app in ("blog", "cloud"):
        assert status["apps"][app]["error"].startswith("the repository cannot be opened (restic exited ")
    assert box.run(*scheduler_health(stack)).returncode == 1


def test_no_repository_is_initialised_inside_the_container_when_the_target_is_not_mounted(
    stack: BackupStack, first_backup: dict[str, object], tmp_path: Path
) -> None:
    box = scheduler_with(stack, tmp_path, stack.repository)
    del box.binds[LOCAL_REPOSITORY_DIR]  # the local target's volume or directory is missing
    result = box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "once")
    assert result.returncode == 1
    assert "restic init" not in result.stderr
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["apps"]["blog"]["error"] == (
        "/backup/repository is not a mounted volume or directory: no repository is initialised there"
    )


def _aged(value: object, ages: dict[str, int]) -> object:
    """The status with its placeholder times (``NOW``, ``START``...) as epochs."""
    if isinstance(value, dict):
        return {key: _aged(item, ages) for key, item in value.items()}
    return ages.get(value, value) if isinstance(value, str) else value


FAILED_RUN = {"result": "failed", "failed": ["cloud"], "finished_epoch": "BEFORE"}
FAILED_CHECK = {"result": "failed", "error": "restic check exited 1", "last_attempt_epoch": "BEFORE"}


@pytest.mark.parametrize(
    ("status", "healthy", "message"),
    [
        ({"scheduler_started_epoch": "NOW"}, True, "healthy: no run since the scheduler started "),
        ({"scheduler_started_epoch": "OLD"}, False, "unhealthy: no success since the scheduler started"),
        (
            {"last_run": {"result": "ok", "failed": []}, "last_success": "x", "last_success_epoch": "OLD"},
            False,
            "unhealthy: the last success is ",
        ),
        (
            {"last_run": {"result": "ok", "failed": []}, "last_success": "then", "last_success_epoch": "NOW"},
            True,
            "healthy: last success then",
        ),
        # The scheduler was replaced (a new container on the kept state volume): what its predecessor
        # recorded (a failed run and check, a success days old) does not count, nor does a status an
        # older script wrote (no epochs); staleness runs from the start.
        (
            {
                "last_run": FAILED_RUN,
                "check": FAILED_CHECK,
                "last_success_epoch": "OLD",
                "scheduler_started_epoch": "START",
            },
            True,
            "healthy: no run since the scheduler started ",
        ),
        (
            {
                "last_run": {"result": "failed", "failed": ["cloud"]},
                "check": {"result": "failed", "error": "e"},
                "last_success_epoch": "OLD",
                "scheduler_started_epoch": "START",
            },
            True,
            "healthy: no run since the scheduler started",
        ),
        (
            {"last_success": "then", "last_success_epoch": "BEFORE", "scheduler_started_epoch": "OLD"},
            True,
            "healthy: last success then",
        ),
        # What failed since the start counts, until the next success.
        (
            {"last_run": {**FAILED_RUN, "finished_epoch": "NOW"}, "scheduler_started_epoch": "START"},
            False,
            "unhealthy: the last run failed: cloud",
        ),
        (
            {"check": {**FAILED_CHECK, "last_attempt_epoch": "START"}, "scheduler_started_epoch": "START"},
            False,
            "unhealthy: the last check failed: restic check exited 1",
        ),
        # Without a recorded start (no loop ran) every result counts.
        ({"last_run": FAILED_RUN, "last_success_epoch": "NOW"}, False, "unhealthy: the last run failed: cloud"),
        ({"last_run": {"result": "failed", "failed": ["cloud"]}}, False, "unhealthy: the last run failed: cloud"),
        ({"stack": PREFIX}, False, "unhealthy: no success and no scheduler start recorded"),
        (None, False, "unhealthy: no readable status"),
    ],
)
def test_the_healthcheck_reads_the_status_file(
    stack: BackupStack, tmp_path: Path, status: dict[str, object] | None, healthy: bool, message: str
) -> None:
    box = scheduler_with(stack, tmp_path, stack.repository)
    if status is not None:
        now = int(time.time())
        ages = {
            "NOW": now - 10,
            "START": now - 100,
            "BEFORE": now - 200,
            "OLD": now - 2 * stack.plan.schedule.interval_seconds - 10,
        }
        (tmp_path / "state" / "status.json").write_text(json.dumps(_aged(status, ages)))
    result = box.run(*scheduler_health(stack))
    assert (result.returncode == 0) is healthy, result.stdout
    assert result.stdout.startswith(message), result.stdout


def test_a_new_scheduler_is_healthy_despite_its_predecessors_failures_until_a_run_of_its_own_fails(
    stack: BackupStack, first_backup: dict[str, object], tmp_path: Path
) -> None:
    """The replacement a `pulumi up` waits for (healthy at create) on the kept state volume, with real runs."""
    repository = tmp_path / "repository"
    repository.mkdir()
    (repository / "config").write_bytes(b"not a restic config")  # every run and check fails: expired credentials
    box = scheduler_with(stack, tmp_path, repository)
    status_file = tmp_path / "state" / "status.json"
    assert box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "once").returncode == 1
    assert box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "check").returncode == 1
    # ... and the last success was long ago (a laptop off for a weekend).
    status = json.loads(status_file.read_text())
    old = int(time.time()) - 2 * stack.plan.schedule.interval_seconds - 60
    status |= {"last_success": "long ago", "last_success_epoch": old}
    status_file.write_text(json.dumps(status))
    assert box.run(*scheduler_health(stack)).stdout.startswith("unhealthy: the last run failed: (repository)")

    def start_scheduler(log: str) -> Process:
        # A failure recorded in the start's own second counts as after it: start in the next one.
        time.sleep(1.1)
        before = json.loads(status_file.read_text()).get("scheduler_started_epoch")
        loop = box.start("/bin/sh", scripts.SCHEDULER_SCRIPT, "loop", log=tmp_path / log)
        loop.wait_until(lambda: json.loads(status_file.read_text()).get("scheduler_started_epoch") != before, "loop")
        return loop

    loop = start_scheduler("loop.log")
    try:
        health = box.run(*scheduler_health(stack))
        assert health.returncode == 0, health.stdout
        assert health.stdout.startswith("healthy: no run since the scheduler started")
        # The status still tells what happened before.
        status = json.loads(status_file.read_text())
        assert status["last_run"]["result"] == "failed" and status["check"]["result"] == "failed"

        # A run of its own fails: unhealthy, and it stays so (no success since).
        assert box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "once").returncode == 1
        for _ in range(2):
            health = box.run(*scheduler_health(stack))
            assert health.returncode == 1
            assert health.stdout.strip() == "unhealthy: the last run failed: (repository)"
    finally:
        assert loop.stop(timeout=5) == 143

    # Replaced again (to fix it): healthy from its start.
    loop = start_scheduler("loop-2.log")
    try:
        assert box.run(*scheduler_health(stack)).returncode == 0
    finally:
        loop.stop(timeout=5)


# --- the check, the clock and docker stop ---------------------------------------------------------


def test_the_check_reads_the_data_and_a_damaged_pack_turns_the_healthcheck_unhealthy(
    stack: BackupStack, first_backup: dict[str, object], tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(stack.repository, repository)
    box = scheduler_with(stack, tmp_path, repository)
    result = box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "check")
    assert result.returncode == 0, result.stderr
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["check"]["result"] == "ok"
    assert status["check"]["read_data_subset"] == "100%"
    pack = max((p for p in (repository / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    pack.chmod(0o644)
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    pack.write_bytes(bytes(damaged))
    assert box.run("/bin/sh", scripts.SCHEDULER_SCRIPT, "check").returncode == 1
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["check"]["result"] == "failed"
    assert status["check"]["last_success"] <= status["check"]["last_attempt"]
    health = box.run(*scheduler_health(stack))
    assert health.returncode == 1
    assert health.stdout.startswith("unhealthy: the last check failed: restic check exited 1")


def test_the_next_run_is_at_the_time_of_day_utc(stack: BackupStack, first_backup: dict[str, object]) -> None:
    result = stack.scheduler("next")
    now = datetime.datetime.now(datetime.UTC)
    due = now.replace(hour=3, minute=30, second=0, microsecond=0)
    if due <= now:
        due += datetime.timedelta(days=1)
    assert abs(int(result.stdout) - (due - now).total_seconds()) <= 2


def test_the_loop_records_its_start_and_stops_at_once_on_term(
    stack: BackupStack, first_backup: dict[str, object], tmp_path: Path
) -> None:
    box = scheduler_with(stack, tmp_path, stack.repository)
    loop = box.start("/bin/sh", scripts.SCHEDULER_SCRIPT, "loop", log=tmp_path / "loop.log")
    status_file = tmp_path / "state" / "status.json"
    loop.wait_until(lambda: status_file.exists() and "scheduler_started_epoch" in status_file.read_text(), "loop")
    assert "every day at 03:30 UTC" in loop.output()
    assert box.run(*scheduler_health(stack)).stdout.startswith("healthy: no run since the scheduler started")
    started = time.monotonic()
    assert loop.stop(timeout=5) == 143  # docker stop's TERM: the sleep is waited for in the background
    assert time.monotonic() - started < 5


# --- MongoDB (not in Debian): the dumper's shell around a stub mongodump ---------------------------

STUB_MONGODUMP = """#!/bin/sh
# Test stub for mongodump: records its argv and its --config file, writes an archive.
printf '%s\\n' "$@" >/stub-log/argv
for arg in "$@"; do
    case "$arg" in
        --config=*) cp "${arg#--config=}" /stub-log/config.yaml ;;
        --archive=*) printf 'archive' >"${arg#--archive=}" ;;
    esac
done
"""


def test_the_mongodb_dumper_passes_the_password_in_a_config_file_and_renames_the_archive(
    root: Path, tmp_path: Path
) -> None:
    backup, log = tmp_path / "backup", tmp_path / "stub-log"
    backup.mkdir()
    log.mkdir()
    log.chmod(0o777)
    backup.chmod(0o777)
    uid, gid = passwd_ids(root, "postgres")  # any system user stands in for the image's mongodb (999)
    password = "p\"a\\s's: #{x}"
    network = Network()
    try:
        box = Box(
            root,
            network,
            tmp_path / "scratch",
            {
                "/backup": Bind(backup),
                "/stub-log": Bind(log),
                MONGO_DUMP.password_file: Bind(owned_file(tmp_path / "password", password, uid, gid)),
                scripts.HELPER_SCRIPT: Bind(
                    owned_file(tmp_path / "helper.sh", scripts.dumper_script("chat", MONGO_DUMP), 0, 0, 0o555)
                ),
                "/usr/local/bin/mongodump": Bind(owned_file(tmp_path / "mongodump", STUB_MONGODUMP, 0, 0, 0o555)),
            },
            user="postgres",
        )
        (tmp_path / "scratch").mkdir()
        result = box.run("/bin/sh", scripts.HELPER_SCRIPT, "dump")
    finally:
        network.close()
    assert result.returncode == 0, result.stderr
    assert (backup / "dumps" / "mongo.archive").read_text() == "archive"
    assert not (backup / "dumps" / "mongo.archive.partial").exists()
    argv = (log / "argv").read_text().splitlines()
    assert argv[:5] == [
        "--host=cloud-db",
        "--port=27017",
        "--username=rocketchat",
        "--authenticationDatabase=rocketchat",
        "--db=rocketchat",
    ]
    assert argv[5] == "--archive=/backup/dumps/mongo.archive.partial"
    assert argv[6].startswith("--config=/tmp/")
    assert not any(password in arg for arg in argv)
    assert yaml.safe_load((log / "config.yaml").read_text()) == {"password": password}
