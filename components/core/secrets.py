"""Generated passwords: made once by pulumi-random, kept in state, secret everywhere."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def generated_password(resource_name: str, parent: pulumi.Resource, protect: bool = False) -> pulumi.Output[str]:
    """32 letters and digits: no character needs quoting in env files, PHP or URLs.

    ``protect`` is for passwords that data on a volume depends on (a database's users, an
    app's admin): protected with the volumes, they stay in the state through
    ``pulumi destroy --exclude-protected``, so the next ``up`` reuses them and the retained
    databases still accept them.
    """
    password = random.RandomPassword(
        resource_name,
        length=32,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"], protect=protect),
    )
    return pulumi.Output.secret(password.result)
