"""Tier 2: a refactor must not replace a data volume. The URNs of stateful resources are pinned.

The URNs are the engine's (every ancestor type chained, see tests/engine_view.py), computed
from the real program under mocks for each shipped stack file. A pinned URN still counts
when a resource answers to it through an alias, so the documented rename pattern passes
and a rename without it fails. Not proven here: what a provider does on replacement.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policy import rules
from tests.mockstack import ProgramRun, run_program, run_stack_file, stack_file_config
from tests.stateful_urns import PINNED_FILE, missing_pins, read_pins, shipped_stacks, stateful, unpinned

_RUNS: dict[str, ProgramRun] = {}


def stack_run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_stack_file(stack)
    return _RUNS[stack]


def rename_help(urns: list[str]) -> str:
    return (
        "these stateful resources are no longer registered under their pinned URNs:\n  "
        + "\n  ".join(urns)
        + "\n`pulumi up` would create new (empty) resources and drop these from the stack. If you renamed a "
        "resource, moved it to another parent or renamed a component type, add "
        "`aliases=[pulumi.Alias(name=..., parent=..., type_=...)]` with the old values to its ResourceOptions "
        "(docs/data-safety.md). Only a resource you mean to delete leaves tests/stateful_urns.json."
    )


def test_every_shipped_stack_file_is_pinned() -> None:
    assert sorted(read_pins()) == shipped_stacks(), "run `python -m tests.stateful_urns` for a new stack file"


@pytest.mark.parametrize("stack", shipped_stacks())
def test_pinned_stateful_urns_are_still_answered(stack: str) -> None:
    missing = missing_pins(read_pins().get(stack, []), stack_run(stack))
    assert not missing, rename_help(missing)


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_stateful_resource_is_pinned(stack: str) -> None:
    new = unpinned(read_pins().get(stack, []), stack_run(stack))
    assert not new, (
        f"new stateful resources in stack {stack}: {new}; pin them with `python -m tests.stateful_urns` "
        f"and commit {PINNED_FILE.name}"
    )


@pytest.mark.parametrize("stack", shipped_stacks())
def test_volumes_are_retained_on_delete(stack: str) -> None:
    """What the policy pack cannot see (retainOnDelete never reaches an analyzer), checked here."""
    run = stack_run(stack)
    found = [r for r in run.registrations if r.type in rules.RETAINED_TYPES]
    assert found
    assert [r.name for r in found if not r.retain_on_delete] == []


def test_letsencrypt_state_is_a_retained_volume_too() -> None:
    run = run_program(
        {
            **stack_file_config("dev")[0],
            "selfhost:tls": "letsencrypt",
            "selfhost:acmeEmail": "ops@example.com",
            "selfhost:httpPort": 80,
            "selfhost:apps": {
                "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
                "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
            },
        }
    )
    volumes = {r.name: r for r in run.of_type(rules.VOLUME)}
    assert "proxy-acme-state" in volumes
    assert all(volume.retain_on_delete for volume in volumes.values())


def test_pinned_dev_volumes_are_the_expected_ones() -> None:
    """The file itself is reviewed: dev keeps five data volumes under these exact URNs."""
    base = "urn:pulumi:dev::selfhost::"
    volume = "docker:index/volume:Volume"
    assert set(read_pins()["dev"]) >= {
        f"{base}selfhost:index:WordPress${volume}::blog-html",
        f"{base}selfhost:index:WordPress$selfhost:index:Database${volume}::blog-db-data",
        f"{base}selfhost:index:Nextcloud${volume}::cloud-html",
        f"{base}selfhost:index:Nextcloud${volume}::cloud-data",
        f"{base}selfhost:index:Nextcloud$selfhost:index:Database${volume}::cloud-db-data",
    }


def test_pinned_prod_state_includes_the_hetzner_volume_ip_and_certificates() -> None:
    base = "urn:pulumi:prod::selfhost::"
    assert set(read_pins()["prod"]) >= {
        f"{base}selfhost:index:HetznerHost$hcloud:index/volume:Volume::host-data",
        f"{base}selfhost:index:HetznerHost$hcloud:index/primaryIp:PrimaryIp::host-ipv4",
        f"{base}selfhost:index:Proxy$docker:index/volume:Volume::proxy-acme-state",
        f"{base}selfhost:index:WordPress$selfhost:index:Database$docker:index/volume:Volume::blog-db-data",
    }


@pytest.mark.parametrize("stack", shipped_stacks())
def test_destroy_runs_no_command_that_removes_data(stack: str) -> None:
    """A remote command's ``delete`` script runs on destroy and on replacement."""
    for command in stack_run(stack).of_type("command:remote:Command"):
        assert "delete" not in command.inputs, f"{command.name} runs a script on delete"


# --- the check itself, on a small program refactored three ways ------------------------------

PROGRAM = """
import pulumi
import pulumi_docker as docker


class {cls}(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("selfhost:index:{type}", name, None, opts)
        docker.Volume(
            f"{{name}}-{suffix}",
            name="site-data",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, aliases={volume_aliases}),
        )


{cls}("{component}", pulumi.ResourceOptions(aliases={component_aliases}))
"""
ORIGINAL = {
    "cls": "Site",
    "type": "Site",
    "suffix": "data",
    "component": "blog",
    "volume_aliases": "[]",
    "component_aliases": "[]",
}
PINNED = ["urn:pulumi:dev::selfhost::selfhost:index:Site$docker:index/volume:Volume::blog-data"]


def run_variant(tmp_path: Path, **changes: str) -> ProgramRun:
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(PROGRAM.format(**{**ORIGINAL, **changes})))
    return run_program({}, program=program, with_project_defaults=False)


def test_the_original_program_answers_its_pins(tmp_path: Path) -> None:
    run = run_variant(tmp_path)
    assert list(stateful(run)) == PINNED
    assert missing_pins(PINNED, run) == [] and unpinned(PINNED, run) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"suffix": "files"},
        {"type": "Website"},
        {"component": "site"},
    ],
    ids=["volume-renamed", "component-type-renamed", "component-renamed"],
)
def test_a_refactor_without_aliases_is_caught(tmp_path: Path, changes: dict[str, str]) -> None:
    run = run_variant(tmp_path, **changes)
    assert missing_pins(PINNED, run) == PINNED
    assert len(unpinned(PINNED, run)) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"suffix": "files", "volume_aliases": '[pulumi.Alias(name=f"{name}-data")]'},
        {"type": "Website", "component_aliases": '[pulumi.Alias(type_="selfhost:index:Site")]'},
        {"component": "site", "component_aliases": '[pulumi.Alias(name="blog")]'},
        {"volume_aliases": f'["{PINNED[0]}"]', "suffix": "files", "type": "Website"},
    ],
    ids=["volume-renamed", "component-type-renamed", "component-renamed", "full-urn-alias"],
)
def test_the_same_refactor_with_aliases_passes(tmp_path: Path, changes: dict[str, str]) -> None:
    run = run_variant(tmp_path, **changes)
    assert missing_pins(PINNED, run) == []
    assert unpinned(PINNED, run) == []
