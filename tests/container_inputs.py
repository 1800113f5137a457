"""A digest of every container's inputs per shipped stack file, and the pinned copy of them.

Nearly every container input is ForceNew (components/core/container.py, CONTAINER_INPUTS): a change
to any of them, a comment in an uploaded script included, replaces the container on the next
``up`` — downtime for Nextcloud, a restart for the others. tests/test_container_pins.py fails when
a container's inputs differ from the pins, naming the containers that would be replaced, so a
replacement is always a reviewed decision. ``python -m tests.container_inputs`` rewrites the pins
once the change is deliberate (say in the commit which containers it replaces and why).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.mockstack import ProgramRun, run_stack_file, service_name, unwrap
from tests.stateful_urns import shipped_stacks

PINNED_FILE = Path(__file__).with_name("container_inputs.json")
CONTAINER = "docker:index/container:Container"


def digests(run: ProgramRun) -> dict[str, str]:
    """Service name (the container's name without a create-first generation) -> sha256 of its inputs, as the
    engine would compare them (secrets unwrapped: the mocks' passwords are deterministic; the generation in
    a name is part of the inputs)."""
    found: dict[str, str] = {}
    for container in run.of_type(CONTAINER):
        inputs: Any = unwrap(container.raw_inputs)
        text = json.dumps(inputs, sort_keys=True, default=str)
        found[service_name(container)] = hashlib.sha256(text.encode()).hexdigest()
    return dict(sorted(found.items()))


def read_pins() -> dict[str, dict[str, str]]:
    document = json.loads(PINNED_FILE.read_text())
    return {stack: dict(pins) for stack, pins in document["stacks"].items()}


def write_pins() -> None:
    document = {
        "about": "sha256 of every container's inputs per shipped stack file; see tests/container_inputs.py. "
        "Regenerate with `python -m tests.container_inputs` only for a deliberate change.",
        "stacks": {stack: digests(run_stack_file(stack)) for stack in shipped_stacks()},
    }
    PINNED_FILE.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    from components.hosts.hetzner import ssh_agent

    # The prod stack checks the operator's ssh-agent; the pins need no agent.
    ssh_agent.agent_problem = lambda public_keys, environ: None
    write_pins()
    print(f"wrote {PINNED_FILE}")
