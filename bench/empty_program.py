"""The baseline for bench/eval_program.py: a Pulumi program that registers nothing."""

import pulumi

pulumi.export("nothing", None)
