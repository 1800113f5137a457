"""Tier 2: no container of a shipped stack is replaced by accident (tests/container_inputs.py)."""

from __future__ import annotations

import pytest

from tests.container_inputs import digests, read_pins
from tests.mockstack import run_stack_file
from tests.stateful_urns import container_stacks


@pytest.mark.parametrize("stack", container_stacks())
def test_every_containers_inputs_are_the_pinned_ones(stack: str) -> None:
    pinned = read_pins().get(stack)
    assert pinned is not None, f"no pins for stack {stack}: run `python -m tests.container_inputs`"
    now = digests(run_stack_file(stack))
    replaced = sorted(name for name in now.keys() & pinned.keys() if now[name] != pinned[name])
    assert not replaced, (
        f"the next `pulumi up` of {stack} replaces {', '.join(replaced)}: their inputs changed. If that is "
        "deliberate, regenerate the pins with `python -m tests.container_inputs` and say why in the commit"
    )
    assert sorted(now) == sorted(pinned), "containers added or removed: regenerate the pins"


def test_the_digest_sees_a_change_in_an_uploaded_comment() -> None:
    run = run_stack_file("dev")
    before = digests(run)["selfhost-dev-cloud-app"]
    container = next(c for c in run.of_type("docker:index/container:Container") if c.name == "cloud-container")
    uploads = container.raw_inputs["uploads"]
    target = uploads["value"] if isinstance(uploads, dict) and "value" in uploads else uploads
    first = target[0]
    item = first["value"] if isinstance(first, dict) and "value" in first and "file" not in first else first
    item["content"] = str(item["content"]) + "\n# a comment"
    assert digests(run)["selfhost-dev-cloud-app"] != before
