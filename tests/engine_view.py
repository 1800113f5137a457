"""A mock-captured graph as the real engine and a policy pack would see it.

Pulumi's MockMonitor builds a URN from the immediate parent's type only
(``selfhost:index:Database$docker:index/volume:Volume``) and puts ``pulumi:pulumi:Stack`` in
front of top-level resources. The engine chains every ancestor's type and leaves the stack
out: ``selfhost:index:WordPress$selfhost:index:Database$docker:index/volume:Volume``. Tests
that pin URNs or read roles from them use the engine's form, computed here.
"""

from __future__ import annotations

from policy import rules
from tests.mockstack import PROJECT, ProgramRun, Registration, unwrap

STACK_TYPE = "pulumi:pulumi:Stack"


def _type_chain(registration: Registration, by_urn: dict[str, Registration], cache: dict[str, str]) -> str:
    if registration.urn in cache:
        return cache[registration.urn]
    parent = by_urn.get(registration.parent)
    chain = registration.type if parent is None else f"{_type_chain(parent, by_urn, cache)}${registration.type}"
    cache[registration.urn] = chain
    return chain


def engine_urn(stack: str, type_chain: str, name: str, project: str = PROJECT) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_chain}::{name}"


def stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def engine_urns(run: ProgramRun) -> dict[str, str]:
    """Mock URN -> the URN the engine gives the same resource."""
    by_urn = {r.urn: r for r in run.registrations}
    cache: dict[str, str] = {}
    return {r.urn: engine_urn(stack_of(r.urn), _type_chain(r, by_urn, cache), r.name) for r in run.registrations}


def _split(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, type chain, name) of an engine-form URN."""
    head, project, chain, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, chain, name


def identities(run: ProgramRun) -> dict[str, list[str]]:
    """Mock URN -> the engine-form URNs the resource answers to: its own first, then its aliases'.

    Followed as the SDK and engine do: alias specs (a missing name, type, stack, project or
    parent means the resource's own), plain URN aliases, and aliases inherited from a
    parent's aliases (a child named ``<parent>-x`` follows its parent's old name).
    """
    by_urn = {r.urn: r for r in run.registrations}
    chains: dict[str, str] = {}
    known: dict[str, list[str]] = {}

    def parent_prefix(urn: str) -> str:
        parent = by_urn.get(urn)
        if parent is not None:
            return _type_chain(parent, by_urn, chains) + "$"
        chain = urn.split("::", 3)[2] if urn.count("::") >= 3 else ""
        return "" if chain in ("", STACK_TYPE) or chain.endswith("$" + STACK_TYPE) else chain + "$"

    def of(registration: Registration) -> list[str]:
        if registration.urn in known:
            return known[registration.urn]
        stack = stack_of(registration.urn)
        parent = by_urn.get(registration.parent)
        found = [engine_urn(stack, _type_chain(registration, by_urn, chains), registration.name)]
        if parent is not None:
            for old_parent in of(parent)[1:]:
                old_stack, old_project, old_chain, old_name = _split(old_parent)
                name = registration.name
                if name.startswith(parent.name):
                    name = old_name + name[len(parent.name) :]
                found.append(engine_urn(old_stack, f"{old_chain}${registration.type}", name, old_project))
        for alias in registration.aliases:
            if alias.WhichOneof("alias") == "urn":
                found.append(alias.urn)
                continue
            spec = alias.spec
            if spec.noParent:
                prefix = ""
            elif spec.parentUrn:
                prefix = parent_prefix(spec.parentUrn)
            else:
                prefix = parent_prefix(registration.parent)
            found.append(
                engine_urn(
                    spec.stack or stack,
                    prefix + (spec.type or registration.type),
                    spec.name or registration.name,
                    spec.project or PROJECT,
                )
            )
        known[registration.urn] = list(dict.fromkeys(found))
        return known[registration.urn]

    return {registration.urn: of(registration) for registration in run.registrations}


def policy_resources(run: ProgramRun) -> list[rules.Resource]:
    """Every registered resource as the policy pack sees it: engine URNs, plain inputs, options."""
    urns = engine_urns(run)
    return [
        rules.Resource(
            type=r.type,
            urn=urns[r.urn],
            props=unwrap(r.raw_inputs),
            protect=r.protect,
            property_dependencies={
                key: [urns.get(dep, dep) for dep in deps] for key, deps in r.property_dependencies.items()
            },
        )
        for r in run.registrations
        if r.type != STACK_TYPE
    ]
