"""Tier 2: the backups of every shipped stack, under mocks with the real stack files.

What the program sends for the scheduler, the dumpers and the quiesce container: mounts (app
volumes read-only, backup volumes read-write, created after the volumes they mount), networks
(a dumper on its app's internal network only; the scheduler alone on its own network, internal
unless the target is remote), the schedule in the uploaded script, secrets as 0400 files and
never in an environment value, no Docker socket anywhere, the repository password protected and
exported as a secret, determinism, and COVERAGE: every Docker volume any app registers is copied
by the scheduler or covered by a dump of its database (the check itself is shown to fail on a
graph that leaves one out). Mocks prove the graph, not restic: tests of the scripts on real
binaries are bkrun's (docs/backups.md).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.backups import scripts
from components.backups.derive import backup_plan
from components.backups.plan import (
    APP_BACKUP_DIR,
    LOCAL_REPOSITORY_DIR,
    SCHEDULER_STATE_DIR,
    SECRETS_DIR,
    scheduler_app_dir,
    scheduler_source_dir,
)
from components.core import images
from components.core.secret_names import is_secret_name
from config.loading import ConfigError, settings_from_config
from stack import app_specs
from tests.mockstack import (
    PROJECT_DIR,
    SECRET_PLACEHOLDER,
    ProgramRun,
    Registration,
    as_cli_string,
    is_secret,
    run_program,
    run_stack_file,
    stack_file_config,
    unwrap,
    walk,
)
from tests.stateful_urns import container_stacks

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
PASSWORD = "random:index/randomPassword:RandomPassword"
BACKUPS = "selfhost:index:Backups"
STACKS = tuple(container_stacks())  # the swarm stack has no backups (refused there)
APP_COMPONENTS = {"selfhost:index:WordPress", "selfhost:index:Nextcloud", "selfhost:index:RocketChat"}
APP_COMPONENTS |= {"selfhost:index:StaticSite", "selfhost:index:ContainerApp"}


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {stack: run_stack_file(stack) for stack in STACKS}


def prefix(stack: str) -> str:
    return f"selfhost-{stack}"


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {c.inputs["name"]: c for c in run.of_type(CONTAINER)}


def env(container: Registration) -> dict[str, str]:
    return dict(str(item).split("=", 1) for item in container.inputs.get("envs", []))


def mounts(container: Registration) -> dict[str, dict[str, Any]]:
    """Container path -> the volume entry as sent."""
    return {v["containerPath"]: v for v in container.inputs.get("volumes", [])}


def uploads(container: Registration) -> dict[str, tuple[dict[str, Any], bool]]:
    """Uploaded path -> (upload, whether its content reaches the engine as a secret)."""
    raw = container.raw_inputs.get("uploads", [])
    found = {}
    for path, _, secret in walk(raw, "uploads"):
        if path.endswith("].content"):
            upload = unwrap(raw)[int(path[len("uploads[") : path.index("]")])]
            found[upload["file"]] = (upload, secret)
    return found


def network_names(container: Registration) -> list[str]:
    return [n["name"] for n in container.inputs["networksAdvanced"]]


def networks(run: ProgramRun) -> dict[str, Registration]:
    return {n.inputs["name"]: n for n in run.of_type(NETWORK)}


def image_ref(run: ProgramRun, container: Registration) -> str:
    pulled = {r.urn: r.inputs["name"] for r in run.of_type(IMAGE)}
    [ref] = [pulled[urn] for urn in container.property_dependencies["image"] if urn in pulled]
    return str(ref).split("@")[0]


def plan_of(stack: str) -> Any:
    values, secret_keys = stack_file_config(stack)
    settings = settings_from_config({k: as_cli_string(v) for k, v in values.items()}, frozenset(secret_keys))
    assert settings.backups is not None, f"{stack} ships without backups"
    return backup_plan(prefix(stack), app_specs(settings), settings.backups)


# --- coverage: every piece of state of every app -----------------------------------------------------------


NOT_BACKED_UP = {
    "proxy-acme": "the proxy's ACME account key and certificates: nginx's ACME module obtains new ones on a fresh "
    "server (Let's Encrypt allows 5 duplicate certificates a week); not app data",
}
"""Stack-level volumes outside the backups, each with its reason; any other volume outside an app fails."""


def uncovered_state(run: ProgramRun, stack: str) -> list[str]:
    """Docker volumes of the apps that no backup covers: neither mounted read-only into the scheduler,
    nor the data of a database that a dumper on its own image and network dumps."""
    by_urn = {r.urn: r for r in run.registrations}
    scheduler = containers(run).get(f"{prefix(stack)}-backup")
    copied = (
        set()
        if scheduler is None
        else {m["volumeName"] for m in scheduler.inputs.get("volumes", []) if m.get("readOnly") and "volumeName" in m}
    )
    running = containers(run)
    problems = []
    for volume in run.of_type(VOLUME):
        owner = by_urn.get(volume.parent)
        name = volume.inputs["name"]
        if owner is None or owner.type == BACKUPS:
            continue
        grandparent = by_urn.get(owner.parent)
        if owner.type not in APP_COMPONENTS and (grandparent is None or grandparent.type not in APP_COMPONENTS):
            if name.removeprefix(f"{prefix(stack)}-") not in NOT_BACKED_UP:
                problems.append(f"{name}: state of the stack ({owner.type}) that no backup covers")
            continue
        if owner.type in APP_COMPONENTS:
            if name not in copied:
                problems.append(f"{name}: an app volume the scheduler does not copy")
            continue
        # A backing service's volume: its component's container has a dumper beside it.
        [server] = [r for r in run.of_type(CONTAINER) if r.parent == owner.urn]
        dumper = running.get(f"{server.inputs['name']}-dump")
        if dumper is None:
            problems.append(f"{name}: the data of {server.inputs['name']}, which no dumper dumps")
        elif image_ref(run, dumper) != image_ref(run, server) or network_names(dumper) != network_names(server):
            problems.append(f"{name}: the dumper of {server.inputs['name']} is not on its image and network")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_stateful_volume_and_database_of_every_app_is_covered(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    assert uncovered_state(run, stack) == []
    app_volumes = [v for v in run.of_type(VOLUME) if v.inputs["name"] not in run.outputs["backupVolumes"]]
    assert len(app_volumes) >= 5, "the check saw the apps' volumes"


def test_the_coverage_check_fails_on_a_graph_that_leaves_state_out(runs: dict[str, ProgramRun]) -> None:
    """A kind whose state the backups missed (here: the scheduler not copying blog-html, and no dumper for
    chat's MongoDB) is reported, volume by volume."""
    run = copy.deepcopy(runs["lab"])
    scheduler = next(c for c in run.of_type(CONTAINER) if c.inputs["name"] == "selfhost-lab-backup")
    scheduler.raw_inputs["volumes"] = [
        v for v in scheduler.raw_inputs["volumes"] if unwrap(v).get("volumeName") != "selfhost-lab-blog-html"
    ]
    run.registrations = [r for r in run.registrations if r.name != "backups-chat-mongo-dump"]
    assert uncovered_state(run, "lab") == [
        "selfhost-lab-blog-html: an app volume the scheduler does not copy",
        "selfhost-lab-chat-mongo-data: the data of selfhost-lab-chat-mongo, which no dumper dumps",
    ]


# --- the scheduler -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_scheduler_mounts_app_volumes_read_only_and_backup_volumes_read_write(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run, plan = runs[stack], plan_of(stack)
    scheduler = containers(run)[f"{prefix(stack)}-backup"]
    expected = {SCHEDULER_STATE_DIR: (f"{prefix(stack)}-backup-state", False)}
    for app in plan.apps:
        expected[scheduler_app_dir(app.app)] = (app.backup_volume, False)
        expected.update({scheduler_source_dir(app.app, v.role): (v.volume_name, True) for v in app.volumes})
    if stack != "prod":
        expected[LOCAL_REPOSITORY_DIR] = (f"{prefix(stack)}-backup-repository", False)
    sent = {path: (m.get("volumeName"), bool(m.get("readOnly"))) for path, m in mounts(scheduler).items()}
    assert sent == expected
    # Each mount takes the volume resource's name: the container is created after every volume it mounts.
    volumes = {v.inputs["name"]: v.urn for v in run.of_type(VOLUME)}
    assert {volumes[name] for name, _ in expected.values()} <= set(scheduler.property_dependencies["volumes"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_scheduler_runs_the_plans_script_on_the_pinned_restic_image(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run, plan = runs[stack], plan_of(stack)
    scheduler = containers(run)[f"{prefix(stack)}-backup"]
    assert image_ref(run, scheduler) == images.RESTIC.ref
    assert scheduler.inputs["entrypoints"] == list(scripts.SCHEDULER_ENTRYPOINT)
    assert scheduler.inputs["command"] == list(scripts.scheduler_command())
    script, _ = uploads(scheduler)[scripts.SCHEDULER_SCRIPT]
    assert script["content"] == scripts.scheduler_script(plan)
    assert script["permissions"] == "0555"
    # The schedule of the stack file (Pulumi.yaml's defaults): daily 03:30 UTC, Sunday's check of 5%, 7/4/6.
    assert (plan.schedule.time_of_day, plan.schedule.check_weekday, plan.schedule.check_read_subset) == (
        "03:30",
        7,
        "5%",
    )
    assert (plan.retention.keep_daily, plan.retention.keep_weekly, plan.retention.keep_monthly) == (7, 4, 6)
    assert scheduler.inputs["healthcheck"]["tests"] == list(scripts.scheduler_healthcheck(plan))
    assert env(scheduler) == scripts.repository_env(plan.target)


def test_a_schedule_set_in_config_reaches_the_scheduler() -> None:
    values, _ = stack_file_config("dev")
    backups = {**values["selfhost:backups"], "schedule": {"time": "01:05", "checkWeekday": 3, "checkReadSubset": "1/7"}}
    run = run_stack_file("dev", {"selfhost:backups": backups})
    script = uploads(containers(run)["selfhost-dev-backup"])[scripts.SCHEDULER_SCRIPT][0]["content"]
    default = uploads(containers(run_stack_file("dev"))["selfhost-dev-backup"])[scripts.SCHEDULER_SCRIPT][0]["content"]
    assert script != default
    assert "01:05" in script and "03:30" in default


@pytest.mark.parametrize(("stack", "internal"), [("dev", True), ("lab", True), ("prod", False)])
def test_the_scheduler_is_alone_on_its_network_with_a_route_out_only_for_a_remote_target(
    runs: dict[str, ProgramRun], stack: str, internal: bool
) -> None:
    run = runs[stack]
    name = f"{prefix(stack)}-backup"
    assert network_names(containers(run)[name]) == [name]
    assert networks(run)[name].inputs["internal"] is internal
    on_it = [c.inputs["name"] for c in run.of_type(CONTAINER) if name in network_names(c)]
    assert on_it == [name], "no app, database or proxy shares the scheduler's network"


@pytest.mark.parametrize("stack", STACKS)
def test_the_repository_password_is_generated_protected_with_the_stack_and_exported_secret(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    password = run.named("backups-repository-password")
    # Pinned like tests/stateful_urns.json: every snapshot is encrypted with it, a new URN would be a new password.
    assert password.urn == (
        f"urn:pulumi:{stack}::selfhost::selfhost:index:Backups$random:index/randomPassword:RandomPassword"
        "::backups-repository-password"
    )
    assert password.protect is (stack == "prod")
    assert "result" in password.additional_secret_outputs
    assert is_secret(run.outputs["backupRepositoryPassword"])
    assert not is_secret(run.outputs["backupRepository"])
    scheduler = containers(run)[f"{prefix(stack)}-backup"]
    upload, secret = uploads(scheduler)[scripts.REPOSITORY_PASSWORD_FILE]
    assert secret and upload["permissions"] == "0400" and "owner" not in upload  # root's, like the scheduler
    assert upload["content"] in run.generated_passwords()


def test_prod_takes_the_s3_credentials_as_secret_files_never_as_environment(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    scheduler = containers(run)["selfhost-prod-backup"]
    files = uploads(scheduler)
    for credential in ("aws-access-key-id", "aws-secret-access-key"):
        upload, secret = files[f"{SECRETS_DIR}/{credential}"]
        assert secret and upload["permissions"] == "0400", credential
        assert upload["content"] == SECRET_PLACEHOLDER  # the operator's --secret --path value (tests/mockstack.py)
    variables = env(scheduler)
    assert (
        variables["RESTIC_REPOSITORY"]
        == "s3:https://fsn1.your-objectstorage.com/example-selfhost-backups/selfhost-prod"
    )
    assert variables["AWS_DEFAULT_REGION"] == "fsn1"
    assert not any(SECRET_PLACEHOLDER in value for value in variables.values())
    assert not any(key.startswith("AWS_") and not key.endswith("_REGION") for key in variables), variables
    assert run.outputs["backupRepository"] == variables["RESTIC_REPOSITORY"]


def test_the_prod_stack_file_tells_how_to_set_the_credentials_and_holds_none() -> None:
    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    for key in ("accessKeyId", "secretAccessKey"):
        assert f"pulumi config set --secret --path 'backups.target.{key}'" in text
    values, _ = stack_file_config("prod")
    written = json.loads(json.dumps(values["selfhost:backups"]))
    assert written["target"]["kind"] == "s3"
    # Without the operator's values the stack refuses to run, naming the command.
    plain = {k: v for k, v in values.items() if k != "selfhost:backups"}
    bare = {**plain, "selfhost:backups": {"target": {k: v for k, v in written["target"].items() if "Key" not in k}}}
    with pytest.raises(ConfigError, match=r"backups\.target\.accessKeyId: .*pulumi config set --secret --path"):
        settings_from_config({k: as_cli_string(v) for k, v in bare.items()})


# --- the helpers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_database_has_a_dumper_on_its_own_image_and_network_holding_its_password(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run, plan = runs[stack], plan_of(stack)
    running = containers(run)
    for app in plan.apps:
        for dump in app.dumps:
            server = running[f"{prefix(stack)}-{app.app}-{dump.role}"]
            dumper = running[f"{prefix(stack)}-{app.app}-{dump.role}-dump"]
            assert image_ref(run, dumper) == image_ref(run, server) == dump.image.ref
            assert network_names(dumper) == network_names(server) == [f"{prefix(stack)}-{app.app}-backend"]
            assert {p: (m["volumeName"], bool(m.get("readOnly"))) for p, m in mounts(dumper).items()} == {
                APP_BACKUP_DIR: (app.backup_volume, False)
            }
            assert dumper.inputs["command"] == list(scripts.helper_command())
            assert dumper.inputs["healthcheck"]["tests"] == list(scripts.helper_healthcheck())
            script = uploads(dumper)[scripts.HELPER_SCRIPT][0]["content"]
            assert script == scripts.dumper_script(app.app, dump)
            password, secret = uploads(dumper)[dump.password_file]
            assert secret and password["permissions"] == "0400"
            # The very password the service has (the app's own copy of it).
            server_files = {u["content"] for u, _ in uploads(server).values()}
            assert password["content"] in server_files & run.generated_passwords()
            assert not env(dumper), "a dumper needs no environment"
            # After the scheduler, which makes control/ and dumps/ writable for the helpers first.
            assert running[f"{prefix(stack)}-backup"].urn in dumper.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_nextclouds_quiesce_runs_on_the_apps_own_pull_as_www_data(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    running = containers(run)
    quiesce = running[f"{prefix(stack)}-cloud-quiesce"]
    app = running[f"{prefix(stack)}-cloud-app"]
    # The same RemoteImage resource as the app: its pull waits for the one-major-at-a-time check.
    assert quiesce.property_dependencies["image"] == app.property_dependencies["image"]
    assert quiesce.inputs["user"] == "33:33"
    # uid 33 cannot create control/ in the fresh volume: the scheduler, started first, makes it writable.
    assert running[f"{prefix(stack)}-backup"].urn in quiesce.dependencies
    assert network_names(quiesce) == [f"{prefix(stack)}-cloud-backend"]
    assert {p: m["volumeName"] for p, m in mounts(quiesce).items()} == {
        "/var/www/html": f"{prefix(stack)}-cloud-html",
        "/var/www/html/data": f"{prefix(stack)}-cloud-data",
        APP_BACKUP_DIR: f"{prefix(stack)}-cloud-backup",
    }
    files = uploads(quiesce)
    assert {path for path in files if path.startswith("/run/secrets/")} == {
        "/run/secrets/db_password",
        "/run/secrets/redis_password",
    }
    for path in ("/run/secrets/db_password", "/run/secrets/redis_password"):
        upload, _ = files[path]
        assert (upload["owner"], upload["group"], upload["permissions"]) == ("33", "33", "0400")
        assert upload["content"] == uploads(app)[path][0]["content"]
    variables = env(quiesce)
    assert variables["REDIS_HOST_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert "NEXTCLOUD_ADMIN_PASSWORD_FILE" not in variables, "the admin password stays with the app"


# --- for every container of every stack -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_no_container_gets_the_docker_socket(runs: dict[str, ProgramRun], stack: str) -> None:
    for container in runs[stack].of_type(CONTAINER):
        for volume in container.inputs.get("volumes", []):
            host_path = str(volume.get("hostPath", ""))
            assert "docker.sock" not in host_path and not host_path.startswith("/var/run"), container.name
            assert "docker.sock" not in str(volume.get("containerPath")), container.name
        assert not any(key.startswith("DOCKER_") for key in env(container)), container.name
        assert container.inputs.get("networkMode") in (None, ""), container.name


@pytest.mark.parametrize("stack", STACKS)
def test_no_backup_secret_in_plain_text_anywhere(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    secrets = run.generated_passwords() | {SECRET_PLACEHOLDER}
    for registration in run.registrations:
        for path, value, secret in walk(registration.raw_inputs):
            if isinstance(value, str) and any(s in value for s in secrets):
                assert secret, f"{registration.name}.{path} holds a secret in plain text"
    for path, value, secret in walk(run.outputs):
        if isinstance(value, str) and any(s in value for s in secrets):
            assert secret, f"output {path}"
    backup_containers = [c for c in run.of_type(CONTAINER) if c.parent == run.named("backups").urn]
    assert len(backup_containers) >= 3
    for container in backup_containers:
        for key, value in env(container).items():
            assert not any(s in value for s in secrets), f"{container.name} env {key}"
            assert not is_secret_name(key) or key.endswith("_FILE"), f"{container.name} env {key}"
        for path, (upload, secret) in uploads(container).items():
            if path.startswith("/run/secrets/"):
                assert secret and upload["permissions"] == "0400", f"{container.name}:{path}"


def test_two_runs_register_identical_backups(runs: dict[str, ProgramRun]) -> None:
    again = run_stack_file("lab")

    def backups_of(run: ProgramRun) -> list[tuple[str, str, str]]:
        inside = {run.named("backups").urn, *(r.urn for r in run.descendants_of(run.named("backups")))}
        return sorted(
            (r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=str))
            for r in run.registrations
            if r.urn in inside
        )

    assert backups_of(again) == backups_of(runs["lab"])


def test_a_host_directory_target_is_bind_mounted_and_makes_no_repository_volume() -> None:
    run = run_stack_file(
        "dev", {"selfhost:backups": {"target": {"kind": "local", "hostPath": "/srv/selfhost-backups"}}}
    )
    scheduler = containers(run)["selfhost-dev-backup"]
    repository = mounts(scheduler)[LOCAL_REPOSITORY_DIR]
    assert repository == {"hostPath": "/srv/selfhost-backups", "containerPath": LOCAL_REPOSITORY_DIR, "readOnly": False}
    assert "selfhost-dev-backup-repository" not in {v.inputs["name"] for v in run.of_type(VOLUME)}
    assert networks(run)["selfhost-dev-backup"].inputs["internal"] is True


def test_an_sftp_target_reaches_out_and_gets_its_key_and_known_hosts_as_files() -> None:
    target = {
        "kind": "sftp",
        "user": "backup",
        "host": "backup.example.com",
        "port": 2222,
        "path": "/srv/restic",
        "sshPrivateKey": "KEY-1f3a",
        "knownHosts": "[backup.example.com]:2222 ssh-ed25519 AAAA",
    }
    values, secret_keys = stack_file_config("dev")
    # Set with --secret --path: the whole backups key is a secret key (config/loading.py).
    run = run_program(
        {**values, "selfhost:backups": {"target": target}}, stack="dev", secret_keys=secret_keys | {"selfhost:backups"}
    )
    scheduler = containers(run)["selfhost-dev-backup"]
    files = uploads(scheduler)
    key, secret = files[f"{SECRETS_DIR}/ssh-private-key"]
    assert secret and key["permissions"] == "0400" and key["content"] == "KEY-1f3a\n"
    assert files[f"{SECRETS_DIR}/ssh-known-hosts"][0]["content"] == "[backup.example.com]:2222 ssh-ed25519 AAAA\n"
    assert networks(run)["selfhost-dev-backup"].inputs["internal"] is False
    assert env(scheduler)["RESTIC_REPOSITORY"].startswith("sftp://backup@backup.example.com:2222/")


def test_without_backups_the_stack_registers_none() -> None:
    values, secret_keys = stack_file_config("dev")
    del values["selfhost:backups"]
    run = run_program(values, stack="dev", secret_keys=secret_keys)
    assert not run.of_type(BACKUPS)
    assert not [c for c in run.of_type(CONTAINER) if "backup" in c.inputs["name"] or "dump" in c.inputs["name"]]
    assert "backupRepositoryPassword" not in run.outputs
