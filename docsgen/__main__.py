"""``python -m docsgen --write`` rewrites every generated file; ``--check`` prints what drifted and exits 1."""

from __future__ import annotations

import argparse
import sys
import time

from docsgen.targets import ROOT, drift, render_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docsgen", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1, with a unified diff, if any file differs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rendered = render_all()
    drifted = 0
    for item in rendered:
        if item.text is None:
            print(item.skipped, file=sys.stderr)
            continue
        diff = drift(item)
        if not diff:
            continue
        if args.write:
            (ROOT / item.path).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / item.path).write_text(item.text)
            print(f"wrote {item.path}")
        else:
            drifted += 1
            sys.stdout.write(diff)
    elapsed = time.perf_counter() - started
    if drifted:
        print(f"{drifted} generated file(s) differ from the code: run `python -m docsgen --write`", file=sys.stderr)
        return 1
    print(f"generated files {'written' if args.write else 'up to date'} ({elapsed:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
