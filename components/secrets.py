"""Generated passwords: made once by pulumi-random, kept in state, secret everywhere."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def generated_password(resource_name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """32 letters and digits: no character needs quoting in env files, PHP or URLs."""
    password = random.RandomPassword(
        resource_name,
        length=32,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(password.result)
