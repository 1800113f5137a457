"""The rocketchat kind and its MongoDB, tier by tier.

Tier 1: the settings model (bad input names the key), the spec as plain data, the MongoDB
connection facts, the rendered templates (shellcheck). Tier 2: the MongoDB component under
Pulumi's mocks. Tier 3: the entrypoint wrapper run by dash and busybox with a stub for the image's
own entrypoint, traced with strace (no password in any argv); the MongoDB healthcheck script run by
node from the Debian unstable root against a stub mongosh (tests/mongosh_stub.js), first start,
restart, interrupted start and a wrong password; the Rocket.Chat healthcheck against stub servers.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest
from pydantic import ValidationError

from components.apps.rocketchat import KIND
from components.apps.rocketchat import spec as rocketchat
from components.apps.rocketchat.settings import RocketChatApp
from components.apps.spec import AppSecret, AppSpec, Backing, File, SecretFile, ServiceSecret, Site
from components.core import images
from components.core.secret_names import is_secret_name
from components.core.volumes import StatePolicy
from components.edge.routes import UPLOAD_ENVELOPE_BYTES
from components.services import mongodb
from components.services.kinds import Placement
from tests import scripttools, sidroot
from tests.mockstack import ProgramRun, is_secret, run_components

MiB = 1024**2
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
SITE = Site(
    app="chat",
    hostname="chat.localhost",
    public_url="http://chat.localhost:8080",
    scheme="http",
    public_host="chat.localhost:8080",
    trusted_proxies="172.30.0.0/24",
)


def settings(**options: Any) -> RocketChatApp:
    return RocketChatApp.model_validate({"kind": "rocketchat", "hostname": "chat.localhost", **options})


def app_spec(**options: Any) -> AppSpec:
    return KIND.spec("chat", settings(**options), SITE)


# --- tier 1: settings ------------------------------------------------------------------------


def test_the_kind_registers_its_settings_spec_and_component() -> None:
    assert KIND.name == "rocketchat" and KIND.settings is RocketChatApp
    assert KIND.component == "selfhost:index:RocketChat"
    example = RocketChatApp.model_validate(KIND.example)
    assert example.kind == "rocketchat" and example.admin_user == "admin"


@pytest.mark.parametrize(
    ("options", "key", "says"),
    [
        ({"adminUser": "ad min"}, "adminUser", "not a Rocket.Chat user name"),
        ({"adminUser": "x" * 65}, "adminUser", "1-64 letters"),
        ({"adminUser": "Rocket.Cat"}, "adminUser", "reserved by Rocket.Chat"),
        ({"adminUser": "here"}, "adminUser", "reserved by Rocket.Chat"),
        ({"adminEmail": "root@localhost"}, "adminEmail", "is not an e-mail address"),
        ({"uploadLimit": "2Gi"}, "uploadLimit", "above the 1Gi maximum"),
        ({"uploadLimit": "512Ki"}, "uploadLimit", "at least 1Mi"),
        ({"uploadLimit": 100}, "uploadLimit", "is not a size"),
        ({"memory": {"mongo": "16Mi"}}, "memory.mongo", "32Mi minimum"),
        ({"memory": {"redis": "64Mi"}}, "memory.redis", "Extra inputs are not permitted"),
        ({"memoryReservation": {"app": "1.5Gi"}}, "memoryReservation.app", "not a memory size"),
        ({"hostname": "Chat.Example.com"}, "hostname", "is not a host name"),
        ({"registration": "open"}, "registration", "Extra inputs are not permitted"),
    ],
)
def test_bad_input_names_the_key_and_what_is_allowed(options: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**options)
    errors = raised.value.errors()
    assert [".".join(str(part) for part in error["loc"]) for error in errors] == [key]
    assert says in errors[0]["msg"]


def test_a_default_admin_email_the_rule_refuses_is_reported_as_adminemail() -> None:
    with pytest.raises(ValidationError, match=r"adminEmail: the default, 'admin@chat\.x1'"):
        RocketChatApp.model_validate({"kind": "rocketchat", "hostname": "chat.x1"})
    assert RocketChatApp.model_validate(
        {"kind": "rocketchat", "hostname": "chat.x1", "adminEmail": "ops@example.com"}
    ).effective_admin_email == ("ops@example.com")


def test_reservations_default_but_never_above_a_lowered_limit() -> None:
    assert settings().reserved.model_dump() == {"app": 1024 * MiB, "mongo": 512 * MiB}
    lowered = settings(memory={"app": "768Mi", "mongo": "256Mi"})
    assert lowered.reserved.model_dump() == {"app": 768 * MiB, "mongo": 256 * MiB}
    explicit = settings(memoryReservation={"mongo": "300Mi"}, memory={"mongo": "256Mi"})
    assert explicit.reserved.mongo == 300 * MiB, "an explicit reservation stands (the stack's check refuses it)"


# --- tier 1: the spec --------------------------------------------------------------------------


def test_spec_is_one_routed_node_service_on_the_pinned_image_after_its_mongo() -> None:
    result = app_spec()
    assert result.kind == "rocketchat"
    (app,) = result.services
    assert app.role == "app" and app.edge == "routed" and app.image == images.ROCKETCHAT
    assert app.depends_on == ("mongo",)
    assert app.entrypoint == (rocketchat.ENTRYPOINT,) and app.command == ("node", "main.js")
    assert app.user is None, "the image's own user (rocketchat, 999) runs it"
    assert app.memory == 2048 * MiB and app.memory_reservation == 1024 * MiB
    assert app.healthcheck.test == ("CMD", "node", rocketchat.HEALTHCHECK_SCRIPT)
    assert app.wait_timeout_seconds >= 300 and app.stop_grace_seconds >= 30


def test_environment_holds_no_secret_and_no_database_url() -> None:
    (app,) = app_spec().services
    assert "MONGO_URL" not in app.env and "ADMIN_PASS" not in app.env and "MONGO_OPLOG_URL" not in app.env
    assert not any("mongodb://" in value or "password" in key.lower() for key, value in app.env.items())
    assert not [key for key in app.env if is_secret_name(key)], "the policy pack's rule would refuse it"
    assert app.env["ROOT_URL"] == SITE.public_url == app.env["OVERWRITE_SETTING_Site_Url"]
    assert app.env["OVERWRITE_SETTING_Show_Setup_Wizard"] == "completed"
    assert app.env["Accounts_RegistrationForm"] == "Disabled"
    assert app.env["ADMIN_USERNAME"] == "admin" and app.env["ADMIN_EMAIL"] == "admin@chat.localhost"
    assert app.env["PORT"] == "3000"
    assert app.env["HTTP_FORWARDED_COUNT"] == "1", "one proxy, the edge, in front"
    assert "ADMIN_EMAIL_VERIFIED" not in app.env, "a verified address would turn on e-mail 2FA without SMTP"


def test_secrets_are_files_for_the_image_user_and_the_admin_password_is_generated() -> None:
    result = app_spec()
    (app,) = result.services
    secrets = {file.path: file for file in app.files if isinstance(file, SecretFile)}
    assert secrets == {
        rocketchat.MONGO_PASSWORD_FILE: SecretFile(rocketchat.MONGO_PASSWORD_FILE, ServiceSecret("mongo"), owner=999),
        rocketchat.ADMIN_PASSWORD_FILE: SecretFile(
            rocketchat.ADMIN_PASSWORD_FILE, AppSecret("admin-password"), owner=999
        ),
    }
    assert [secret.role for secret in result.secrets] == ["admin-password"] and result.secrets[0].protect
    assert result.admin_user == "admin" and result.admin_password == "admin-password"
    plain = {file.path: file for file in app.files if isinstance(file, File)}
    assert plain[rocketchat.ENTRYPOINT].mode == "0555" and plain[rocketchat.ENTRYPOINT].owner == 0
    assert plain[rocketchat.HEALTHCHECK_SCRIPT].mode == "0444"


def test_uploads_volume_is_mounted_and_mongo_is_its_backing_service() -> None:
    result = app_spec(memory={"mongo": "2Gi"})
    (app,) = result.services
    assert [(volume.role) for volume in result.volumes] == ["uploads"]
    assert [(mount.volume, mount.path, mount.read_only) for mount in app.mounts] == [("uploads", "/app/uploads", False)]
    (backing,) = result.backing
    assert backing == Backing(
        role="mongo",
        kind="mongodb",
        memory=2048 * MiB,
        memory_reservation=512 * MiB,
        database="rocketchat",
        user="rocketchat",
        options={"replica_set": "rs0"},
    )


def test_route_carries_websockets_with_a_long_timeout_and_the_upload_limit() -> None:
    result = app_spec(uploadLimit="250Mi")
    route = result.route
    assert route.websocket and route.read_timeout_seconds >= 3600
    assert (route.server_name, route.upstream_host, route.upstream_port) == ("chat.localhost", "app-chat", 3000)
    assert route.max_body_bytes == 250 * MiB + UPLOAD_ENVELOPE_BYTES
    assert result.services[0].env["OVERWRITE_SETTING_FileUpload_MaxFileSize"] == str(250 * MiB)
    assert app_spec().route.max_body_bytes == 104857600 + UPLOAD_ENVELOPE_BYTES, "Rocket.Chat's own default"


# --- tier 1: MongoDB facts and templates -------------------------------------------------------


def test_connection_is_pure_facts_named_after_the_role() -> None:
    backing = rocketchat.mongo_backing(settings())
    link = mongodb.connection(backing)
    assert (link.host, link.port, link.user, link.database) == ("mongo", 27017, "rocketchat", "rocketchat")
    assert link.password == ServiceSecret("mongo")
    assert mongodb.url_options(backing) == "replicaSet=rs0&directConnection=true"
    with pytest.raises(ValueError, match="replica_set must be one name"):
        mongodb.replica_set(Backing(role="mongo", kind="mongodb", memory=MiB, options={"replica_set": ("a", "b")}))


@pytest.mark.parametrize(("limit_mib", "cache"), [(512, "0.25"), (1024, "0.25"), (2048, "0.50"), (5120, "2.00")])
def test_wired_tiger_cache_follows_the_container_limit(limit_mib: int, cache: str) -> None:
    assert mongodb.wired_tiger_cache_gb(limit_mib * MiB) == cache


def test_server_runs_a_keyed_replica_set_on_all_interfaces() -> None:
    command = mongodb.server_command("rs0", 1024 * MiB)
    assert command[0] == "mongod"
    assert command[command.index("--replSet") + 1] == "rs0"
    assert command[command.index("--keyFile") + 1] == mongodb.KEY_FILE
    assert "--bind_ip_all" in command and "--auth" not in command, "the key file implies authorization"
    health = mongodb.healthcheck_test()
    assert health[:4] == ("CMD", "env", "HOME=/tmp", "mongosh") and health[-1] == mongodb.ENSURE_SCRIPT
    assert "127.0.0.1:27017" in health[-2] and "directConnection=true" in health[-2]


def ensure_config(script: str) -> dict[str, Any]:
    start = script.index("const CONFIG = ") + len("const CONFIG = ")
    config, _ = json.JSONDecoder().raw_decode(script[start:])
    assert isinstance(config, dict)
    return config


def test_ensure_script_is_rendered_with_paths_only() -> None:
    config = ensure_config(mongodb.ensure_script("rocketchat", "rocketchat"))
    assert config["replicaSet"] == "rs0" and config["memberHost"] == "localhost:27017"
    assert config["rootPasswordFile"] == mongodb.ROOT_PASSWORD_FILE and config["passwordFile"] == mongodb.PASSWORD_FILE
    assert config["roles"] == [{"role": "readWrite", "db": "rocketchat"}, {"role": "clusterMonitor", "db": "admin"}]


def test_entrypoint_renders_shellcheck_clean_with_quoted_facts() -> None:
    script = rocketchat.entrypoint_script(rocketchat.mongo_backing(settings()))
    assert "mongo_options='replicaSet=rs0&directConnection=true'" in script
    assert script.rstrip().endswith('exec docker-entrypoint.sh "$@"')
    assert scripttools.sh_syntax_errors(script) == ""
    assert scripttools.shellcheck_findings(script) == ""


# --- tier 2: the MongoDB component under mocks -------------------------------------------------


def build_mongo() -> None:
    owner = pulumi.ComponentResource("test:index:Owner", "chat")
    backing = rocketchat.mongo_backing(settings())
    placement = Placement("selfhost-dev-chat-mongo", "selfhost-dev-chat-backend", owner, StatePolicy(protect=True))
    built = mongodb.MONGODB.build("chat-mongo", backing, placement)
    assert isinstance(built.resource, mongodb.MongoDB) and len(built.volume_names) == 1


@pytest.fixture(scope="module")
def mongo_run() -> ProgramRun:
    return run_components(build_mongo)


def test_build_needs_a_database_and_a_user() -> None:
    backing = Backing(role="mongo", kind="mongodb", memory=512 * MiB)
    with pytest.raises(ValueError, match="needs a database and a user"):
        mongodb.build("x", backing, Placement("pre-x-mongo", "net", None))  # type: ignore[arg-type]


def test_mongodb_children_are_named_typed_and_protected(mongo_run: ProgramRun) -> None:
    component = mongo_run.named("chat-mongo")
    assert component.type == "selfhost:index:MongoDB"
    children = {r.name: r for r in mongo_run.children_of(component)}
    assert {name: r.type for name, r in children.items()} == {
        "chat-mongo-password": "random:index/randomPassword:RandomPassword",
        "chat-mongo-root-password": "random:index/randomPassword:RandomPassword",
        "chat-mongo-keyfile": "random:index/randomPassword:RandomPassword",
        "chat-mongo-data": "docker:index/volume:Volume",
        "chat-mongo-image": "docker:index/remoteImage:RemoteImage",
        "chat-mongo-container": "docker:index/container:Container",
    }
    for name in ("chat-mongo-password", "chat-mongo-root-password", "chat-mongo-keyfile"):
        assert children[name].protect and children[name].inputs["special"] is False
    volume = children["chat-mongo-data"]
    assert volume.protect and volume.retain_on_delete and volume.inputs["name"] == "selfhost-dev-chat-mongo-data"
    assert children["chat-mongo-image"].inputs["name"].startswith("mongo:8.0")


def test_mongodb_container_gets_secret_files_for_uid_999_and_no_secret_env(mongo_run: ProgramRun) -> None:
    container = mongo_run.named("chat-mongo-container")
    uploads = {upload["file"]: upload for upload in container.inputs["uploads"]}
    assert is_secret(container.raw_inputs["uploads"]), "the uploads carry passwords: secret as a whole"
    for path in (mongodb.PASSWORD_FILE, mongodb.ROOT_PASSWORD_FILE, mongodb.KEY_FILE):
        assert (uploads[path]["owner"], uploads[path]["group"], uploads[path]["permissions"]) == ("999", "999", "0400")
    assert len({uploads[path]["content"] for path in (mongodb.PASSWORD_FILE, mongodb.ROOT_PASSWORD_FILE)}) == 2
    assert uploads[mongodb.ENSURE_SCRIPT]["content"] == mongodb.ensure_script("rocketchat", "rocketchat")
    assert "owner" not in uploads[mongodb.ENSURE_SCRIPT] or uploads[mongodb.ENSURE_SCRIPT]["owner"] is None
    assert uploads[mongodb.MONGOSH_CONFIG_FILE]["content"] == mongodb.MONGOSH_CONFIG
    assert container.inputs.get("envs", []) == []
    assert container.inputs["command"] == list(mongodb.server_command("rs0", 1024 * MiB))
    assert container.inputs["volumes"] == [
        {"volumeName": "selfhost-dev-chat-mongo-data", "containerPath": "/data/db", "readOnly": False}
    ]
    assert container.inputs["networksAdvanced"] == [{"name": "selfhost-dev-chat-backend", "aliases": ["mongo"]}]
    assert container.inputs["healthcheck"]["tests"] == list(mongodb.healthcheck_test())
    assert container.inputs["stopTimeout"] >= 30
    assert not container.inputs.get("ports")


# --- tier 3: the entrypoint wrapper, run -------------------------------------------------------

MONGO_SECRET = "Mg0PasswordFromTheFile4Xq9Zr7Tt2"
ADMIN_SECRET = "Adm1nPasswordFromTheFile8Kp3Lm6Ww"
ENTRYPOINT_STUB = """#!/bin/sh
# Stands in for the image's docker-entrypoint.sh: records its argv (NUL-separated) and environment.
for arg in "$0" "$@"; do printf '%s\\0' "$arg"; done >"$RECORD/argv"
env >"$RECORD/env"
"""


def wrapper_sandbox(root: Path, mongo_secret: str = MONGO_SECRET) -> tuple[Path, dict[str, str]]:
    bin_dir, record, secrets = root / "bin", root / "record", root / "secrets"
    for directory in (bin_dir, record, secrets):
        directory.mkdir()
    (secrets / "mongo_password").write_text(mongo_secret)
    (secrets / "admin_password").write_text(ADMIN_SECRET + "\n")
    stub = bin_dir / "docker-entrypoint.sh"
    stub.write_text(ENTRYPOINT_STUB)
    stub.chmod(0o755)
    script = root / "entrypoint.sh"
    script.write_text(
        rocketchat.entrypoint_script(
            rocketchat.mongo_backing(settings()),
            mongo_password_file=str(secrets / "mongo_password"),
            admin_password_file=str(secrets / "admin_password"),
        )
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record), "HOME": str(root)}
    return script, env


def recorded_env(root: Path) -> dict[str, str]:
    lines = (root / "record" / "env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.mark.parametrize("shell", [["dash"], ["busybox", "sh"]])
def test_wrapper_builds_mongo_url_exports_admin_pass_and_execs_the_image_command(
    shell: list[str], tmp_path: Path
) -> None:
    scripttools.require(shell[0])
    script, env = wrapper_sandbox(tmp_path)
    result = subprocess.run([*shell, str(script), "node", "main.js"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    argv = (tmp_path / "record" / "argv").read_text().split("\0")[:-1]
    assert argv[1:] == ["node", "main.js"] and argv[0].endswith("docker-entrypoint.sh")
    seen = recorded_env(tmp_path)
    assert seen["MONGO_URL"] == (
        f"mongodb://rocketchat:{MONGO_SECRET}@mongo:27017/rocketchat?replicaSet=rs0&directConnection=true"
    )
    assert seen["ADMIN_PASS"] == ADMIN_SECRET, "the file's line end is not part of the password"
    assert "mongo_password" not in seen, "the shell variable holding the password is not exported"
    assert MONGO_SECRET not in result.stdout + result.stderr and ADMIN_SECRET not in result.stdout + result.stderr


def test_wrapper_percent_encodes_a_password_with_url_characters(tmp_path: Path) -> None:
    script, env = wrapper_sandbox(tmp_path, mongo_secret="a:b@c/d%e f~g")
    result = subprocess.run(["dash", str(script), "node", "main.js"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert recorded_env(tmp_path)["MONGO_URL"].startswith("mongodb://rocketchat:a%3Ab%40c%2Fd%25e%20f~g@mongo:27017/")


def test_wrapper_refuses_an_empty_password_file_before_starting_anything(tmp_path: Path) -> None:
    script, env = wrapper_sandbox(tmp_path, mongo_secret="")
    result = subprocess.run(["dash", str(script), "node", "main.js"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "mongo_password is empty" in result.stderr
    assert not (tmp_path / "record" / "argv").exists()


def test_no_process_the_wrapper_starts_sees_a_password_in_its_argv(tmp_path: Path) -> None:
    strace = scripttools.require("strace")
    script, env = wrapper_sandbox(tmp_path)
    trace = tmp_path / "trace"
    traced = [strace, "-f", "-qq", "-s", "4096", "-e", "trace=execve", "-o", str(trace)]
    result = subprocess.run(
        [*traced, "dash", str(script), "node", "main.js"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    execs = [line for line in trace.read_text().splitlines() if "execve(" in line]
    assert any("docker-entrypoint.sh" in line for line in execs), execs
    assert not any(MONGO_SECRET in line or ADMIN_SECRET in line for line in execs), execs


# --- tier 3: node scripts from the unstable root -----------------------------------------------


@pytest.fixture(scope="module")
def node_root() -> Path:
    reason = sidroot.skip_reason()
    if reason:
        pytest.skip(reason)
    return sidroot.ensure_root(["nodejs"])


@pytest.fixture
def root_dir(node_root: Path) -> Iterator[tuple[Path, str]]:
    """A fresh directory inside the root: (its path here, its path inside the root)."""
    inside = f"/tmp/selfhost-rocket-{uuid.uuid4().hex}"
    here = node_root / inside.lstrip("/")
    here.mkdir(parents=True)
    try:
        yield here, inside
    finally:
        shutil.rmtree(here)


def chroot_node(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROOT, str(root), "node", *args],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_templates_parse_as_javascript(node_root: Path, root_dir: tuple[Path, str]) -> None:
    here, inside = root_dir
    (here / "ensure.js").write_text(mongodb.ensure_script("rocketchat", "rocketchat"))
    (here / "health.js").write_text(rocketchat.healthcheck_script())
    for name in ("ensure.js", "health.js"):
        result = chroot_node(node_root, "--check", f"{inside}/{name}")
        assert result.returncode == 0, result.stderr


ROOT_SECRET = "R00tPasswordFromTheFile5Hn2Jd8Vv"
APP_SECRET = "AppUserPasswordFromTheFile3Gs7Ky1"


class MongoServer:
    """The stub mongod's state file, and runs of the real ensure script against it."""

    def __init__(self, root: Path, directory: tuple[Path, str], **state: Any) -> None:
        self.root = root
        self.here, self.inside = directory
        secrets = self.here / "files" / "run" / "secrets"
        secrets.mkdir(parents=True)
        (secrets / "mongo_root_password").write_text(ROOT_SECRET)
        (secrets / "mongo_password").write_text(APP_SECRET)
        (self.here / "ensure.js").write_text(mongodb.ensure_script("rocketchat", "rocketchat"))
        shutil.copy(Path(__file__).with_name("mongosh_stub.js"), self.here / "mongosh_stub.js")
        self.write({"initiated": False, "electionDelay": 2, "electionTicks": 0, "users": {}, **state})

    def write(self, state: dict[str, Any]) -> None:
        (self.here / "state.json").write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.here / "state.json").read_text())
        return result

    def check(self) -> subprocess.CompletedProcess[str]:
        """One healthcheck; the log then holds only this run's commands."""
        state = self.state
        state["log"] = []
        self.write(state)
        args = [f"{self.inside}/mongosh_stub.js", f"{self.inside}/state.json", f"{self.inside}/ensure.js"]
        return chroot_node(self.root, *args, f"{self.inside}/files")

    def ops(self, name: str) -> list[dict[str, Any]]:
        return [entry for entry in self.state["log"] if entry["op"] == name]

    def restart(self, election_ticks: int = 3) -> None:
        """mongod restarted on its data: set and users kept, primary again after an election."""
        state = self.state
        state["electionTicks"] = election_ticks
        self.write(state)


@pytest.fixture
def mongo(node_root: Path, root_dir: tuple[Path, str]) -> Callable[..., MongoServer]:
    return lambda **state: MongoServer(node_root, root_dir, **state)


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    for value in (ROOT_SECRET, APP_SECRET):
        assert value not in result.stdout + result.stderr


def test_first_start_initiates_the_set_and_creates_both_users(mongo: Callable[..., MongoServer]) -> None:
    server = mongo()
    result = server.check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert_no_secret(result)
    (initiate,) = server.ops("initiate")
    assert initiate["config"] == {"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]}
    created = [(op["db"], op["user"]) for op in server.ops("createUser")]
    assert created == [("admin", "root"), ("rocketchat", "rocketchat")]
    users = server.state["users"]
    assert users["admin.root"] == {"pwd": ROOT_SECRET, "roles": [{"role": "root", "db": "admin"}]}
    assert users["rocketchat.rocketchat"]["pwd"] == APP_SECRET
    assert users["rocketchat.rocketchat"]["roles"] == [
        {"role": "readWrite", "db": "rocketchat"},
        {"role": "clusterMonitor", "db": "admin"},
    ]
    assert server.ops("sleep"), "it waited for the election before creating users"


def test_later_checks_and_a_restart_on_existing_data_change_nothing(mongo: Callable[..., MongoServer]) -> None:
    server = mongo()
    assert server.check().returncode == 0
    before = server.state["users"]
    for restart in (False, True):
        if restart:
            server.restart()
        result = server.check()
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.ops("initiate") == [] and server.ops("createUser") == []
        assert server.state["users"] == before


def test_a_start_cut_short_after_initiating_converges_on_the_next_check(mongo: Callable[..., MongoServer]) -> None:
    server = mongo(initiated=True, config={"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]})
    result = server.check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.ops("initiate") == []
    assert [op["user"] for op in server.ops("createUser")] == ["root", "rocketchat"]


def test_a_start_cut_short_after_the_root_user_creates_only_the_app_user(mongo: Callable[..., MongoServer]) -> None:
    server = mongo(
        initiated=True,
        config={"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]},
        users={"admin.root": {"pwd": ROOT_SECRET, "roles": [{"role": "root", "db": "admin"}]}},
    )
    assert server.check().returncode == 0
    assert [(op["db"], op["user"]) for op in server.ops("createUser")] == [("rocketchat", "rocketchat")]


def test_no_primary_in_time_is_unhealthy_and_the_next_check_goes_on(mongo: Callable[..., MongoServer]) -> None:
    server = mongo(electionDelay=1000)
    result = server.check()
    assert result.returncode == 1 and "no writable primary yet" in result.stdout
    assert server.ops("createUser") == []
    server.restart(election_ticks=2)
    result = server.check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.ops("initiate") == [] and len(server.ops("createUser")) == 2


def test_a_root_user_with_another_password_is_reported_without_the_password(mongo: Callable[..., MongoServer]) -> None:
    server = mongo(
        initiated=True,
        config={"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]},
        users={"admin.root": {"pwd": "someOtherPassword", "roles": [{"role": "root", "db": "admin"}]}},
    )
    result = server.check()
    assert result.returncode == 1
    assert "/run/secrets/mongo_root_password does not hold the password of root" in result.stdout
    assert_no_secret(result)
    assert server.ops("createUser") == []


class Answer(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b""
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("status", "body", "healthy"),
    [
        (200, b'{"version":"8.5","success":true}', True),
        (200, b"<!DOCTYPE html><html></html>", False),
        (503, b'{"success":false}', False),
        (200, b'{"success":"yes"}', False),
    ],
)
def test_rocketchat_healthcheck_wants_the_rest_api_answer(
    node_root: Path, root_dir: tuple[Path, str], status: int, body: bytes, healthy: bool
) -> None:
    here, inside = root_dir
    (here / "health.js").write_text(rocketchat.healthcheck_script())
    seen: list[str] = []
    handler = type("Handler", (Answer,), {"status": status, "body": body, "seen": seen})
    server = http.server.HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = chroot_node(node_root, f"{inside}/health.js", env={"PORT": str(server.server_port)})
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy, result.stderr
    assert seen == ["/api/info"]


def test_rocketchat_healthcheck_fails_when_nothing_listens(node_root: Path, root_dir: tuple[Path, str]) -> None:
    here, inside = root_dir
    (here / "health.js").write_text(rocketchat.healthcheck_script())
    result = chroot_node(node_root, f"{inside}/health.js", env={"PORT": str(free_port())})
    assert result.returncode == 1
