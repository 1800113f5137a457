"""Tier 2: a network change (``edgeSubnet``, or any other network input) can be rolled out.

Every docker_network input forces replacement. The program answers with delete-before-replace
(components/core/network.py), which works only if the engine finds every attached container as a
dependent to delete first, and nothing stateful among the dependents. Pulumi's rule
(pulumi/pulumi ``pkg/resource/deploy/step_generator.go``, ``calculateDependentReplacements``):
a resource whose *property dependencies* include a replaced resource is diffed with those
inputs unknown; containers take the network name into ``networks_advanced`` (ForceNew), so
they are replaced, and so on transitively. This replays that rule on the registered graph.
Not proven here: the engine's own run (no Pulumi CLI); tests/test_networks_live.py shows the
Docker engine's side.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.apps.spec import AppSpec
from config.loading import settings_from_config
from policy import rules
from stack import app_specs
from tests.mockstack import ProgramRun, Registration, run_stack_file, stack_file_config
from tests.stateful_urns import container_stacks

SHIPPED_STACKS = container_stacks()

NETWORK = "docker:index/network:Network"
CONTAINER = "docker:index/container:Container"
PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_ID = "random:index/randomId:RandomId"
REPLACED_WITH_A_DEPENDENCY = frozenset({CONTAINER, RANDOM_ID})
"""Types the replay lets a replaced dependency take along: a container's inputs are ForceNew, and a
create-first container's generation (a RandomId keyed on its inputs, no state) is renewed with it."""

_RUNS: dict[tuple[str, str], ProgramRun] = {}


def stack(name: str, edge_subnet: str | None = None) -> ProgramRun:
    key = (name, edge_subnet or "")
    if key not in _RUNS:
        _RUNS[key] = run_stack_file(name, {"selfhost:edgeSubnet": edge_subnet} if edge_subnet else None)
    return _RUNS[key]


def dependents_replaced_with(run: ProgramRun, root: Registration) -> list[Registration]:
    """What Pulumi deletes before a delete-before-replace of ``root``, by its rule (see the module docstring)."""
    replaced = {root.urn}
    order: list[Registration] = []
    changed = True
    while changed:
        changed = False
        for registration in run.registrations:
            if not registration.custom or registration.urn in replaced:
                continue
            if any(urn in replaced for urns in registration.property_dependencies.values() for urn in urns):
                replaced.add(registration.urn)
                order.append(registration)
                changed = True
    return order


def attached(run: ProgramRun, network: Registration) -> set[str]:
    """Containers whose networks_advanced name this network, read from their inputs, not their dependencies."""
    name = network.inputs["name"]
    return {
        container.name
        for container in run.of_type(CONTAINER)
        if any(attachment["name"] == name for attachment in container.inputs.get("networksAdvanced", []))
    }


def specs_of(stack_name: str) -> dict[str, AppSpec]:
    values, secret_keys = stack_file_config(stack_name)
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    return app_specs(settings_from_config(config, frozenset(secret_keys)))


@pytest.mark.parametrize("stack_name", SHIPPED_STACKS)
def test_every_network_is_replaced_delete_first(stack_name: str) -> None:
    networks = stack(stack_name).of_type(NETWORK)
    # The edge, a backend for each app with backing services (a static site or a container has none), and
    # the backup scheduler's own network (every shipped stack has backups).
    with_backing = [name for name, spec in specs_of(stack_name).items() if spec.backing]
    assert len(networks) == 1 + len(with_backing) + 1
    for network in networks:
        assert network.delete_before_replace, network.name


@pytest.mark.parametrize("stack_name", SHIPPED_STACKS)
def test_replacing_a_network_takes_exactly_its_containers_and_nothing_stateful(stack_name: str) -> None:
    run = stack(stack_name)
    for network in run.of_type(NETWORK):
        dependents = dependents_replaced_with(run, network)
        types = {dependent.type for dependent in dependents}
        assert types <= REPLACED_WITH_A_DEPENDENCY, (network.name, types)
        assert not types & (rules.STATEFUL_TYPES | {PASSWORD})
        # Every container on the network is found by the engine: none is attached by a literal name
        # (it would stay attached, and the network's delete would fail mid-deploy).
        containers = {dependent.name for dependent in dependents if dependent.type == CONTAINER}
        assert containers == attached(run, network), network.name
        generations = {dependent.name for dependent in dependents if dependent.type == RANDOM_ID}
        assert generations <= {f"{name}-generation" for name in containers}, network.name


def test_the_edge_network_takes_the_proxy_and_the_apps() -> None:
    run = stack("dev")
    edge = run.named("edge-network")
    assert {d.name for d in dependents_replaced_with(run, edge) if d.type == CONTAINER} == {
        "proxy-container",
        "blog-container",
        "blog-cron",
        "cloud-container",
        "cloud-cron",
    }
    backend = run.named("cloud-backend-network")
    assert {d.name for d in dependents_replaced_with(run, backend) if d.type == CONTAINER} == {
        "cloud-db-container",
        "cloud-redis-container",
        "cloud-container",
        "cloud-cron",
        # The backups' helpers on the app's network: its database's dumper and the maintenance-mode switch.
        "backups-cloud-db-dump",
        "backups-cloud-quiesce",
    }
    scheduler_network = run.named("backups-network-network")
    assert {d.name for d in dependents_replaced_with(run, scheduler_network)} == {"backups-scheduler"}


def _by_name(run: ProgramRun, types: frozenset[str]) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in run.registrations if r.type in types}


@pytest.mark.parametrize("stack_name", SHIPPED_STACKS)
def test_a_new_edge_subnet_changes_the_network_and_trusted_proxies_only(stack_name: str) -> None:
    before, after = stack(stack_name), stack(stack_name, "10.77.0.0/23")
    assert after.named("edge-network").inputs["ipamConfigs"] == [{"subnet": "10.77.0.0/23"}]
    # Volumes and passwords are registered with the very same inputs: nothing to replace.
    kept = rules.STATEFUL_TYPES | {PASSWORD}
    assert _by_name(after, kept) == _by_name(before, kept)
    # Nextcloud trusts the proxy's new addresses: the env and the hook that writes config.php each start.
    cloud = after.named("cloud-container").inputs
    assert "TRUSTED_PROXIES=10.77.0.0/23" in cloud["envs"]
    hooks = [upload["content"] for upload in cloud["uploads"] if "before-starting" in upload["file"]]
    assert hooks and all("10.77.0.0/23" in hook and "172.30.0.0/24" not in hook for hook in hooks)
