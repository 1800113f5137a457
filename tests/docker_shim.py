"""``docker`` for tests/test_backup_docs.py: docs/backups.md's commands, mapped onto tests/backupboxes.py.

The test puts a ``docker`` wrapper first on PATH that runs this module; ``SELFHOST_DOCKER_SHIM``
names the JSON written by ``BackupStack.describe`` (containers with their binds, user and
environment; volumes as directories). Only what the docs use is understood, and anything else
fails loudly, so a command the docs gain must be taught here first:

- ``docker exec [-i] NAME ARGV...``: ARGV in that container's box (stdin and stdout pass through);
- ``docker run --rm [-i] --entrypoint E -v VOLUME:PATH[:ro]... IMAGE ARGS...``: a box on the
  restic image (busybox, as the Alpine image has it) with those volumes; the image must be the
  scheduler's (``docker inspect --format '{{.Image}}' NAME``);
- ``docker stop|start NAME...``: the app containers, which these tests do not run: recorded in
  ``events`` (one line per call) so the test can check the order.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.backupboxes import Bind, Box, Network

IMAGE_ID = "sha256:selfhost-test-restic-image"


class _JoinedNetwork(Network):
    """The test's network namespace, joined by its holder's pid (not started again)."""

    def __init__(self, pid: int) -> None:
        self.process = _Pid(pid)  # type: ignore[assignment]


class _Pid:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def fail(message: str) -> None:
    print(f"docker (test shim): {message}", file=sys.stderr)
    raise SystemExit(125)


def box(stack: dict[str, Any], binds: dict[str, tuple[str, bool]], **options: Any) -> Box:
    def source(name: str) -> Path:
        if name.startswith("/"):
            return Path(name)
        if name not in stack["volumes"]:
            fail(f"no such volume: {name}")
        return Path(stack["volumes"][name])

    return Box(
        Path(stack["root"]),
        _JoinedNetwork(stack["network_pid"]),
        Path(stack["scratch"]),
        {inside: Bind(source(src), ro) for inside, (src, ro) in binds.items()},
        hosts=stack["hosts"],
        **options,
    )


def container(stack: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in stack["containers"]:
        fail(f"no such container: {name}")
    found: dict[str, Any] = stack["containers"][name]
    return found


def docker_exec(stack: dict[str, Any], args: list[str]) -> None:
    while args and args[0].startswith("-"):
        if args[0] != "-i":
            fail(f"exec: unsupported option {args[0]}")
        args = args[1:]
    name, argv = args[0], args[1:]
    spec = container(stack, name)
    target = box(stack, spec["binds"], user=spec["user"], env=spec["env"], busybox=spec["busybox"])
    command = target.command(argv)
    os.execv(command[0], command)


def docker_run(stack: dict[str, Any], args: list[str]) -> None:
    binds: dict[str, tuple[str, bool]] = {}
    entrypoint: list[str] = []
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("--rm", "-i"):
            continue
        if option == "--entrypoint":
            entrypoint = [args.pop(0)]
        elif option == "-v":
            volume, path, *mode = args.pop(0).split(":")
            binds[path] = (volume, mode == ["ro"])
        else:
            fail(f"run: unsupported option {option}")
    image, argv = args[0], args[1:]
    if image != IMAGE_ID:
        fail(f"run: unknown image {image} (only the scheduler's image is here)")
    if "--rm" not in sys.argv:
        fail("run: the docs' one-off containers are --rm")
    command = box(stack, binds, busybox=True).command([*entrypoint, *argv])
    os.execv(command[0], command)


def main(argv: list[str]) -> None:
    stack = json.loads(Path(os.environ["SELFHOST_DOCKER_SHIM"]).read_text())
    if not argv:
        fail("no command")
    command, args = argv[0], argv[1:]
    if command == "exec":
        docker_exec(stack, args)
    elif command == "run":
        docker_run(stack, args)
    elif command == "inspect" and args[:2] == ["--format", "{{.Image}}"] and len(args) == 3:
        container(stack, args[2])
        print(IMAGE_ID)
    elif command in ("stop", "start") and args:
        with open(stack["events"], "a") as events:
            for name in args:
                events.write(f"{command} {name}\n")
                print(name)
    else:
        fail(f"unsupported: docker {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
