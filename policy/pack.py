"""The rules of ``policy.rules`` as pulumi-policy policies, every one mandatory.

Kept apart from ``__main__.py`` (which starts the analyzer server and never returns) so
tests can call each policy's ``validate`` with the argument objects pulumi-policy builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import rules

PACK_NAME = "selfhost-guard-rails"


def resource_of(args: ResourceValidationArgs) -> rules.Resource:
    return rules.Resource(type=args.resource_type, urn=args.urn, props=args.props, protect=bool(args.opts.protect))


def stack_resource_of(resource: PolicyResource) -> rules.Resource:
    return rules.Resource(
        type=resource.resource_type,
        urn=resource.urn,
        props=resource.props,
        protect=bool(resource.opts.protect),
        property_dependencies={key: [dep.urn for dep in deps] for key, deps in resource.property_dependencies.items()},
    )


def production(stack: str, config: Mapping[str, Any], stack_tags: Mapping[str, str]) -> bool:
    listed = config.get("productionStacks", rules.DEFAULT_PRODUCTION_STACKS)
    return rules.is_production(stack, [str(name) for name in listed], stack_tags)


def _resource_policy(
    name: str, description: str, check: Callable[[rules.Resource], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(resource_of(args)):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _validate_stateful(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    resource = resource_of(args)
    in_production = production(resource.stack, args.get_config(), args.stack_tags)
    for message in rules.stateful_resources_kept(resource, in_production):
        report_violation(message, None)


def _validate_firewalled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for violation in rules.servers_behind_firewall(stack_resource_of(r) for r in args.resources):
        report_violation(violation.message, violation.urn)


def _validate_isolation(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for violation in rules.backing_services_isolated(stack_resource_of(r) for r in args.resources):
        report_violation(violation.message, violation.urn)


POLICIES: list[Policy] = [
    _resource_policy(
        "only-proxy-publishes-ports",
        "Only the nginx proxy publishes ports on the host; no container uses the host's network.",
        rules.only_proxy_publishes_ports,
    ),
    StackValidationPolicy(
        name="backing-services-isolated",
        description="Databases and caches join only internal networks of the stack, none shared with the proxy.",
        validate=_validate_isolation,
    ),
    _resource_policy(
        "images-pinned",
        "Containers run an image id; pulled images name a version tag, never latest.",
        rules.images_pinned,
    ),
    ResourceValidationPolicy(
        name="stateful-resources-kept",
        description=(
            "Docker volumes come from data_volume (retained on delete); "
            "in production stacks every stateful resource is protected."
        ),
        validate=_validate_stateful,
        config_schema=PolicyConfigSchema(
            properties={
                "productionStacks": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": list(rules.DEFAULT_PRODUCTION_STACKS),
                    "description": "stack names treated as production (the stack tag environment=production also is)",
                }
            }
        ),
    ),
    _resource_policy(
        "no-plaintext-secrets",
        "Password-like environment variables are *_FILE paths to secret files; no secret on a command line.",
        rules.no_plaintext_secrets,
    ),
    _resource_policy(
        "ssh-closed-to-world",
        "The Hetzner firewall never opens SSH (port 22) to 0.0.0.0/0 or ::/0.",
        rules.ssh_closed_to_world,
    ),
    StackValidationPolicy(
        name="servers-behind-firewall",
        description="Every Hetzner server sits behind a Hetzner Cloud Firewall.",
        validate=_validate_firewalled,
    ),
]

ENFORCEMENT = EnforcementLevel.MANDATORY
