"""The URNs of every stateful resource per shipped stack file, and the pinned copy of them.

``python -m tests.stateful_urns`` rewrites tests/stateful_urns.json from the program as it
is now. Do that only for a new stateful resource or a new stack file, or to drop an alias
after every deployed stack has run `pulumi up` with it (docs/data-safety.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from policy import rules
from tests.engine_view import identities
from tests.mockstack import PROJECT_DIR, ProgramRun, run_stack_file

PINNED_FILE = Path(__file__).with_name("stateful_urns.json")


def shipped_stacks() -> list[str]:
    return sorted(path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml"))


SWARM_HOSTS = ("swarm", "local-swarm")


def container_stacks() -> list[str]:
    """The shipped stacks that run containers on one engine (not Swarm services: tests/test_swarm_graph.py)."""
    return [
        stack
        for stack in shipped_stacks()
        if (yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"].get("selfhost:host"))
        not in SWARM_HOSTS
    ]


def stateful(run: ProgramRun) -> dict[str, list[str]]:
    """Current engine URN of each stateful resource -> every URN it answers to (itself first)."""
    names = identities(run)
    return {names[r.urn][0]: names[r.urn] for r in run.registrations if r.type in rules.STATEFUL_TYPES}


def missing_pins(pinned: list[str], run: ProgramRun) -> list[str]:
    """Pinned URNs that no stateful resource answers to any more: `pulumi up` would replace them."""
    answered = {urn for names in stateful(run).values() for urn in names}
    return [urn for urn in pinned if urn not in answered]


def unpinned(pinned: list[str], run: ProgramRun) -> list[str]:
    """Stateful resources that answer to no pinned URN (new ones)."""
    return [urn for urn, names in stateful(run).items() if not set(names) & set(pinned)]


def read_pins() -> dict[str, list[str]]:
    document = json.loads(PINNED_FILE.read_text())
    return {stack: list(urns) for stack, urns in document["stacks"].items()}


def write_pins() -> None:
    document = {
        "about": "URNs of the stateful resources of each shipped stack file; see docs/data-safety.md. "
        "Regenerate with `python -m tests.stateful_urns` only for new resources or stacks.",
        "stacks": {stack: sorted(stateful(run_stack_file(stack))) for stack in shipped_stacks()},
    }
    PINNED_FILE.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    write_pins()
    print(f"wrote {PINNED_FILE}")
