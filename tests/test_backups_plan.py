"""Tier 1: the backup plan as plain data — what each kind's state becomes in it — and the ``backups`` settings.

No mocks, no resources: ``backup_plan`` is pure. Coverage is checked both ways: every volume and
stateful backing service a kind declares is in the plan (or excluded with the kind's reason), and the
ways a kind could hold state without a backup (a volume left out without a reason, a service kind with
volumes and no dump) are refused.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import SecretStr

from components.apps.app import spec_problems
from components.apps.nextcloud.spec import MAINTENANCE_OFF, MAINTENANCE_ON
from components.apps.registry import KINDS
from components.apps.spec import AppSpec, Site, Volume
from components.backups.derive import (
    DUMP_PASSWORD_FILE,
    app_backup,
    backup_plan,
    plan_volume_names,
    stack_state,
    target_of,
)
from components.backups.plan import LocalTarget, RestTarget, S3Target, SftpTarget
from components.backups.settings import BackupsSettings, BackupTarget, credentials, read_subset_problem
from components.core import images
from components.services import registry
from components.services.kinds import ServiceKind, standard_connection
from config.loading import ConfigError, settings_from_config

PREFIX = "selfhost-test"
SITE = Site(
    app="demo",
    hostname="demo.example.com",
    public_url="https://demo.example.com",
    scheme="https",
    public_host="demo.example.com",
    trusted_proxies="172.30.0.0/24",
)
LOCAL = {"target": {"kind": "local", "volume": "selfhost-test-backup-repository"}}


def spec_of(kind: str, **options: Any) -> AppSpec:
    entry = KINDS[kind]
    settings = entry.settings.model_validate({**entry.example, **options}, by_alias=True)
    return entry.spec("demo", settings, dataclasses.replace(SITE, hostname=str(entry.example["hostname"])))


def settings(**raw: Any) -> BackupsSettings:
    return BackupsSettings.model_validate({**LOCAL, **raw}, by_alias=True)


# --- what each kind backs up ---------------------------------------------------------------------------


def test_wordpress_backs_up_its_html_and_dumps_its_mariadb_while_it_runs() -> None:
    backup = app_backup(PREFIX, "demo", spec_of("wordpress"))
    assert backup is not None
    assert [(v.role, v.volume_name) for v in backup.volumes] == [("html", "selfhost-test-demo-html")]
    [dump] = backup.dumps
    assert (dump.role, dump.engine, dump.image, dump.host, dump.port) == ("db", "mariadb", images.MARIADB, "db", 3306)
    assert (dump.user, dump.database, dump.dump_file) == ("wordpress", "wordpress", "db.sql")
    assert dump.password_file == DUMP_PASSWORD_FILE
    assert backup.quiesce is None and backup.excluded == ()
    assert backup.backup_volume == "selfhost-test-demo-backup"


@pytest.mark.parametrize(
    ("database", "engine", "image", "port", "file"),
    [
        ("postgres", "postgres", images.POSTGRES, 5432, "db.pgdump"),
        ("mariadb", "mariadb", images.MARIADB, 3306, "db.sql"),
    ],
)
def test_nextcloud_backs_up_html_and_data_and_dumps_its_database_in_maintenance_mode(
    database: str, engine: str, image: images.ImagePin, port: int, file: str
) -> None:
    spec = spec_of("nextcloud", database=database)
    backup = app_backup(PREFIX, "demo", spec)
    assert backup is not None
    assert [v.role for v in backup.volumes] == ["html", "data"]
    [dump] = backup.dumps
    assert (dump.engine, dump.image, dump.port, dump.dump_file, dump.database) == (
        engine,
        image,
        port,
        file,
        "nextcloud",
    )
    quiesce = backup.quiesce
    assert quiesce is not None
    # On the app's own image, as www-data (occ refuses another user), on its volumes and internal network.
    assert quiesce.image == images.NEXTCLOUD and quiesce.user == "33:33" and quiesce.backend
    assert (quiesce.on, quiesce.off) == (MAINTENANCE_ON, MAINTENANCE_OFF)
    assert quiesce.on[-1] == "--on" and quiesce.off[-1] == "--off"
    assert [(m.volume, m.path) for m in quiesce.mounts] == [("html", "/var/www/html"), ("data", "/var/www/html/data")]
    # The config files occ loads read the Redis password file: it gets the backing services' passwords,
    # never the admin's, nor a variable naming a file it does not get.
    assert {(p.path, p.service, p.owner) for p in quiesce.passwords} == {
        ("/run/secrets/db_password", "db", 33),
        ("/run/secrets/redis_password", "redis", 33),
    }
    assert (
        quiesce.env["REDIS_HOST"] == "redis"
        and quiesce.env["REDIS_HOST_PASSWORD_FILE"] == "/run/secrets/redis_password"
    )
    assert "NEXTCLOUD_ADMIN_PASSWORD_FILE" not in quiesce.env
    assert all(
        not key.endswith("_FILE") or value in {p.path for p in quiesce.passwords} for key, value in quiesce.env.items()
    )


def test_rocketchat_backs_up_its_uploads_and_dumps_its_mongodb() -> None:
    backup = app_backup(PREFIX, "demo", spec_of("rocketchat"))
    assert backup is not None
    assert [v.role for v in backup.volumes] == ["uploads"]
    [dump] = backup.dumps
    assert (dump.role, dump.engine, dump.image, dump.port, dump.dump_file) == (
        "mongo",
        "mongodb",
        images.MONGODB,
        27017,
        "mongo.archive",
    )
    assert (dump.user, dump.database) == ("rocketchat", "rocketchat")


def test_the_container_kind_backs_up_every_volume_it_names() -> None:
    spec = spec_of("container", volumes={"data": "/data", "html": "/usr/share/nginx/html"})
    backup = app_backup(PREFIX, "demo", spec)
    assert backup is not None
    assert sorted(v.role for v in backup.volumes) == ["data", "html"] and backup.dumps == ()


def test_a_static_site_has_nothing_to_back_up() -> None:
    """Its files are in the stack's own directory (the repository), uploaded at deploy."""
    assert app_backup(PREFIX, "demo", spec_of("static")) is None


def test_redis_is_never_dumped_and_says_why() -> None:
    redis = registry.SERVICES["redis"]
    assert redis.dump is None and redis.stateless_reason and not redis.volume_suffixes
    for name in ("mariadb", "postgres", "mongodb"):
        assert registry.SERVICES[name].dump is not None, name


def test_a_volume_left_out_is_listed_with_the_kinds_reason() -> None:
    spec = spec_of("wordpress")
    cache = Volume("cache", "a page cache", backup=False, no_backup_reason="rebuilt on demand")
    backup = app_backup(PREFIX, "demo", dataclasses.replace(spec, volumes=(*spec.volumes, cache)))
    assert backup is not None
    assert [v.role for v in backup.volumes] == ["html"]
    assert [(e.role, e.volume_name, e.reason) for e in backup.excluded] == [
        ("cache", "selfhost-test-demo-cache", "rebuilt on demand")
    ]


# --- a kind with state and no backup fails ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kinds_state_is_covered_by_the_plan(kind: str) -> None:
    """Every Docker volume an app of the kind makes is copied, dumped, or excluded on purpose."""
    spec = spec_of(kind)
    state = stack_state(PREFIX, "demo", spec)
    assert "uncovered" not in state.values(), state
    backup = app_backup(PREFIX, "demo", spec)
    planned = set() if backup is None else {v.volume_name for v in backup.volumes}
    dumped = set() if backup is None else {d.role for d in backup.dumps}
    for volume, how in state.items():
        if how == "volume":
            assert volume in planned, volume
        elif how.startswith("dump:"):
            assert how.removeprefix("dump:") in dumped, volume


def test_a_volume_left_out_without_a_reason_is_a_defect_of_the_kind() -> None:
    spec = spec_of("wordpress")
    silent = dataclasses.replace(spec, volumes=(dataclasses.replace(spec.volumes[0], backup=False),))
    assert any("needs a no_backup_reason" in p for p in spec_problems(silent))
    reason_but_kept = dataclasses.replace(spec, volumes=(dataclasses.replace(spec.volumes[0], no_backup_reason="x"),))
    assert any("needs a no_backup_reason" in p for p in spec_problems(reason_but_kept))


def test_a_service_kind_with_volumes_must_say_how_it_is_dumped() -> None:
    def build(*_: object) -> Any:
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="holds state: give it a dump"):
        ServiceKind(
            port=1, connection=standard_connection(1), build=build, volume_suffixes=("data",), stateless_reason="no"
        )
    with pytest.raises(ValueError, match="either has a dump"):
        ServiceKind(port=1, connection=standard_connection(1), build=build)


def test_a_quiesce_on_no_service_of_the_app_is_a_defect_of_the_kind() -> None:
    spec = spec_of("nextcloud")
    assert spec.backup_quiesce is not None
    broken = dataclasses.replace(spec, backup_quiesce=dataclasses.replace(spec.backup_quiesce, service="web"))
    assert any("the backup quiesce runs on service 'web'" in p for p in spec_problems(broken))


def test_no_volume_of_an_app_may_take_its_backup_volumes_name() -> None:
    spec = spec_of("wordpress")
    clash = dataclasses.replace(spec, volumes=(*spec.volumes, Volume("backup", "x")))
    assert any("'backup' would share its Docker name" in p for p in spec_problems(clash))


# --- the plan of a stack -----------------------------------------------------------------------------------


def test_the_plan_is_in_app_order_with_the_settings_schedule_and_retention() -> None:
    specs = {"zeta": spec_of("wordpress"), "alpha": spec_of("rocketchat"), "www": spec_of("static")}
    raw = {"schedule": {"time": "01:15", "checkWeekday": 3, "checkReadSubset": "1/7"}, "retention": {"keepDaily": 3}}
    plan = backup_plan(PREFIX, specs, settings(**raw))
    assert plan.stack == PREFIX
    assert [a.app for a in plan.apps] == ["alpha", "zeta"]
    assert (plan.schedule.time_of_day, plan.schedule.check_weekday, plan.schedule.check_read_subset) == (
        "01:15",
        3,
        "1/7",
    )
    assert plan.schedule.interval_seconds == 86400
    assert (plan.retention.keep_daily, plan.retention.keep_weekly, plan.retention.keep_monthly) == (3, 4, 6)
    assert plan.target == LocalTarget(volume_name="selfhost-test-backup-repository")
    assert plan_volume_names(plan) == [
        "selfhost-test-alpha-backup",
        "selfhost-test-backup-repository",
        "selfhost-test-backup-state",
        "selfhost-test-zeta-backup",
    ]
    assert backup_plan(PREFIX, dict(reversed(specs.items())), settings(**raw)) == plan, "deterministic"


def test_defaults_are_daily_at_0330_sunday_check_of_5_percent_and_7_4_6() -> None:
    plan = backup_plan(PREFIX, {"blog": spec_of("wordpress")}, settings())
    assert (plan.schedule.time_of_day, plan.schedule.check_weekday, plan.schedule.check_read_subset) == (
        "03:30",
        7,
        "5%",
    )
    assert (plan.retention.keep_daily, plan.retention.keep_weekly, plan.retention.keep_monthly) == (7, 4, 6)


S3 = {"kind": "s3", "endpoint": "https://fsn1.your-objectstorage.com/", "bucket": "bkp-1", "region": "fsn1"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {**S3, "accessKeyId": "AK-1f3a", "secretAccessKey": "SK-1f3a"},
            S3Target(endpoint="https://fsn1.your-objectstorage.com", bucket="bkp-1", prefix=PREFIX, region="fsn1"),
        ),
        (
            {**S3, "prefix": "stacks/prod", "accessKeyId": "AK-1f3a", "secretAccessKey": "SK-1f3a"},
            S3Target(
                endpoint="https://fsn1.your-objectstorage.com", bucket="bkp-1", prefix="stacks/prod", region="fsn1"
            ),
        ),
        (
            {
                "kind": "sftp",
                "user": "bk",
                "host": "h.example.com",
                "path": "/srv/r",
                "sshPrivateKey": "k",
                "knownHosts": "h k",
            },
            SftpTarget(user="bk", host="h.example.com", port=22, path="/srv/r"),
        ),
        (
            {"kind": "rest", "url": "https://h.example.com:8000/s/", "username": "UN-1f3a", "password": "PW-1f3a"},
            RestTarget(url="https://h.example.com:8000/s/"),
        ),
        ({"kind": "local", "hostPath": "/srv/backups"}, LocalTarget(host_path="/srv/backups")),
    ],
)
def test_each_target_becomes_plain_facts_without_its_credentials(raw: dict[str, Any], expected: object) -> None:
    target = BackupTarget.model_validate(raw, by_alias=True)
    assert target_of(PREFIX, target) == expected
    assert not any(secret in repr(expected) for secret in ("AK-1f3a", "SK-1f3a", "UN-1f3a", "PW-1f3a", "KEY-1f3a"))


def test_credentials_become_the_scheduler_files_the_contract_names() -> None:
    s3 = BackupTarget.model_validate({**S3, "accessKeyId": "AK", "secretAccessKey": "SK"}, by_alias=True)
    assert {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in credentials(s3).items()} == {
        "aws-access-key-id": "AK",
        "aws-secret-access-key": "SK",
    }
    sftp = BackupTarget.model_validate(
        {
            "kind": "sftp",
            "user": "bk",
            "host": "h",
            "path": "/r",
            "sshPrivateKey": "KEY",
            "knownHosts": "h ssh-ed25519 X",
        },
        by_alias=True,
    )
    files = credentials(sftp)
    key = files["ssh-private-key"]
    # `config set -- "$(cat key)"` loses the final newline; OpenSSH refuses a key file without it.
    assert isinstance(key, SecretStr) and key.get_secret_value() == "KEY\n"
    assert files["ssh-known-hosts"] == "h ssh-ed25519 X\n"
    rest = BackupTarget.model_validate(
        {"kind": "rest", "url": "https://h/", "username": "UN-1f3a", "password": "PW-1f3a"}, by_alias=True
    )
    assert sorted(credentials(rest)) == ["rest-password", "rest-username"]
    assert credentials(BackupTarget.model_validate({"kind": "local", "volume": "v"}, by_alias=True)) == {}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("5%", None),
        ("100%", None),
        ("0.5%", None),
        ("1/7", None),
        ("7/7", None),
        ("0%", "more than 0%"),
        ("100.1%", "more than 0%"),
        ("0/7", "1 <= n <= t"),
        ("8/7", "1 <= n <= t"),
        ("5", "a percentage (5%) or a part n/t"),
        ("1/0", "1 <= n <= t"),
        ("5 %", "a percentage"),
    ],
)
def test_a_read_subset_must_read_something_restic_understands(value: str, problem: str | None) -> None:
    found = read_subset_problem(value)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_credentials_are_secret_strings_and_never_shown() -> None:
    target = BackupTarget.model_validate(
        {**S3, "accessKeyId": "AKIA-1f3a", "secretAccessKey": "s3cr3t-1f3a"}, by_alias=True
    )
    assert isinstance(target.secret_access_key, SecretStr)
    assert "s3cr3t-1f3a" not in repr(target) and "AKIA-1f3a" not in str(target)
    # Through the loader, as the stack reads it: the error names the key, never the value.
    apps = json.dumps({"blog": {"kind": "wordpress", "hostname": "blog.localhost"}})
    backups = json.dumps({"target": {**S3, "accessKeyId": "AKIA-1f3a"}})
    with pytest.raises(ConfigError) as caught:
        settings_from_config({"selfhost:apps": apps, "selfhost:backups": backups}, frozenset({"selfhost:backups"}))
    assert "selfhost:backups.target.secretAccessKey:" in str(caught.value)
    assert "AKIA-1f3a" not in str(caught.value)
