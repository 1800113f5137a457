"""selfhost: WordPress and Nextcloud behind nginx, on a local Docker host or a Hetzner VPS."""

import pulumi

from config.loading import load_settings
from stack import build_stack

settings = load_settings()
outputs = build_stack(settings, name_prefix=f"{pulumi.get_project()}-{pulumi.get_stack()}")
for key, value in outputs.items():
    pulumi.export(key, value)
