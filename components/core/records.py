"""What a deploy records in its own stack outputs and the next deploy reads back.

The next run reads them through a ``pulumi.StackReference`` to its own stack
(``<org>/<project>/<stack>``; ``organization`` is the org of the file backend), which the
engine resolves during ``preview`` as well. Used for the image digests (components/core/images.py)
and an app's upgrade record (``UpgradeGuard``, e.g. components/apps/nextcloud/upgrades.py).
"""

from __future__ import annotations

import pulumi


def own_stack_name() -> str:
    # The file backend's organization is literally "organization"; older runtimes may report none.
    organization = pulumi.get_organization() or "organization"
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def previous_record(resource_name: str, output: str, parent: pulumi.Resource | None = None) -> pulumi.Output[object]:
    """The stack output ``output`` as this very stack's saved outputs hold it (None before the first record)."""
    reference = pulumi.StackReference(
        resource_name, stack_name=own_stack_name(), opts=pulumi.ResourceOptions(parent=parent)
    )
    # get_output, not reference.outputs: that map is secret as a whole as soon as any output is
    # (here adminPasswords), and everything derived from it, an image name included, would
    # preview as [secret]. get_output takes the secretness of this one output from the
    # engine's secretOutputNames (pulumi/pulumi pkg/resource/deploy/builtins.go
    # readStackReference; sdk python pulumi/stack_reference.py, 3.272), and keeps it secret when
    # the engine sends no such list. A stack with no deploy yet has an empty outputs map (diy
    # backend, pkg/backend/diy/state.go getSnapshotStackOutputs): the value is then None.
    return reference.get_output(output)
