"""The program's docker Networks, Volumes and Containers, as the provider would send them.

Each input the program sets is mapped to the Docker API the way
kreuzwerker/terraform-provider-docker does it, in
``internal/provider/resource_docker_container_funcs.go`` (create) and
``resource_docker_container_structures.go`` (ports). Version: pulumi-docker 5.2.0's SDK has
upload ``owner``/``group`` with the descriptions of terraform-provider-docker v4.6.0
(2026-09-01, "Support owner and group on container uploads (#997)"); v4.5.0 (where
pulumi-docker's ``upstream`` submodule stood at v5.1.0) has neither. Read in v4.6.0's
successor snapshot ``v0.0.0-20260916201441-96d331c98ff4`` from the Go module proxy:

- ``memory``, ``memory_reservation`` and a positive ``memory_swap`` are MiB, sent times 2^20
  (``memory_swap`` -1 is sent as is); each only when set and non-zero (``GetOk``);
- ``stop_timeout`` -> ``Config.StopTimeout`` when set and non-zero;
- healthcheck durations go through Go's ``time.ParseDuration``, ``retries`` as is; read back
  as ``Duration.String()`` (``resourceDockerContainerRead``);
- a port's ``ip`` defaults to ``0.0.0.0`` (schema default); binding ``HostIp``/``HostPort``;
- each upload is one tar of one file, copied to ``/`` before the container starts:
  ``Name`` = ``file`` (absolute), ``Mode`` = ``permissions`` parsed as octal (else 0644, or
  0744 with ``executable``), ``Uid``/``Gid`` = ``owner``/``group`` (numbers as they are,
  names looked up in the *deploying machine's* user database, ``resolveUploadID``), and
  ``CopyUIDGID: owner != "" || group != ""``. That last flag makes the engine chown every
  file of the tar to the container's ``Config.User`` when one is set (moby v28.5.2
  daemon/archive_tarcopyoptions_unix.go, ``tarCopyOptions``), whatever the header says.

The stand-in image is one static busybox: the program's command, entrypoint and healthcheck
test are replaced (the real ones need the real images), everything else is the program's.
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
DEFAULT_PORT_IP = "0.0.0.0"
"""terraform-provider-docker v4.5.0 ``ports.ip``: ``Default: "0.0.0.0"``."""
STAND_IN_IMAGE = "selfhost-test/busybox:local"
STAND_IN_APPLETS = (
    "sh", "httpd", "nslookup", "nc", "printf", "sleep", "cat", "echo", "grep", "timeout", "stat", "sha256sum",
    "test", "touch", "mkdir", "id", "dirname",
)  # fmt: skip
ENGINE_DEFAULT_SWAP_FACTOR = 2
"""``memory`` without ``memory_swap``: the engine sets swap to twice the memory (moby
daemon/daemon_unix.go, ``adaptContainerSettings``), which the provider reads back into
``memory_swap`` (``Optional``, not ``Computed``, in v4.5.0's schema): a diff on every preview."""
READY_AFTER_SECONDS = 3
"""The stand-in's healthcheck fails until then: the probes before it show the start interval."""

_GO_UNITS = {
    "ns": Fraction(1),
    "us": Fraction(1000),
    "µs": Fraction(1000),
    "μs": Fraction(1000),
    "ms": Fraction(10**6),
    "s": Fraction(10**9),
    "m": Fraction(60 * 10**9),
    "h": Fraction(3600 * 10**9),
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration`` for the non-negative durations the program writes, in ns."""
    if text == "0":
        return 0
    position, total = 0, Fraction(0)
    while position < len(text):
        match = _GO_PART.match(text, position)
        if match is None:
            raise ValueError(f"not a Go duration: {text!r}")
        total += Fraction(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    if not text:
        raise ValueError("empty duration")
    return int(total)


def _decimal(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if rest == 0:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def go_duration_string(ns: int) -> str:
    """Go's ``time.Duration.String()`` (what the provider reads a healthcheck duration back as)."""
    if ns == 0:
        return "0s"
    if ns < 1000:
        return f"{ns}ns"
    if ns < 10**6:
        return _decimal(ns, 1000) + "µs"
    if ns < 10**9:
        return _decimal(ns, 10**6) + "ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return text + _decimal(rest, 10**9) + "s"


def stand_in_image_tar(busybox: Path, extra_applets: Sequence[str] = ()) -> bytes:
    """A rootfs of one static busybox and the applets the probes use, for ``docker import``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(busybox, arcname="bin/busybox")
        for applet in (*STAND_IN_APPLETS, *extra_applets):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        for directory, mode in (("tmp", 0o1777), ("etc", 0o755), ("run", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            archive.addfile(info)
    return buffer.getvalue()


def upload_mode(upload: Mapping[str, Any]) -> int:
    """The file mode the provider writes into the upload's tar header."""
    permissions = upload.get("permissions")
    if permissions:
        return int(str(permissions), 8)
    return 0o744 if upload.get("executable") else 0o644


def upload_content(upload: Mapping[str, Any]) -> bytes:
    if upload.get("content"):
        return str(upload["content"]).encode()
    if upload.get("contentBase64"):
        return base64.b64decode(str(upload["contentBase64"]))
    raise ValueError(f"upload of {upload.get('file')!r} has no content the replay understands")


def upload_tar(upload: Mapping[str, Any]) -> bytes:
    """One upload as the provider's tar: one file, absolute name, mode, owner and group by number."""
    content = upload_content(upload)
    header = tarfile.TarInfo(str(upload["file"]))
    header.size, header.mode, header.mtime = len(content), upload_mode(upload), int(time.time())
    header.uid, header.gid = int(str(upload.get("owner") or 0)), int(str(upload.get("group") or 0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(header, io.BytesIO(content))
    return buffer.getvalue()


def upload_copies_uid_gid(upload: Mapping[str, Any]) -> bool:
    """The provider's ``CopyToContainerOptions.CopyUIDGID`` for this upload (``docker cp -a``)."""
    return bool(upload.get("owner") or upload.get("group"))


def landed_owner(upload: Mapping[str, Any], container_user: str | None) -> tuple[str, str] | None:
    """(uid, gid) the engine gives the uploaded file; None where this replay cannot tell.

    With ``CopyUIDGID`` and a container ``user``, the engine's choice: that user (numeric
    ``uid:gid`` only here; a name would be looked up in the image's /etc/passwd). Otherwise
    the tar header's, i.e. the program's ``owner``/``group``.
    """
    if upload_copies_uid_gid(upload) and container_user:
        uid, _, gid = container_user.partition(":")
        return (uid, gid) if uid.isdigit() and gid.isdigit() else None
    return str(upload.get("owner") or "0"), str(upload.get("group") or "0")


def port_bindings(ports: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """``HostConfig.PortBindings`` as the provider builds it from ``ports``."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        key = f"{int(port['internal'])}/{port.get('protocol') or 'tcp'}"
        binding = {"HostIp": str(port.get("ip") or DEFAULT_PORT_IP), "HostPort": ""}
        if port.get("external") is not None:
            binding["HostPort"] = str(int(port["external"]))
        bindings.setdefault(key, []).append(binding)
    return bindings


def health_test(name: str) -> list[str]:
    """The stand-in's healthcheck: fails until the stand-in is 'ready', then probes its own page."""
    return [
        "CMD-SHELL",
        f"test -e /tmp/ready && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 80 | grep -q {name}",
    ]


def stand_in_command(name: str, ports: Sequence[int] = ()) -> list[str]:
    """Serve the container's name on port 80 and every published port's internal port; become
    healthy after ``READY_AFTER_SECONDS``."""
    serve = " && ".join(f"httpd -p {port} -h /tmp/www" for port in sorted({80, *ports}))
    script = (
        f"mkdir -p /tmp/www && echo {name} > /tmp/www/index.html && {serve} && "
        f"sleep {READY_AFTER_SECONDS} && touch /tmp/ready && exec sleep 3600"
    )
    return ["sh", "-c", script]


def network_create_args(inputs: Mapping[str, Any]) -> list[str]:
    args = ["network", "create", "--driver", str(inputs.get("driver") or "bridge")]
    if inputs.get("internal"):
        args.append("--internal")
    if inputs.get("ipv6"):
        args.append("--ipv6")
    for ipam in inputs.get("ipamConfigs") or []:
        if ipam.get("subnet"):
            args += ["--subnet", str(ipam["subnet"])]
        if ipam.get("gateway"):
            args += ["--gateway", str(ipam["gateway"])]
    for label in inputs.get("labels") or []:
        args += ["--label", f"{label['label']}={label['value']}"]
    return [*args, str(inputs["name"])]


def volume_create_args(inputs: Mapping[str, Any]) -> list[str]:
    args = ["volume", "create", "--driver", str(inputs.get("driver") or "local")]
    for key, value in (inputs.get("driverOpts") or {}).items():
        args += ["--opt", f"{key}={value}"]
    for label in inputs.get("labels") or []:
        args += ["--label", f"{label['label']}={label['value']}"]
    return [*args, str(inputs["name"])]


def attachments(inputs: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    return [(str(n["name"]), [str(a) for a in n.get("aliases") or []]) for n in inputs.get("networksAdvanced") or []]


def container_create_args(inputs: Mapping[str, Any]) -> list[str]:
    """``docker create`` for the stand-in of one Container: the program's inputs but command and test."""
    name = str(inputs["name"])
    args = ["create", "--name", name, "--pull=never"]
    networks = attachments(inputs)
    if networks:
        first, aliases = networks[0]
        args += ["--network", first, *[arg for alias in aliases for arg in ("--network-alias", alias)]]
    if inputs.get("memory"):
        args += ["--memory", f"{int(inputs['memory'])}m"]
    if inputs.get("memoryReservation"):
        args += ["--memory-reservation", f"{int(inputs['memoryReservation'])}m"]
    if inputs.get("memorySwap"):
        swap = int(inputs["memorySwap"])
        args += ["--memory-swap", f"{swap}m" if swap > 0 else str(swap)]
    if inputs.get("stopTimeout"):
        args += ["--stop-timeout", str(int(inputs["stopTimeout"]))]
    if inputs.get("restart"):
        args += ["--restart", str(inputs["restart"])]
    if inputs.get("user"):
        args += ["--user", str(inputs["user"])]
    if inputs.get("logDriver"):
        args += ["--log-driver", str(inputs["logDriver"])]
    for key, value in (inputs.get("logOpts") or {}).items():
        args += ["--log-opt", f"{key}={value}"]
    for label in inputs.get("labels") or []:
        args += ["--label", f"{label['label']}={label['value']}"]
    for env in inputs.get("envs") or []:
        args += ["--env", str(env)]
    for volume in inputs.get("volumes") or []:
        mode = ":ro" if volume.get("readOnly") else ""
        args += ["--volume", f"{volume['volumeName']}:{volume['containerPath']}{mode}"]
    for container_port, bindings in port_bindings(inputs.get("ports") or []).items():
        for binding in bindings:
            host_ip = binding["HostIp"]
            shown = f"[{host_ip}]" if ":" in host_ip else host_ip
            args += ["--publish", f"{shown}:{binding['HostPort']}:{container_port}"]
    health = inputs.get("healthcheck")
    if health:
        test = health_test(name)
        args += ["--health-cmd", test[1]]
        for key, flag in (
            ("interval", "--health-interval"),
            ("timeout", "--health-timeout"),
            ("startPeriod", "--health-start-period"),
            ("startInterval", "--health-start-interval"),
        ):
            if health.get(key):
                # Passed as the program wrote it: the CLI parses it with Go's time.ParseDuration, as the provider does.
                args += [flag, str(health[key])]
        if health.get("retries"):
            args += ["--health-retries", str(int(health["retries"]))]
    tcp_ports = [int(p["internal"]) for p in inputs.get("ports") or [] if (p.get("protocol") or "tcp") == "tcp"]
    return [*args, STAND_IN_IMAGE, *stand_in_command(name, tcp_ports)]


def expected_health(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``Config.Healthcheck`` the engine must report for the stand-in (durations in ns)."""
    health = inputs["healthcheck"]
    expected: dict[str, Any] = {"Test": health_test(str(inputs["name"]))}
    for key, field in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("startPeriod", "StartPeriod"),
        ("startInterval", "StartInterval"),
    ):
        if health.get(key):
            expected[field] = go_duration_ns(str(health[key]))
    if health.get("retries"):
        expected["Retries"] = int(health["retries"])
    return expected


def expected_resources(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What ``docker inspect`` must read back for the inputs the provider maps to HostConfig/Config.

    ``MemorySwap`` is None when the program does not set it: then the engine chooses (see
    ``ENGINE_DEFAULT_SWAP_FACTOR``).
    """
    swap = int(inputs.get("memorySwap") or 0)
    return {
        "Memory": int(inputs.get("memory") or 0) * MIB,
        "MemorySwap": (swap * MIB if swap > 0 else swap) if swap else None,
        "MemoryReservation": int(inputs.get("memoryReservation") or 0) * MIB,
        "StopTimeout": int(inputs["stopTimeout"]) if inputs.get("stopTimeout") else None,
        "RestartPolicy": str(inputs.get("restart") or "no"),
        "User": str(inputs.get("user") or ""),
        "LogConfig": {
            "Type": str(inputs.get("logDriver") or "json-file"),
            "Config": {str(k): str(v) for k, v in (inputs.get("logOpts") or {}).items()},
        },
        "Labels": {str(label["label"]): str(label["value"]) for label in inputs.get("labels") or []},
        "PortBindings": {
            port: sorted(found, key=str) for port, found in port_bindings(inputs.get("ports") or []).items()
        },
        "Mounts": sorted(
            (str(v["volumeName"]), str(v["containerPath"]), not v.get("readOnly")) for v in inputs.get("volumes") or []
        ),
    }


def observed_resources(inspect: Mapping[str, Any]) -> dict[str, Any]:
    """The same fields, from one container's ``docker inspect``."""
    host, config = inspect["HostConfig"], inspect["Config"]
    bindings = {
        port: sorted(({"HostIp": b["HostIp"], "HostPort": b["HostPort"]} for b in found), key=str)
        for port, found in (host.get("PortBindings") or {}).items()
    }
    return {
        "Memory": host["Memory"],
        "MemorySwap": host["MemorySwap"],
        "MemoryReservation": host["MemoryReservation"],
        "StopTimeout": config.get("StopTimeout"),
        "RestartPolicy": host["RestartPolicy"]["Name"],
        "User": config.get("User") or "",
        "LogConfig": {"Type": host["LogConfig"]["Type"], "Config": dict(host["LogConfig"].get("Config") or {})},
        "Labels": dict(config.get("Labels") or {}),
        "PortBindings": bindings,
        "Mounts": sorted((m["Name"], m["Destination"], m["RW"]) for m in inspect["Mounts"] if m["Type"] == "volume"),
    }
