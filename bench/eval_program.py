"""Benchmark: wall time and peak memory of evaluating the program under mocks.

Runs the real __main__.py with 1, 2, 10 and 50 apps (cycling through the registry's kinds, each
app its kind's README example under its own host name; ``--kinds wordpress,nextcloud`` for the
figures of the stack before the other kinds), and an empty Pulumi program as the baseline, each
in a fresh interpreter, and prints the median of several runs.
Usage: .venv/bin/python bench/eval_program.py [--repeat 5] [--kinds k1,k2,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from tests.mockstack import run_program
apps = json.loads({apps!r})
config = {{"selfhost:apps": apps}} if apps else {{}}
run = run_program(config, program=__import__("pathlib").Path({program!r}), with_project_defaults=bool(apps))
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "resources": len(run.registrations)}}))
"""


def apps(count: int, kinds: list[str]) -> dict[str, dict[str, object]]:
    sys.path.insert(0, str(ROOT))
    from components.apps.registry import KINDS

    def app(i: int) -> dict[str, object]:
        return {**KINDS[kinds[i % len(kinds)]].example, "hostname": f"app{i}.localhost"}

    return {f"app{i}": app(i) for i in range(count)}


def measure(app_count: int, program: Path, kinds: list[str]) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), apps=json.dumps(apps(app_count, kinds)), program=str(program))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default="", help="comma-separated kinds to cycle through (default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from components.apps.registry import KINDS

    kinds = args.kinds.split(",") if args.kinds else list(KINDS)
    print(f"kinds, in turn: {', '.join(kinds)}")

    empty = ROOT / "bench" / "empty_program.py"
    rows = [("empty program", 0, empty)] + [(f"{n} app(s)", n, ROOT / "__main__.py") for n in (1, 2, 10, 50)]
    print(f"{'case':<15} {'resources':>9} {'seconds':>9} {'over empty':>10} {'per app':>9} {'peak MiB':>9}")
    baseline = 0.0
    for label, count, program in rows:
        runs = [measure(count, program, kinds) for _ in range(args.repeat)]
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        if count == 0:
            baseline = seconds
        over = seconds - baseline
        per_app = over / count if count else 0.0
        resources = int(runs[0]["resources"])
        print(f"{label:<15} {resources:>9} {seconds:>9.3f} {over:>10.3f} {per_app:>9.4f} {peak:>9.1f}")


if __name__ == "__main__":
    main()
