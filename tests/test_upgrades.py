"""Upgrades: the one-major-at-a-time rule (tier 1) and its wiring, plus pin bumps, under mocks (tier 2).

Mocks prove what the program sends: that the Nextcloud pull waits for the check, that a
refused pin registers neither image nor containers, that a bump changes containers'
images and nothing about the volumes. They do not prove what the engine does with it:
that a changed image replaces the container (the provider forces replacement on
``image``) or that the file backend resolves the self-reference as ``organization/...``.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.apps.nextcloud.upgrades import (
    DEPLOYED_MAJORS_OUTPUT,
    UpgradeError,
    check_nextcloud_upgrade,
    deployed_major,
    nextcloud_upgrade_problem,
)
from components.core import images
from tests.mockstack import (
    STACK_REFERENCE,
    ProgramRun,
    RecordingMonitor,
    StackMocks,
    is_secret,
    run_program,
    run_stack_file,
    service_name,
    stack_file_config,
    walk,
)

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
PREFIX = "selfhost-dev"
PINNED = images.NEXTCLOUD.major

# --- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployed", "pinned"),
    [(None, 33), (None, 40), (33, 33), (33, 34), (34, 35)],
)
def test_allowed_moves(deployed: int | None, pinned: int) -> None:
    assert nextcloud_upgrade_problem(deployed, pinned) is None


@pytest.mark.parametrize(("deployed", "pinned"), [(33, 35), (33, 40), (32, 34)])
def test_skipping_a_major_is_refused_and_names_the_next_step(deployed: int, pinned: int) -> None:
    problem = nextcloud_upgrade_problem(deployed, pinned)
    assert problem is not None
    assert f"last deployed Nextcloud {deployed} and the pin is {pinned}" in problem
    assert "one major version at a time" in problem
    assert f"Pin a {deployed + 1}.x tag" in problem


@pytest.mark.parametrize(("deployed", "pinned"), [(34, 33), (34, 32)])
def test_downgrades_are_refused(deployed: int, pinned: int) -> None:
    problem = nextcloud_upgrade_problem(deployed, pinned)
    assert problem is not None and "cannot downgrade" in problem


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [(None, None), ({}, None), ({"other": 33}, None), ({"cloud": 33}, 33), ({"cloud": 33.0}, 33)],
)
def test_deployed_major_reads_the_recorded_output(outputs: Any, expected: int | None) -> None:
    assert deployed_major(outputs, "cloud") == expected


@pytest.mark.parametrize("outputs", [["cloud"], {"cloud": "33"}, {"cloud": 33.5}, {"cloud": True}])
def test_a_garbled_record_is_an_error_not_a_pass(outputs: Any) -> None:
    with pytest.raises(UpgradeError, match=DEPLOYED_MAJORS_OUTPUT):
        deployed_major(outputs, "cloud")


def test_refusal_is_a_run_error_naming_the_app_and_the_image() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        check_nextcloud_upgrade("cloud", {"cloud": 33}, 35, "nextcloud:35.0-apache")
    assert str(caught.value).startswith("selfhost:apps.cloud: refusing nextcloud:35.0-apache: ")
    check_nextcloud_upgrade("cloud", {"cloud": 33}, 34, "nextcloud:34.0-apache")


# --- the wiring, under mocks ----------------------------------------------------------------------


def previous(major: int) -> dict[str, Any]:
    """Outputs of the last completed deploy, as the engine hands them back (numbers are floats)."""
    return {DEPLOYED_MAJORS_OUTPUT: {"cloud": float(major)}}


def pin_nextcloud(monkeypatch: pytest.MonkeyPatch, major: int) -> images.ImagePin:
    pin = images.ImagePin("nextcloud", f"{major}.0-apache")
    monkeypatch.setattr(images, "NEXTCLOUD", pin)
    return pin


def containers(run: ProgramRun) -> dict[str, Any]:
    return {service_name(c): c for c in run.of_type(CONTAINER)}


def test_the_stack_records_the_deployed_major_and_reads_its_own_last_record() -> None:
    run = run_stack_file("dev")
    assert run.outputs[DEPLOYED_MAJORS_OUTPUT] == {"cloud": PINNED}
    (reference,) = [read for read in run.reads if read.type == STACK_REFERENCE and read.name == "cloud-deployed"]
    assert reference.id == "organization/selfhost/dev"
    cloud = run.named("cloud")
    assert reference.parent == cloud.urn


def test_the_nextcloud_pull_waits_for_the_check() -> None:
    run = run_stack_file("dev", previous_outputs=previous(PINNED))
    image = run.named("cloud-image")
    reference_urns = [urn for urn in image.property_dependencies["name"] if urn.endswith("::cloud-deployed")]
    assert len(reference_urns) == 1 and STACK_REFERENCE in reference_urns[0]
    assert image.inputs["name"].startswith(images.NEXTCLOUD.ref + "@sha256:")
    app, cron = containers(run)[f"{PREFIX}-cloud-app"], containers(run)[f"{PREFIX}-cloud-cron"]
    for container in (app, cron):
        assert image.urn in container.property_dependencies["image"]


@pytest.mark.parametrize("preview", [False, True])
def test_one_major_up_is_deployed(monkeypatch: pytest.MonkeyPatch, preview: bool) -> None:
    pin = pin_nextcloud(monkeypatch, PINNED + 1)
    run = run_stack_file("dev", previous_outputs=previous(PINNED), preview=preview)
    assert run.named("cloud-image").inputs["name"].startswith(pin.ref + "@sha256:")
    assert run.outputs[DEPLOYED_MAJORS_OUTPUT] == {"cloud": PINNED + 1}


@pytest.mark.parametrize(
    ("deployed", "pinned", "message"),
    [
        (PINNED, PINNED + 2, "one major version at a time"),
        (PINNED + 1, PINNED, "cannot downgrade"),
    ],
)
@pytest.mark.parametrize("preview", [False, True])
def test_a_refused_pin_fails_the_run_before_any_nextcloud_image_or_container(
    monkeypatch: pytest.MonkeyPatch, deployed: int, pinned: int, message: str, preview: bool
) -> None:
    pin = pin_nextcloud(monkeypatch, pinned)
    monitors: list[RecordingMonitor] = []

    values, secret_keys = stack_file_config("dev")
    with pytest.raises(UpgradeError, match=message) as caught:
        run_program(
            values, secret_keys=secret_keys, previous_outputs=previous(deployed), preview=preview, monitors=monitors
        )
    assert pin.ref in str(caught.value)
    registered = monitors[0].registrations
    assert not [r for r in registered if r.type == IMAGE and r.inputs["name"].startswith("nextcloud:")]
    names = {r.inputs.get("name") for r in registered if r.type == CONTAINER}
    assert f"{PREFIX}-cloud-app" not in names and f"{PREFIX}-cloud-cron" not in names


def _volumes(run: ProgramRun) -> str:
    return json.dumps(
        sorted((v.urn, v.raw_inputs, v.protect, v.retain_on_delete) for v in run.of_type(VOLUME)),
        sort_keys=True,
        default=str,
    )


def _mounts(run: ProgramRun) -> dict[str, Any]:
    return {name: c.inputs.get("volumes", []) for name, c in containers(run).items()}


def test_bumping_pins_changes_images_and_leaves_every_volume_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    before = run_stack_file("dev", previous_outputs=previous(PINNED))
    pin_nextcloud(monkeypatch, PINNED + 1)
    monkeypatch.setattr(images, "WORDPRESS", images.ImagePin("wordpress", "7.2-php8.4-apache"))
    monkeypatch.setattr(images, "WORDPRESS_CLI", images.ImagePin("wordpress", "cli-2.13-php8.4"))
    after = run_stack_file("dev", previous_outputs=previous(PINNED))

    assert _volumes(after) == _volumes(before)
    assert _mounts(after) == _mounts(before)
    old, new = containers(before), containers(after)
    # ...and the backups' maintenance-mode switch, which runs on the app's own pull of the Nextcloud image.
    bumped = {f"{PREFIX}-{role}" for role in ("blog-app", "blog-cron", "cloud-app", "cloud-cron", "cloud-quiesce")}
    for name in old:
        changed = old[name].inputs["image"] != new[name].inputs["image"]
        assert changed is (name in bumped), name
        # Create-first containers get a new generation (name) with the image; stop-first ones keep theirs.
        assert new[name].delete_before_replace is (new[name].inputs["name"] == name), name
        renamed = new[name].inputs["name"] != old[name].inputs["name"]
        assert renamed is (changed and not new[name].delete_before_replace), name
        other = {k: v for k, v in new[name].inputs.items() if k not in {"image", "name"}}
        assert other == {k: v for k, v in old[name].inputs.items() if k not in {"image", "name"}}, name


# --- secretness: the record is read without the secrets stored beside it --------------------------


def previous_with_secrets(major: int) -> dict[str, Any]:
    """The last deploy's outputs as the engine returns them: adminPasswords is secret, the record is not."""
    return {**previous(major), "adminPasswords": rpc.wrap_rpc_secret({"cloud": "pw-cloud", "blog": "pw-blog"})}


def secret_leaves(run: ProgramRun) -> set[tuple[str, str]]:
    return {(r.urn, path) for r in run.registrations for path, _, secret in walk(r.raw_inputs) if secret}


@pytest.mark.parametrize("preview", [False, True])
def test_the_nextcloud_image_stays_readable_when_the_stack_exports_secrets(preview: bool) -> None:
    """A secret output beside nextcloudVersions must not make the image name (or the containers' image) secret."""
    run = run_stack_file("dev", previous_outputs=previous_with_secrets(PINNED), preview=preview)
    image = run.named("cloud-image")
    assert not is_secret(image.raw_inputs["name"])
    for role in ("cloud-app", "cloud-cron"):
        container = containers(run)[f"{PREFIX}-{role}"]
        assert not is_secret(container.raw_inputs["image"]), role
    assert not is_secret(run.outputs[DEPLOYED_MAJORS_OUTPUT])


def test_secret_stack_outputs_make_nothing_else_secret() -> None:
    """Every input is exactly as secret with a secret-holding record as with none at all."""
    without = run_stack_file("dev")
    with_secrets = run_stack_file("dev", previous_outputs=previous_with_secrets(PINNED))
    assert secret_leaves(with_secrets) == secret_leaves(without)
    assert secret_leaves(without), "the stack has secrets: the comparison must see some"


def test_a_secret_record_stays_secret() -> None:
    """If the engine reports the record itself as secret, what derives from it stays secret (no silent unsecret)."""
    record = {DEPLOYED_MAJORS_OUTPUT: rpc.wrap_rpc_secret({"cloud": float(PINNED)})}
    run = run_stack_file("dev", previous_outputs=record)
    assert is_secret(run.named("cloud-image").raw_inputs["name"])


# --- the record follows the deployed, healthy app container ---------------------------------------


def test_the_record_waits_for_the_nextcloud_app_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the app container has not come back (unknown outputs), nothing is recorded for it."""
    original = StackMocks.new_resource

    def app_container_pending(self: StackMocks, args: Any) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = original(self, args)
        if args.typ == CONTAINER and args.name == "cloud-container":
            return "", {key: rpc.UNKNOWN for key in outputs}
        return resource_id, outputs

    monkeypatch.setattr(StackMocks, "new_resource", app_container_pending)
    run = run_stack_file("dev", previous_outputs=previous(PINNED), preview=True)
    assert isinstance(run.outputs[DEPLOYED_MAJORS_OUTPUT]["cloud"], Unknown)
    assert run.outputs["urls"]["cloud"] == "http://cloud.localhost:8080", "only what depends on the container waits"


def test_a_stack_without_nextcloud_still_exports_an_empty_record() -> None:
    run = run_program({"selfhost:apps": {"blog": {"kind": "wordpress", "hostname": "blog.localhost"}}})
    assert run.outputs[DEPLOYED_MAJORS_OUTPUT] == {}
