"""Tier 2: the policy pack over every resource the real program registers, per shipped stack file.

Each policy runs twice: as its plain rule on ``policy.rules.Resource`` values, and through
pulumi-policy's own policy objects and argument classes (props behind pulumi-policy's
unknown-checking proxies, as the analyzer hands them over). Mutated graphs must fail.
What this does not prove: that the CLI loads the pack (tests/test_policy_analyzer.py
talks to the pack's analyzer server; no test here runs `pulumi preview`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy import pack, rules
from policy.rules import Resource
from tests import tls_material
from tests.engine_view import policy_resources
from tests.mockstack import ProgramRun, run_program, run_stack_file, stack_file_config
from tests.stateful_urns import container_stacks

STACK_FILES = container_stacks()
_RUNS: dict[str, ProgramRun] = {}


def stack_run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_stack_file(stack)
    return _RUNS[stack]


def production(stack: str) -> bool:
    return rules.is_production(stack, rules.DEFAULT_PRODUCTION_STACKS, {})


def rule_messages(resources: list[Resource], stack: str) -> list[str]:
    """Every rule's complaints about a graph."""
    messages: list[str] = []
    for resource in resources:
        messages += rules.only_proxy_publishes_ports(resource)
        messages += rules.images_pinned(resource)
        messages += rules.no_plaintext_secrets(resource)
        messages += rules.stateful_resources_kept(resource, production(stack))
        messages += rules.ssh_closed_to_world(resource)
    messages += [violation.message for violation in rules.backing_services_isolated(resources)]
    messages += [violation.message for violation in rules.servers_behind_firewall(resources)]
    return messages


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def pack_reports(resources: list[Resource], config: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(policy name, message) for every violation pulumi-policy's objects report on a graph."""
    reports: list[tuple[str, str]] = []
    for policy in pack.POLICIES:

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            reports.append((name, message))

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.type,
                    unknown_checking_proxy(dict(resource.props)),
                    resource.urn,
                    resource.name,
                    _options(resource),
                    None,
                    config,
                )
                policy.validate(args, report)
        elif isinstance(policy, StackValidationPolicy):
            by_urn = {
                r.urn: PolicyResource(
                    r.type, unknown_checking_proxy(dict(r.props)), r.urn, r.name, _options(r), None, None, [], {}
                )
                for r in resources
            }
            for r in resources:
                by_urn[r.urn].property_dependencies = {
                    key: [by_urn[urn] for urn in urns if urn in by_urn] for key, urns in r.property_dependencies.items()
                }
            policy.validate(StackValidationArgs(list(by_urn.values()), config), report)
    return reports


# --- the shipped stacks pass ------------------------------------------------------------------


def test_stack_files_found() -> None:
    assert "dev" in STACK_FILES


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_rule_passes_on_the_shipped_stack(stack: str) -> None:
    resources = policy_resources(stack_run(stack))
    assert len(resources) > 20
    assert rule_messages(resources, stack) == []


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_policy_of_the_pack_passes_on_the_shipped_stack(stack: str) -> None:
    assert pack_reports(policy_resources(stack_run(stack))) == []


VARIANTS: dict[str, dict[str, Any]] = {
    "letsencrypt": {
        "selfhost:tls": "letsencrypt",
        "selfhost:acmeEmail": "ops@example.com",
        "selfhost:httpPort": 80,
        "selfhost:apps": {
            "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
            "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
        },
    },
    "provided": {
        "selfhost:tls": "provided",
        "selfhost:tlsCertificate": tls_material.pair().certificate,
        "selfhost:tlsKey": tls_material.pair().key,
    },
    "nextcloud-on-mariadb": {
        "selfhost:apps": {"cloud": {"kind": "nextcloud", "hostname": "cloud.localhost", "database": "mariadb"}}
    },
    "protected": {"selfhost:protect": True},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_policy_passes_on_dev_variants(variant: str) -> None:
    values, secret_keys = stack_file_config("dev")
    secrets = {key for key in VARIANTS[variant] if key.startswith("selfhost:tls") and key != "selfhost:tls"}
    run = run_program({**values, **VARIANTS[variant]}, stack="dev", secret_keys={*secret_keys, *secrets})
    resources = policy_resources(run)
    assert rule_messages(resources, "dev") == []
    assert pack_reports(resources) == []


@pytest.mark.parametrize("stack", STACK_FILES)
def test_the_rules_see_the_proxy_and_every_backing_service(stack: str) -> None:
    """Guards against rules that pass because they recognise nothing."""
    containers = [r for r in policy_resources(stack_run(stack)) if r.type == rules.CONTAINER]
    publishing = [c for c in containers if c.props.get("ports")]
    assert [rules.role(c) for c in publishing] == ["proxy"]
    roles = [rules.role(c) for c in containers]
    assert roles.count("database") >= 1 and roles.count("cache") >= 1


def test_pack_has_every_policy_once_and_all_mandatory() -> None:
    names = [policy.name for policy in pack.POLICIES]
    assert sorted(names) == sorted(
        [
            "only-proxy-publishes-ports",
            "backing-services-isolated",
            "images-pinned",
            "stateful-resources-kept",
            "no-plaintext-secrets",
            "ssh-closed-to-world",
            "servers-behind-firewall",
        ]
    )
    assert pack.ENFORCEMENT.value == "mandatory"
    assert all(policy.enforcement_level is None for policy in pack.POLICIES), "a policy overrides the pack's level"


# --- production ------------------------------------------------------------------------------


def dev_config_as(stack: str, **overrides: Any) -> ProgramRun:
    values, secret_keys = stack_file_config("dev")
    return run_program({**values, **overrides}, stack=stack, secret_keys=secret_keys)


def test_a_production_stack_must_protect_its_volumes() -> None:
    unprotected = policy_resources(dev_config_as("prod"))
    volumes = [r for r in unprotected if r.type == rules.VOLUME]
    reports = pack_reports(unprotected)
    assert sorted(reports) == sorted(
        (
            "stateful-resources-kept",
            f"Volume {v.name} is not protected in production stack 'prod': set `pulumi config set protect true` "
            "so no update or destroy can delete it",
        )
        for v in volumes
    )
    assert pack_reports(policy_resources(dev_config_as("prod", **{"selfhost:protect": True}))) == []


def test_production_stacks_come_from_policy_config() -> None:
    staging = policy_resources(dev_config_as("staging"))
    assert pack_reports(staging) == []
    reports = pack_reports(staging, config={"productionStacks": ["staging"]})
    assert {name for name, _ in reports} == {"stateful-resources-kept"}
    assert len(reports) == len([r for r in staging if r.type == rules.VOLUME])


# --- mutated graphs fail ---------------------------------------------------------------------


def mutated(resources: list[Resource], name: str, change: Callable[[dict[str, Any]], None]) -> list[Resource]:
    """The graph with one resource's props changed in place of a copy."""
    matches = [r for r in resources if r.name == name]
    assert len(matches) == 1, name
    props = copy.deepcopy(dict(matches[0].props))
    change(props)
    return [replace(r, props=props) if r is matches[0] else r for r in resources]


def _join_edge(props: dict[str, Any]) -> None:
    props["networksAdvanced"].append({"name": "selfhost-dev-edge", "aliases": []})


def _publish(props: dict[str, Any]) -> None:
    props["ports"] = [{"internal": 3306, "external": 3306}]


def _float_tag(props: dict[str, Any]) -> None:
    props["name"] = "nginx:latest"


def _password_env(props: dict[str, Any]) -> None:
    props["envs"].append("WORDPRESS_DB_PASSWORD=hunter2")


def _unlabel(props: dict[str, Any]) -> None:
    props["labels"] = []


def _image_by_name(props: dict[str, Any]) -> None:
    props["image"] = "redis:8.2"


EDGE_PROBLEMS = ("shares network selfhost-dev-edge with the proxy proxy-container", "which is not internal")

MUTATIONS: list[tuple[str, str, Callable[[dict[str, Any]], None], str, str | tuple[str, ...]]] = [
    ("database-joins-the-edge", "blog-db-container", _join_edge, "backing-services-isolated", EDGE_PROBLEMS),
    ("cache-joins-the-edge", "cloud-redis-container", _join_edge, "backing-services-isolated", EDGE_PROBLEMS),
    ("database-publishes-a-port", "cloud-db-container", _publish, "only-proxy-publishes-ports", "publishes ports"),
    ("app-publishes-a-port", "blog-container", _publish, "only-proxy-publishes-ports", "publishes ports"),
    ("image-on-latest", "blog-image", _float_tag, "images-pinned", "'nginx:latest' is not pinned"),
    ("container-image-by-name", "cloud-redis-container", _image_by_name, "images-pinned", "by name"),
    ("password-in-env", "blog-container", _password_env, "no-plaintext-secrets", "sets WORDPRESS_DB_PASSWORD"),
    ("volume-outside-data-volume", "cloud-data", _unlabel, "stateful-resources-kept", "not made by"),
]


@pytest.mark.parametrize(
    ("resource_name", "change", "policy", "expected"),
    [mutation[1:] for mutation in MUTATIONS],
    ids=[mutation[0] for mutation in MUTATIONS],
)
def test_mutated_dev_graph_fails(
    resource_name: str, change: Callable[[dict[str, Any]], None], policy: str, expected: str | tuple[str, ...]
) -> None:
    resources = mutated(policy_resources(stack_run("dev")), resource_name, change)
    reports = pack_reports(resources)
    fragments = (expected,) if isinstance(expected, str) else expected
    assert [name for name, _ in reports] == [policy] * len(fragments), reports
    for fragment, (_, message) in zip(fragments, reports, strict=True):
        assert fragment in message
    assert rule_messages(resources, "dev") == [message for _, message in reports]


# --- the Hetzner host of the prod stack ------------------------------------------------------


def _world_ssh(props: dict[str, Any]) -> None:
    ssh = next(rule for rule in props["rules"] if rule.get("port") == "22")
    ssh["sourceIps"].append("0.0.0.0/0")


def _no_firewall(props: dict[str, Any]) -> None:
    del props["firewallIds"]


def _auto_delete(props: dict[str, Any]) -> None:
    props["autoDelete"] = True


PROD_MUTATIONS: list[tuple[str, str, Callable[[dict[str, Any]], None], str, str]] = [
    ("ssh-open-to-the-world", "host-firewall", _world_ssh, "ssh-closed-to-world", "opens SSH (port 22) to 0.0.0.0/0"),
    ("server-without-firewall", "host-server", _no_firewall, "servers-behind-firewall", "has no firewall"),
    ("ip-deleted-with-server", "host-ipv4", _auto_delete, "stateful-resources-kept", "has auto_delete"),
]


@pytest.mark.parametrize(
    ("resource_name", "change", "policy", "expected"),
    [mutation[1:] for mutation in PROD_MUTATIONS],
    ids=[mutation[0] for mutation in PROD_MUTATIONS],
)
def test_mutated_prod_graph_fails(
    resource_name: str, change: Callable[[dict[str, Any]], None], policy: str, expected: str
) -> None:
    resources = mutated(policy_resources(stack_run("prod")), resource_name, change)
    [(name, message)] = pack_reports(resources)
    assert name == policy and expected in message
    assert rule_messages(resources, "prod") == [message]


@pytest.mark.parametrize("resource_name", ["host-data", "host-ipv4", "blog-db-data", "proxy-acme-state"])
def test_unprotected_state_fails_in_prod(resource_name: str) -> None:
    resources = [
        replace(r, protect=False) if r.name == resource_name else r for r in policy_resources(stack_run("prod"))
    ]
    [(name, message)] = pack_reports(resources)
    assert name == "stateful-resources-kept"
    assert f"{resource_name} is not protected in production stack 'prod'" in message
