"""Tier 1: the backup scripts as rendered text (components/backups/scripts.py), for every target kind.

Every rendered script parses (``sh -n``) and is shellcheck-clean (the host's shellcheck and,
when the unstable root has it, the current one); values reach the scripts single-quoted; the
repository's environment holds nothing secret; the credentials are read from their files only
inside the restic call; the containers' commands and healthchecks point at the uploaded scripts.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from components.backups import scripts
from components.backups.plan import (
    SECRETS_DIR,
    BackupPlan,
    LocalTarget,
    RestTarget,
    S3Target,
    SftpTarget,
    Target,
)
from tests import sidroot
from tests.backupstack import BLOG_DUMP, CLOUD_DUMP, QUIESCE, plan
from tests.scripttools import sh_syntax_errors, shellcheck_findings

TARGETS: dict[str, Target] = {
    "local": LocalTarget(volume_name="selfhost-dev-backup-repository"),
    "s3": S3Target(
        endpoint="https://fsn1.your-objectstorage.com", bucket="backups", prefix="/selfhost-prod/", region="fsn1"
    ),
    "sftp": SftpTarget(user="u123", host="u123.your-storagebox.de", port=23, path="/home/selfhost-prod"),
    "rest": RestTarget(url="https://backup.example.com:8000/selfhost-prod/"),
}
MONGO_DUMP = replace(
    CLOUD_DUMP,
    role="mongo",
    engine="mongodb",
    port=27017,
    user="rocketchat",
    database="rocketchat",
    dump_file="mongo.archive",
)


def plan_for(target: Target) -> BackupPlan:
    return replace(plan(), target=target)


def rendered() -> dict[str, str]:
    texts = {f"scheduler-{kind}": scripts.scheduler_script(plan_for(target)) for kind, target in TARGETS.items()}
    texts["dumper-mariadb"] = scripts.dumper_script("blog", BLOG_DUMP)
    texts["dumper-postgres"] = scripts.dumper_script("cloud", CLOUD_DUMP)
    texts["dumper-mongodb"] = scripts.dumper_script("chat", MONGO_DUMP)
    texts["dumper-mongodb-no-auth"] = scripts.dumper_script("chat", replace(MONGO_DUMP, user=None))
    texts["dumper-mariadb-all"] = scripts.dumper_script("blog", replace(BLOG_DUMP, database=None))
    texts["quiesce"] = scripts.quiesce_script("cloud", QUIESCE)
    return texts


SCRIPTS = rendered()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_script_parses_and_is_shellcheck_clean(name: str) -> None:
    assert sh_syntax_errors(SCRIPTS[name]) == ""
    assert shellcheck_findings(SCRIPTS[name]) == ""


@pytest.mark.live
def test_every_script_is_clean_for_the_current_shellcheck() -> None:
    reason = sidroot.skip_reason()
    if reason:
        pytest.skip(reason)
    root = sidroot.ensure_root(["shellcheck"])
    for name, text in SCRIPTS.items():
        result = subprocess.run(
            ["chroot", str(root), "shellcheck", "--shell=sh", "--severity=style", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}"


def test_the_repository_environment_per_target_has_no_secret() -> None:
    base = {"RESTIC_PASSWORD_FILE": f"{SECRETS_DIR}/repository-password", "RESTIC_CACHE_DIR": "/backup/state/cache"}
    assert scripts.repository_env(TARGETS["local"]) == {"RESTIC_REPOSITORY": "/backup/repository", **base}
    assert scripts.repository_env(TARGETS["s3"]) == {
        "RESTIC_REPOSITORY": "s3:https://fsn1.your-objectstorage.com/backups/selfhost-prod",
        "AWS_DEFAULT_REGION": "fsn1",
        **base,
    }
    assert scripts.repository_env(TARGETS["sftp"])["RESTIC_REPOSITORY"] == (
        "sftp://u123@u123.your-storagebox.de:23//home/selfhost-prod"
    )
    assert scripts.repository_env(TARGETS["rest"])["RESTIC_REPOSITORY"] == (
        "rest:https://backup.example.com:8000/selfhost-prod/"
    )
    for target in TARGETS.values():
        env = scripts.repository_env(target)
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "RESTIC_REST_PASSWORD"} & set(env)


def test_target_credentials_are_read_from_their_files_inside_the_restic_call() -> None:
    s3 = SCRIPTS["scheduler-s3"]
    assert f"AWS_ACCESS_KEY_ID=$(cat '{SECRETS_DIR}/aws-access-key-id') || exit 1" in s3
    assert f"AWS_SECRET_ACCESS_KEY=$(cat '{SECRETS_DIR}/aws-secret-access-key') || exit 1" in s3
    rest = SCRIPTS["scheduler-rest"]
    assert f"RESTIC_REST_USERNAME=$(cat '{SECRETS_DIR}/rest-username') || exit 1" in rest
    assert f"RESTIC_REST_PASSWORD=$(cat '{SECRETS_DIR}/rest-password') || exit 1" in rest
    sftp = SCRIPTS["scheduler-sftp"]
    assert (
        f"exec restic -o sftp.args='-i {SECRETS_DIR}/ssh-private-key "
        f"-o UserKnownHostsFile={SECRETS_DIR}/ssh-known-hosts "
        '-o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes\' "$@"'
    ) in sftp
    for name in ("scheduler-local", "scheduler-s3", "scheduler-rest"):
        assert "sftp.args" not in SCRIPTS[name]
    assert "AWS_" not in SCRIPTS["scheduler-local"].replace("AWS_DEFAULT_REGION", "")


def test_the_schedule_and_retention_are_rendered_from_the_plan() -> None:
    text = SCRIPTS["scheduler-local"]
    assert "time_of_day='03:30'" in text
    assert "check_weekday=7" in text
    assert "check_subset='100%'" in text
    assert "--keep-daily 7 --keep-weekly 4 \\\n        --keep-monthly 6" in text
    assert 'run_restic forget --prune --host "$stack" --group-by host,tags' in text
    assert "stack='selfhost-dev'" in text


def test_each_app_is_backed_up_with_its_dumps_and_volumes_and_tags() -> None:
    text = SCRIPTS["scheduler-local"]
    assert ("snapshot 'blog' 'wordpress' \"$dir/dumps/\"'db.sql' '/backup/source/blog/html' || ok=no") in text
    assert (
        "snapshot 'cloud' 'nextcloud' \"$dir/dumps/\"'db.pgdump' "
        "'/backup/source/cloud/html' '/backup/source/cloud/data'"
    ) in text
    assert 'run_restic backup --json --host "$stack" --tag "app=$app" --tag "kind=$kind" "$@"' in text


def test_values_reach_the_scripts_single_quoted() -> None:
    odd = replace(BLOG_DUMP, user="o'brien", database="$(reboot)", password_file="/run/secrets/a b")
    text = scripts.dumper_script("blog", odd)
    assert "user='o'\"'\"'brien'" in text
    assert "database='$(reboot)'" in text
    assert "password_file='/run/secrets/a b'" in text
    assert sh_syntax_errors(text) == ""


def test_the_dumpers_never_put_the_password_on_a_command_line() -> None:
    assert 'MYSQL_PWD=$(cat "$password_file") || exit 1' in SCRIPTS["dumper-mariadb"]
    assert "--password" not in SCRIPTS["dumper-mariadb"]
    assert 'PGPASSFILE="$workdir/pgpass" "$@"' in SCRIPTS["dumper-postgres"]
    assert "--single-transaction" in SCRIPTS["dumper-mariadb"]
    assert "--format=custom --compress=0" in SCRIPTS["dumper-postgres"]
    assert '"$@" --config="$workdir/config.yaml"' in SCRIPTS["dumper-mongodb"]
    assert "--config" not in SCRIPTS["dumper-mongodb-no-auth"]
    # The app's user is created in the app's database (components/services/templates/mongodb-ensure.js).
    assert '--username="$user" --authenticationDatabase="$database"' in SCRIPTS["dumper-mongodb"]
    assert '--db="$database" --archive="$1"' in SCRIPTS["dumper-mongodb"]
    assert "--all-databases" in SCRIPTS["dumper-mariadb-all"]


def test_a_postgres_dump_needs_a_database() -> None:
    with pytest.raises(ValueError, match="the postgres dump of 'db' needs a database name"):
        scripts.dumper_script("cloud", replace(CLOUD_DUMP, database=None))


def test_the_quiesce_commands_are_the_plans_argv_quoted() -> None:
    text = SCRIPTS["quiesce"]
    assert "switch_on() { 'php' '/var/www/html/occ' 'maintenance:mode' '--on'; }" in text
    assert "switch_off() { 'php' '/var/www/html/occ' 'maintenance:mode' '--off'; }" in text
    assert "trap 'release; rm -f \"$heartbeat\"' EXIT" in text
    with pytest.raises(ValueError, match="cannot be empty"):
        scripts.quiesce_script("cloud", replace(QUIESCE, on=()))


def test_commands_and_healthchecks_point_at_the_uploaded_scripts() -> None:
    assert scripts.SCHEDULER_ENTRYPOINT == ("/bin/sh",)
    assert scripts.scheduler_command() == ("/usr/local/lib/selfhost-backup/scheduler.sh", "loop")
    assert scripts.helper_command() == ("/usr/local/lib/selfhost-backup/helper.sh", "loop")
    assert scripts.scheduler_healthcheck(plan_for(TARGETS["local"])) == (
        "CMD",
        "/bin/sh",
        "/usr/local/lib/selfhost-backup/scheduler.sh",
        "health",
    )
    assert scripts.helper_healthcheck() == ("CMD", "/bin/sh", "/usr/local/lib/selfhost-backup/helper.sh", "health")
