"""Nextcloud moves one major version per deploy: refuse bigger jumps, and downgrades, at preview.

Where the deployed major comes from: the stack's own last outputs. Every deploy exports
``nextcloudVersions`` (``{app: major}``); the next run reads it back through a
``pulumi.StackReference`` to its own stack (``<org>/<project>/<stack>``; ``organization``
is the org of the file backend), which the engine resolves during ``preview`` as well.

Why this and not the alternatives:

- A label on the running container: pulumi-docker 5 has no container data source to read
  it back (only images, networks, plugins, logs).
- A config key the user keeps up to date: one forgotten edit and the check guards nothing.
- A dynamic-provider "guard" resource comparing old and new inputs in ``check``: it works,
  but Python dynamic providers are pickled into state with dill, which breaks on refactors
  of the module they live in (pulumi/pulumi#7453), for a rule that needs no provider.

A failed deploy does save outputs: the engine keeps the previous ones and overwrites each that
the program did register (pulumi/pulumi pkg/resource/deploy/step_executor.go,
``executeRegisterResourceOutputs``; "Don't delete stack outputs on failed deployments",
#15754, lifecycle test ``TestStackOutputsResourceError``). So the record must not be a constant:
each major is derived from its app container's output (the ``UpgradeGuard`` of
components/apps/nextcloud/spec.py, recorded by components/apps/app.py), which exists only
once the container was created and, with ``wait``, reported healthy. A failed container
rejects the value, and the Python SDK registers the stack's outputs in one call once all of
them resolve (pulumi/runtime/stack.py ``Stack._finish``, 3.272), so none is registered and the
previous record stands (under ``up --continue-on-error`` the value is unknown instead). The
recorded major is
thus never ahead of what runs healthy: the rule errs towards refusing, and the way out (deploy
the next major, as the message says) is always safe. When the stack has no record
(a new stack, or one recreated over retained volumes), the image's entrypoint is the
backstop: it refuses to start on a skipped major or a downgrade, and the deploy fails at
the app's healthcheck with that message in ``docker logs``.
"""

from __future__ import annotations

import pulumi

DEPLOYED_MAJORS_OUTPUT = "nextcloudVersions"


class UpgradeError(pulumi.RunError):
    """An image pin that the data on the volumes cannot follow; the CLI prints only the message."""


def nextcloud_upgrade_problem(deployed: int | None, pinned: int) -> str | None:
    """Why moving from the ``deployed`` major to the ``pinned`` one is refused, or None if allowed."""
    if deployed is None or pinned in (deployed, deployed + 1):
        return None
    if pinned < deployed:
        return (
            f"the stack last deployed Nextcloud {deployed} and the pin is {pinned}: Nextcloud cannot "
            "downgrade its data. Pin a tag of the deployed major again, or restore the backup taken "
            "before the upgrade together with its pin"
        )
    return (
        f"the stack last deployed Nextcloud {deployed} and the pin is {pinned}: Nextcloud upgrades one "
        f"major version at a time. Pin a {deployed + 1}.x tag, run `pulumi up`, then move on to the next major"
    )


def deployed_major(previous_outputs: object, app_name: str) -> int | None:
    """The major recorded for ``app_name`` by the last completed deploy (outputs come back as JSON numbers)."""
    if previous_outputs is None:
        return None
    if not isinstance(previous_outputs, dict):
        raise UpgradeError(f"stack output {DEPLOYED_MAJORS_OUTPUT} is not a map: {previous_outputs!r}")
    value = previous_outputs.get(app_name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise UpgradeError(f"stack output {DEPLOYED_MAJORS_OUTPUT}.{app_name} is not a major version: {value!r}")
    return int(value)


def check_nextcloud_upgrade(app_name: str, previous_outputs: object, pinned: int, image_ref: str) -> None:
    problem = nextcloud_upgrade_problem(deployed_major(previous_outputs, app_name), pinned)
    if problem is not None:
        raise UpgradeError(f"selfhost:apps.{app_name}: refusing {image_ref}: {problem}.")
