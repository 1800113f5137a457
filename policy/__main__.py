"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`.

The CLI runs this directory as a program; the rules live in the ``policy`` package, so
the directory's parent (the repository) goes on the import path first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=ENFORCEMENT)
