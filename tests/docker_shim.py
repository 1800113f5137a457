"""``docker`` for tests/test_backup_docs.py: docs/backups.md's commands, mapped onto tests/backupboxes.py.

The test puts a ``docker`` wrapper first on PATH that runs this module; ``SELFHOST_DOCKER_SHIM``
names the JSON written by ``BackupStack.describe`` (containers with their binds, user and
environment; volumes as directories) and, under ``dev_stack``, what the dev stack registers (every
container's name with its ``io.selfhost.service`` label, every volume's name: tests/mockstack.py
``run_stack_file("dev")``). A container or volume the dev stack does not register is refused
(``no such container``), as Docker would refuse it on that stack: a stale name in the docs (a
create-first container's stable name, which is only its label) fails the test. Only what the docs
use is understood, and anything else fails loudly, so a command the docs gain must be taught here first:

- ``docker ps -q[a] -f label=io.selfhost.service=NAME`` (also ``-qf``, ``-aqf``): the ids of that
  service's containers (running ones, or all with ``-a``); a label no container has is refused;
- ``docker exec [-i] CONTAINER ARGV...``: ARGV in that container's box (stdin and stdout pass
  through), refused when the docs stopped that container; recorded in ``events`` (``exec NAME``);
- ``docker run --rm [-i] --entrypoint E -v VOLUME:PATH[:ro]... IMAGE ARGS...``: a box on the
  restic image (busybox, as the Alpine image has it) with those volumes; the image must be the
  scheduler's (``docker inspect --format '{{.Image}}' CONTAINER``);
- ``docker stop|start|restart CONTAINER...``: the app's containers, which these tests do not run:
  recorded in ``events`` by the container's name (one line per container) so the test can check
  the order.

CONTAINER is a name or an id ``ps`` printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from tests.backupboxes import Bind, Box, Network

IMAGE_ID = "sha256:selfhost-test-restic-image"


class _JoinedNetwork(Network):
    """The test's network namespace, joined by its holder's pid (not started again)."""

    def __init__(self, pid: int) -> None:
        self.process = _Pid(pid)  # type: ignore[assignment]


class _Pid:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def fail(message: str) -> NoReturn:
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


def container_id(name: str) -> str:
    """A stable fake id (12 hex, as ``docker ps -q`` prints them)."""
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def registered(stack: dict[str, Any], reference: str) -> str:
    """The dev stack's container that REFERENCE (a name or an id) names; anything else is refused."""
    names: dict[str, str] = stack["dev_stack"]["containers"]
    for name in names:
        if reference in (name, container_id(name)):
            return name
    fail(f"no such container: {reference} (the dev stack registers {', '.join(sorted(names))})")


def container(stack: dict[str, Any], reference: str) -> dict[str, Any]:
    """The test's stand-in for a container of the dev stack (tests/backupstack.py)."""
    name = registered(stack, reference)
    if name not in stack["containers"]:
        fail(f"{name}: a container of the dev stack, but the test has no stand-in for it")
    found: dict[str, Any] = stack["containers"][name]
    return found


def stopped(stack: dict[str, Any]) -> set[str]:
    """The containers stopped by the docs' commands so far (from ``events``); all others are running."""
    state: set[str] = set()
    events = Path(stack["events"])
    for line in events.read_text().splitlines() if events.exists() else []:
        command, name = line.split(" ", 1)
        if command == "stop":
            state.add(name)
        elif command in ("start", "restart"):
            state.discard(name)
    return state


def docker_ps(stack: dict[str, Any], args: list[str]) -> None:
    flags: set[str] = set()
    filters: list[str] = []
    while args:
        option = args.pop(0)
        if not option.startswith("-") or option.startswith("--"):
            fail(f"ps: unsupported argument {option}")
        letters = option[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter == "f":
                if not letters and not args:
                    fail("ps: -f needs a filter")
                filters.append(letters or args.pop(0))
                letters = ""
            elif letter in "aq":
                flags.add(letter)
            else:
                fail(f"ps: unsupported option -{letter}")
    if "q" not in flags:
        fail("ps: only -q (ids) is understood")
    prefix = "label=io.selfhost.service="
    if len(filters) != 1 or not filters[0].startswith(prefix):
        fail(f"ps: only one filter {prefix}NAME is understood, not {filters}")
    service = filters[0].removeprefix(prefix)
    containers: dict[str, str] = stack["dev_stack"]["containers"]
    matching = [name for name, label in containers.items() if label == service]
    if not matching:
        fail(f"ps: no container of the dev stack has the label io.selfhost.service={service}")
    down = stopped(stack)
    for name in matching:
        if "a" in flags or name not in down:
            print(container_id(name))


def docker_exec(stack: dict[str, Any], args: list[str]) -> None:
    while args and args[0].startswith("-"):
        if args[0] != "-i":
            fail(f"exec: unsupported option {args[0]}")
        args = args[1:]
    name, argv = args[0], args[1:]
    spec = container(stack, name)
    if registered(stack, name) in stopped(stack):
        fail(f"exec: container {name} is not running")
    with open(stack["events"], "a") as events:
        events.write(f"exec {registered(stack, name)}\n")
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
            if not volume.startswith("/") and volume not in stack["dev_stack"]["volumes"]:
                fail(f"run: no such volume: {volume} (not one the dev stack registers)")
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
    elif command == "ps":
        docker_ps(stack, args)
    elif command == "run":
        docker_run(stack, args)
    elif command == "inspect" and args[:2] == ["--format", "{{.Image}}"] and len(args) == 3:
        container(stack, args[2])
        print(IMAGE_ID)
    elif command in ("stop", "start", "restart") and args and not any(a.startswith("-") for a in args):
        names = [registered(stack, reference) for reference in args]
        with open(stack["events"], "a") as events:
            for reference, name in zip(args, names, strict=True):
                events.write(f"{command} {name}\n")
                print(reference)
    else:
        fail(f"unsupported: docker {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
