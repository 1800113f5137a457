"""Backup and restore times of the test data set, and the repository's size after one and two runs.

    python bench/backup_restore.py [--files 60] [--file-kib 64] [--rows 1000]

The backup containers' scripts (components/backups/scripts.py) for real, as the tier-3 tests run
them (tests/backupstack.py): MariaDB 11.8 and PostgreSQL 18 from Debian unstable (tests/sidroot.py),
restic 0.19 into a local repository, the scheduler under busybox sh. Two apps: ``blog`` (a
MariaDB database, one volume) and ``cloud`` (a Postgres database of ``--rows`` rows, two volumes,
maintenance mode through a stub occ). Each volume holds ``--files`` files of up to ``--file-kib``
KiB of random bytes (incompressible: the worst case for the repository's size).

Printed: the first backup (``scheduler.sh once``, repository initialised), a second one after a
small change (1% of the rows, one new file), each with its time, the bytes restic added and the
repository's size on disk; then the restore of both apps into fresh servers and empty volumes
(``scheduler.sh restore``, the dumpers' ``restore``, one copy per volume), timed. Needs root.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import sidroot
from tests.backupstack import (
    PREFIX,
    REPOSITORY_VOLUME,
    BackupStack,
    blog_rows,
    cloud_rows,
    fill_volume,
    tree,
    write_data,
)

PACKAGES = ["restic", "jq", "busybox-static", "mariadb-server", "postgresql-18"]
VOLUMES = (f"{PREFIX}-blog-html", f"{PREFIX}-cloud-html", f"{PREFIX}-cloud-data")


def size_on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def data_set_size(stack: BackupStack) -> int:
    return sum(size_on_disk(stack.volume(name)) for name in VOLUMES)


def timed_backup(stack: BackupStack) -> tuple[float, int]:
    started = time.monotonic()
    result = stack.scheduler("once", timeout=3600)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"backup failed: {result.stderr}")
    added = sum(stack.status()["apps"][app]["bytes_added"] for app in ("blog", "cloud"))
    return elapsed, added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--file-kib", type=int, default=64)
    parser.add_argument("--rows", type=int, default=1000)
    options = parser.parse_args()
    reason = sidroot.skip_reason()
    if reason:
        raise SystemExit(reason)
    root = sidroot.ensure_root(PACKAGES)
    tmp = Path(tempfile.mkdtemp(prefix="selfhost-backup-bench-"))
    stack = BackupStack(root, tmp / "old", step_timeout=600)
    fresh: BackupStack | None = None
    try:
        write_data(stack, rows=options.rows)
        for seed, name in enumerate(VOLUMES):
            fill_volume(
                stack.volume(name) / "bench", seed=100 + seed, files=options.files, size=options.file_kib * 1024
            )
        stack.start_helpers()
        blog_db, cloud_db = stack.box_of_server("blog-db-data"), stack.box_of_server("cloud-db-data")
        dumps = stack.volume(f"{PREFIX}-blog-backup"), stack.volume(f"{PREFIX}-cloud-backup")
        print(f"data set: {data_set_size(stack) / 2**20:.1f} MiB in 3 volumes, 2 databases ({options.rows} rows)")

        first, first_added = timed_backup(stack)
        first_size = size_on_disk(stack.volume(REPOSITORY_VOLUME))
        dump_size = sum(size_on_disk(d / "dumps") for d in dumps)
        print(
            f"backup 1:  {first:6.2f} s, {first_added / 2**20:7.2f} MiB added, repository {first_size / 2**20:7.2f} MiB"
        )
        print(f"           (dumps: {dump_size / 2**20:.2f} MiB)")

        stack.psql(cloud_db, f"update files set size = size + 1 where id % 100 = 0 and id <= {options.rows}")
        stack.mariadb(blog_db, "insert into wordpress.posts values (100, 'one more', 'post')")
        (stack.volume(f"{PREFIX}-cloud-data") / "one-more-file.txt").write_text("a small change\n")
        second, second_added = timed_backup(stack)
        second_size = size_on_disk(stack.volume(REPOSITORY_VOLUME))
        print(
            f"backup 2:  {second:6.2f} s, {second_added / 2**20:7.2f} MiB added, "
            f"repository {second_size / 2**20:7.2f} MiB (+{(second_size - first_size) / 2**10:.0f} KiB: deduplicated)"
        )

        expected = (blog_rows(stack, blog_db), cloud_rows(stack, cloud_db), [tree(stack.volume(n)) for n in VOLUMES])
        fresh = BackupStack(root, tmp / "fresh", step_timeout=600)
        shutil.copytree(stack.volume(REPOSITORY_VOLUME), fresh.volume(REPOSITORY_VOLUME), dirs_exist_ok=True)
        new_blog, new_cloud = fresh.start_mariadb("blog-db-data"), fresh.start_postgres("cloud-db-data")
        started = time.monotonic()
        for app in ("blog", "cloud"):
            result = fresh.scheduler("restore", app, timeout=3600)
            if result.returncode != 0:
                raise SystemExit(f"restore of {app} failed: {result.stderr}")
        fetched = time.monotonic() - started
        for app in ("blog", "cloud"):
            result = fresh.box(f"{PREFIX}-{app}-db-dump").run(
                "/bin/sh", "/usr/local/lib/selfhost-backup/helper.sh", "restore"
            )
            if result.returncode != 0:
                raise SystemExit(f"database restore of {app} failed: {result.stderr}")
        for name in VOLUMES:
            app, role = name.removeprefix(f"{PREFIX}-").split("-")
            restored = fresh.volume(f"{PREFIX}-{app}-backup") / "restore" / "backup" / "source" / app / role
            shutil.copytree(restored, fresh.volume(name), symlinks=True, dirs_exist_ok=True)
        total = time.monotonic() - started
        same = (blog_rows(fresh, new_blog), cloud_rows(fresh, new_cloud), [tree(fresh.volume(n)) for n in VOLUMES])
        print(f"restore:   {total:6.2f} s (restic restore of both apps {fetched:.2f} s, then the dumps and the files)")
        print(f"restored data equal to the backup's: {same == expected}")
    finally:
        if fresh is not None:
            fresh.close()
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
