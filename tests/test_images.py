"""Image policy (components/core/images.py): tags upstream rebuilds, run at digests the stack records.

Tier 1: the record's reader. Tier 2, under mocks (tests/mockstack.py's registry answers a
digest per tag and build, ``REGISTRY_BUILDS`` stands for upstream rebuilds): every pull names
``tag@digest``; the digests stay as recorded until ``imageRefresh`` changes; a refresh changes
RemoteImages and the containers on them, nothing else, and no stateful resource. Mocks prove
what the program sends; that the provider pulls a digest it does not have and finds one it
has rests on its source (kreuzwerker/terraform-provider-docker v4.5.0, ``findImage``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from components.core import images
from policy import rules
from tests import mockstack
from tests.mockstack import ProgramRun, is_secret, registry_digest, run_stack_file
from tests.stateful_urns import PINNED_FILE, missing_pins, shipped_stacks

SHIPPED_STACKS = shipped_stacks()

IMAGE = images.REMOTE_IMAGE
CONTAINER = "docker:index/container:Container"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(mockstack, "REGISTRY_BUILDS", {})
    yield


def rebuild(*refs: str) -> None:
    """Upstream rebuilds these tags: the registry now answers a new digest for each."""
    for ref in refs:
        mockstack.REGISTRY_BUILDS[ref] = mockstack.REGISTRY_BUILDS.get(ref, 0) + 1


def names(run: ProgramRun) -> dict[str, str]:
    return {r.urn: r.inputs["name"] for r in run.of_type(IMAGE)}


def deploy(refresh: str, record: Any = None, stack: str = "dev") -> ProgramRun:
    previous = {} if record is None else {images.DIGESTS_OUTPUT: record}
    return run_stack_file(stack, {"selfhost:imageRefresh": refresh}, previous_outputs=previous)


# --- tier 1: reading the record ------------------------------------------------------------------

GOOD = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"refresh": "r1", "digests": {"redis:8.2": GOOD}}, {"redis:8.2": GOOD}),
        ({"refresh": "r0", "digests": {"redis:8.2": GOOD}}, {}),
        (None, {}),
        ({"digests": {"redis:8.2": GOOD}}, {}),
        ({"refresh": "r1", "digests": ["redis:8.2"]}, {}),
        ({"refresh": "r1", "digests": {"redis:8.2": "latest", "nginx:1.30": GOOD}}, {"nginx:1.30": GOOD}),
    ],
)
def test_only_a_record_made_under_the_same_refresh_counts(record: Any, expected: dict[str, str]) -> None:
    assert images.recorded_digests(record, "r1") == expected


# --- tier 2: the program under mocks ---------------------------------------------------------------


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_pull_names_its_tag_at_a_digest_and_the_stack_records_them(stack: str) -> None:
    run = run_stack_file(stack)
    pinned = {pin.ref for pin in images.ALL}
    assert names(run)
    for name in names(run).values():
        tag, digest = name.split("@")
        assert tag in pinned and digest == registry_digest(tag), name
    record = run.outputs[images.DIGESTS_OUTPUT]
    assert not is_secret(record)
    assert record == {"refresh": "", "digests": {n.split("@")[0]: n.split("@")[1] for n in names(run).values()}}
    # The provider's pull_triggers cannot make it pull (see components/core/images.py): not relied on.
    assert not any("pullTriggers" in r.inputs for r in run.of_type(IMAGE))
    # Looked up through the host's own provider (never a default one configured from the environment).
    image_providers = {r.provider for r in run.of_type(IMAGE)}
    assert len(image_providers) == 1 and set(run.registry_lookup_providers) == image_providers


def test_without_a_refresh_the_recorded_digests_stay_though_upstream_rebuilt() -> None:
    first = deploy("")
    rebuild(*(pin.ref for pin in images.ALL))
    again = deploy("", first.outputs[images.DIGESTS_OUTPUT])
    assert again.registry_lookups == []
    assert names(again) == names(first)
    assert again.outputs[images.DIGESTS_OUTPUT] == first.outputs[images.DIGESTS_OUTPUT]


def test_a_new_pin_alone_is_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    first = deploy("")
    monkeypatch.setattr(images, "REDIS", images.ImagePin("redis", "8.4"))
    again = deploy("", first.outputs[images.DIGESTS_OUTPUT])
    assert sorted(set(again.registry_lookups)) == ["redis:8.4"]


def test_a_garbled_record_means_resolving_again() -> None:
    run = deploy("", {"refresh": "", "digests": "not a map"})
    assert sorted(set(run.registry_lookups)) == sorted({name.split("@")[0] for name in names(run).values()})


def _without(inputs: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k != key}


def test_a_refresh_repulls_rebuilt_tags_and_replaces_only_their_images_and_containers() -> None:
    before = deploy("2026-11-01")
    rebuild(images.MARIADB.ref, images.NGINX.ref)
    after = deploy("2026-12-01", before.outputs[images.DIGESTS_OUTPUT])

    assert after.registry_lookups, "a new refresh mark resolves the tags again"
    old = {r.urn: r for r in before.registrations}
    new = {r.urn: r for r in after.registrations}
    assert set(new) == set(old), "no resource added, removed or renamed"
    changed_images = {urn for urn in new if new[urn].type == IMAGE and new[urn].inputs != old[urn].inputs}
    assert {old[urn].inputs["name"].split("@")[0] for urn in changed_images} == {images.MARIADB.ref, images.NGINX.ref}
    for urn in changed_images:
        assert _without(new[urn].inputs, "name") == _without(old[urn].inputs, "name")
    changed_containers = set()
    for urn, resource in new.items():
        if resource.inputs == old[urn].inputs:
            continue
        if resource.type == IMAGE:
            continue
        assert resource.type == CONTAINER, f"a refresh changed {urn}"
        assert _without(resource.inputs, "image") == _without(old[urn].inputs, "image"), urn
        (image_urn,) = [dep for dep in resource.property_dependencies["image"] if dep in changed_images]
        changed_containers.add(image_urn)
    assert changed_containers == changed_images, "exactly the containers on a re-pulled image change"

    assert missing_pins(json.loads(PINNED_FILE.read_text())["stacks"]["dev"], after) == []
    stateful = [r for r in after.registrations if r.type in rules.STATEFUL_TYPES]
    assert stateful
    for resource in stateful:
        assert resource.raw_inputs == old[resource.urn].raw_inputs, resource.urn
    assert after.outputs[images.DIGESTS_OUTPUT]["refresh"] == "2026-12-01"


def test_a_refresh_with_nothing_rebuilt_changes_nothing() -> None:
    before = deploy("2026-11-01")
    after = deploy("2026-12-01", before.outputs[images.DIGESTS_OUTPUT])
    assert after.registry_lookups
    assert {r.urn: r.raw_inputs for r in after.registrations} == {r.urn: r.raw_inputs for r in before.registrations}


def test_pins_are_tags_upstream_still_builds_in_a_consistent_set() -> None:
    """The pins that must agree: wp-cli runs the site's PHP; Postgres' data path follows its major."""
    assert images.WORDPRESS_CLI.php == images.WORDPRESS.php
    assert images.postgres_data_path(images.POSTGRES) == "/var/lib/postgresql"
    for retired in ("wordpress:7.0-php8.4-apache", "postgres:18.1"):
        assert retired not in {pin.ref for pin in images.ALL}, f"{retired} is no longer rebuilt upstream"
    for pin in images.ALL:
        assert DIGEST.pattern not in pin.ref and "@" not in pin.ref, "pins are tags; digests live in the record"


def test_first_prod_preview_previews_the_pulls_with_digests_unknown() -> None:
    """Before the server exists the host's provider is unconfigured: the engine answers its invokes with nothing.

    The provider's ``host`` derives from the readiness command's output, unknown in the first
    preview, so the engine does not configure it and ``getRegistryImage`` through it returns
    an empty map (pulumi/pulumi provider_plugin.go ``Invoke``). That is no registry answer to
    refuse: the pulls preview with their names unknown, and ``pulumi up`` resolves the tags
    once the provider is configured.
    """
    run = run_stack_file("prod", preview=True, unconfigured_providers={"host-docker"})
    assert run.registry_lookups
    raw_names = [r.raw_inputs.get("name") for r in run.of_type(IMAGE)]
    assert raw_names and all(isinstance(name, Unknown) for name in raw_names), raw_names


def test_an_empty_registry_answer_outside_a_preview_is_refused() -> None:
    """An update whose look-up comes back without a digest stops, naming the tag."""
    with pytest.raises(pulumi.RunError, match=r"the registry answered None for \S+, which is not a sha256 digest"):
        run_stack_file("prod", unconfigured_providers={"host-docker"})
