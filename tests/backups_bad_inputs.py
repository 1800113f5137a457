"""Bad ``backups`` config, in the catalogue of tests/test_bad_inputs.py: ``(id, config, key, what it says, secret)``.

Each stops the program before any resource, naming the key under ``selfhost:`` and what is allowed:
an unknown target kind, missing credentials (with the exact ``pulumi config set --secret --path``
command), credentials in plain text, and schedules or retentions that could never do their job.
"""

from __future__ import annotations

from typing import Any

SECRET = "plain-token-1f3a"
"""A credential's value: never in an error message (test_bad_inputs checks this very string)."""
S3 = {"kind": "s3", "endpoint": "https://fsn1.your-objectstorage.com", "bucket": "selfhost-backups"}
S3_KEYS = {"accessKeyId": SECRET, "secretAccessKey": SECRET}
SFTP = {"kind": "sftp", "user": "backup", "host": "backup.example.com", "path": "/srv/restic"}
KNOWN_HOSTS = "backup.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU"
LOCAL = {"kind": "local", "volume": "selfhost-dev-backup-repository"}


def backups(target: Any = None, **rest: Any) -> dict[str, Any]:
    """``backups`` with ``target`` (a valid local one unless given) and other keys on top."""
    return {"backups": {"target": LOCAL if target is None else target, **rest}}


def set_command(key: str) -> str:
    return f"pulumi config set --secret --path 'backups.target.{key}' <value>"


CASES: list[tuple[str, dict[str, Any], str, str, bool]] = [
    # (id, selfhost: keys, the key the message names, what it says, set with --secret --path)
    ("backups-not-an-object", {"backups": "daily"}, "backups", "must be an object", False),
    ("backups-unknown-key", {"backups": {"target": LOCAL, "when": "03:00"}}, "backups.when", "unknown key", False),
    ("backups-no-target", {"backups": {}}, "backups.target", "is required", False),
    (
        "backups-on-a-local-swarm",
        {"host": "local-swarm", **backups()},
        "backups",
        "not available with host=local-swarm yet",
        False,
    ),
    (
        "backups-unknown-target-kind",
        backups({"kind": "ftp", "host": "x"}),
        "backups.target.kind",
        "input should be 'local', 's3', 'sftp' or 'rest'",
        False,
    ),
    ("backups-local-neither", backups({"kind": "local"}), "backups.target.hostPath", "exactly one of hostPath", False),
    (
        "backups-local-both",
        backups({**LOCAL, "hostPath": "/srv/backups"}),
        "backups.target.hostPath",
        "exactly one of hostPath",
        False,
    ),
    (
        "backups-local-relative",
        backups({"kind": "local", "hostPath": "backups"}),
        "backups.target.hostPath",
        "absolute path",
        False,
    ),
    (
        "backups-local-with-bucket",
        backups({**LOCAL, "bucket": "selfhost-backups"}),
        "backups.target.bucket",
        "is not used by a target of kind local",
        False,
    ),
    (
        "backups-local-volume-of-an-app",
        backups({"kind": "local", "volume": "selfhost-dev-blog-html"}),
        "backups.target.volume",
        "is already a volume of the stack",
        False,
    ),
    ("backups-s3-no-credentials", backups(S3), "backups.target.accessKeyId", set_command("accessKeyId"), False),
    (
        "backups-s3-no-secret-key",
        backups({**S3, "accessKeyId": SECRET}),
        "backups.target.secretAccessKey",
        set_command("secretAccessKey"),
        True,
    ),
    (
        "backups-s3-keys-in-plain-text",
        backups({**S3, **S3_KEYS}),
        "backups.target.accessKeyId",
        "is in plain text in the stack file",
        False,
    ),
    ("backups-s3-no-bucket", backups({**S3, "bucket": None, **S3_KEYS}), "backups.target.bucket", "is required", True),
    (
        "backups-s3-endpoint-with-credentials",
        backups({**S3, "endpoint": f"https://key:{SECRET}@fsn1.your-objectstorage.com", **S3_KEYS}),
        "backups.target.endpoint",
        "without credentials in it",
        True,
    ),
    (
        "backups-s3-bad-bucket",
        backups({**S3, "bucket": "Selfhost_Backups", **S3_KEYS}),
        "backups.target.bucket",
        "is not an S3 bucket name",
        True,
    ),
    (
        "backups-sftp-no-key",
        backups({**SFTP, "knownHosts": KNOWN_HOSTS}),
        "backups.target.sshPrivateKey",
        set_command("sshPrivateKey"),
        False,
    ),
    (
        "backups-sftp-no-known-hosts",
        backups({**SFTP, "sshPrivateKey": SECRET}),
        "backups.target.knownHosts",
        "is required for a target of kind sftp",
        True,
    ),
    (
        "backups-sftp-port-zero",
        backups({**SFTP, "port": 0, "sshPrivateKey": SECRET, "knownHosts": KNOWN_HOSTS}),
        "backups.target.port",
        "greater than or equal to 1",
        True,
    ),
    (
        "backups-rest-no-password",
        backups({"kind": "rest", "url": "https://backup.example.com:8000/selfhost/", "username": SECRET}),
        "backups.target.password",
        set_command("password"),
        True,
    ),
    (
        "backups-rest-url-with-credentials",
        backups(
            {"kind": "rest", "url": f"https://u:{SECRET}@backup.example.com/", "username": SECRET, "password": SECRET}
        ),
        "backups.target.url",
        "without credentials in it",
        True,
    ),
    (
        "backups-time-24",
        backups(schedule={"time": "24:00"}),
        "backups.schedule.time",
        "write HH:MM, 24-hour, UTC",
        False,
    ),
    ("backups-time-seconds", backups(schedule={"time": "03:30:00"}), "backups.schedule.time", "HH:MM", False),
    (
        "backups-weekday-0",
        backups(schedule={"checkWeekday": 0}),
        "backups.schedule.checkWeekday",
        "1 (Monday) to 7",
        False,
    ),
    ("backups-weekday-8", backups(schedule={"checkWeekday": 8}), "backups.schedule.checkWeekday", "never run", False),
    (
        "backups-read-nothing",
        backups(schedule={"checkReadSubset": "0%"}),
        "backups.schedule.checkReadSubset",
        "more than 0% to 100%",
        False,
    ),
    (
        "backups-read-more-than-all",
        backups(schedule={"checkReadSubset": "150%"}),
        "backups.schedule.checkReadSubset",
        "more than 0% to 100%",
        False,
    ),
    (
        "backups-read-part-outside",
        backups(schedule={"checkReadSubset": "8/7"}),
        "backups.schedule.checkReadSubset",
        "1 <= n <= t",
        False,
    ),
    (
        "backups-read-garbled",
        backups(schedule={"checkReadSubset": "some"}),
        "backups.schedule.checkReadSubset",
        "a percentage (5%) or a part n/t",
        False,
    ),
    (
        "backups-keep-nothing",
        backups(retention={"keepDaily": 0, "keepWeekly": 0, "keepMonthly": 0}),
        "backups.retention.keepDaily",
        "keep at least one",
        False,
    ),
    (
        "backups-keep-negative",
        backups(retention={"keepWeekly": -1}),
        "backups.retention.keepWeekly",
        "greater than or equal to 0",
        False,
    ),
    (
        "backups-app-named-backup",
        {**backups(), "apps": {"backup": {"kind": "wordpress", "hostname": "blog.localhost"}}},
        "apps.backup",
        "give the app another name",
        False,
    ),
]


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


CASES = [(name, _drop_none(config), key, says, secret) for name, config, key, says, secret in CASES]
