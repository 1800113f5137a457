"""Tiers 1 and 2: every container input is written the way the Docker provider reads it back.

The facts these tests rest on are in docs/provider-readback.md, with the provider's source
(kreuzwerker/terraform-provider-docker v4.6.0, bridged by pulumi-docker 5.2.0).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from components.core.container import (
    CONTAINER_INPUTS,
    INIT_ERROR,
    LOG_OPTIONS,
    NO_ENV_IN_LOGS,
    FileUpload,
    Healthcheck,
    ServiceSpec,
    memory_mib,
    replace_on_changes,
    secret_file,
    service_container,
)
from components.core.durations import go_duration, parse_duration
from tests.mockstack import ProgramRun, Registration, run_stack_file, service_name
from tests.stateful_urns import container_stacks

SHIPPED_STACKS = container_stacks()

CONTAINER = "docker:index/container:Container"
DURATION_FIELDS = ("interval", "timeout", "startPeriod", "startInterval")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack_file("prod")


@pytest.fixture(scope="module")
def lab() -> ProgramRun:
    return run_stack_file("lab")


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {service_name(c): c for c in run.of_type(CONTAINER)}


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (0, "0s"),
        ("0", "0s"),
        ("0s", "0s"),
        (2, "2s"),
        ("2s", "2s"),
        (60, "1m0s"),
        ("60s", "1m0s"),
        (600, "10m0s"),
        ("10m", "10m0s"),
        ("90s", "1m30s"),
        ("1h30m", "1h30m0s"),
        ("1h", "1h0m0s"),
        (3600 * 25 + 1, "25h0m1s"),
        ("1.5s", "1.5s"),
        ("1m0.5s", "1m0.5s"),
        ("500ms", "500ms"),
        ("1500ms", "1.5s"),
        ("1.5ms", "1.5ms"),
        ("250us", "250µs"),
        ("250µs", "250µs"),
        ("7ns", "7ns"),
        (".5m", "30s"),
        ("+5s", "5s"),
        (timedelta(minutes=2, seconds=3), "2m3s"),
        (timedelta(milliseconds=20), "20ms"),
    ],
)
def test_durations_come_out_as_go_prints_them(value: Any, canonical: str) -> None:
    assert go_duration(value) == canonical
    assert go_duration(canonical) == canonical, "canonical form is a fixed point"


@pytest.mark.parametrize("text", ["", "1", "1.5", "s", "-1s", "1x", "1 s", "1s ", "1h-2m", "9223372036854775808ns"])
def test_durations_go_would_refuse_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_negative_seconds_are_refused() -> None:
    with pytest.raises(ValueError):
        go_duration(-1)


def test_healthcheck_sends_canonical_durations() -> None:
    sent = Healthcheck(test=["CMD", "true"], interval="60s", timeout=5, start_period="10m", start_interval="2s").args()
    assert (sent.interval, sent.timeout, sent.start_period, sent.start_interval) == ("1m0s", "5s", "10m0s", "2s")


@pytest.mark.parametrize("field", ["interval", "timeout", "start_period", "start_interval"])
def test_healthcheck_refuses_what_docker_refuses(field: str) -> None:
    too_short: dict[str, Any] = {field: "500us"}
    not_a_duration: dict[str, Any] = {field: "soon"}
    with pytest.raises(ValueError, match=field):
        Healthcheck(test=["CMD", "true"], **too_short)
    with pytest.raises(ValueError):
        Healthcheck(test=["CMD", "true"], **not_a_duration)


def test_memory_is_whole_mib() -> None:
    assert memory_mib(512 * 1024**2) == 512
    with pytest.raises(ValueError):
        memory_mib(512 * 1024**2 + 1)
    with pytest.raises(ValueError):
        memory_mib(5 * 1024**2)
    with pytest.raises(ValueError, match="memory reservation 1 bytes"):
        memory_mib(1, "memory reservation")


def test_only_init_errors_and_tmpfs_force_a_replacement_beyond_the_schema() -> None:
    # v4.6.0: every input the program sets is ForceNew, applied by ContainerUpdate, or read
    # only at create/delete, but ``tmpfs`` (the proxy's microcache): an optional map the update
    # skips, so a changed size would be an update that changes nothing.
    assert [key for key, handling in CONTAINER_INPUTS.items() if handling == "not-applied"] == ["tmpfs"]
    assert CONTAINER_INPUTS["healthcheck"] == "replace"
    assert replace_on_changes() == [INIT_ERROR, "tmpfs"] == ["#initerror", "tmpfs"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_input_sent_has_a_known_provider_handling(stack: str, request: pytest.FixtureRequest) -> None:
    """A new input must be classified in CONTAINER_INPUTS (and docs/provider-readback.md) first."""
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        unknown = set(container.inputs) - set(CONTAINER_INPUTS)
        assert not unknown, f"{name} sends {sorted(unknown)}: say in CONTAINER_INPUTS what the provider does with them"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_container_is_replaced_after_a_failed_health_wait(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    assert containers(run)
    for name, container in containers(run).items():
        assert container.replace_on_changes == ["#initerror", "tmpfs"], name
        assert container.inputs["wait"] is True, name


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_healthcheck_duration_is_canonical(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        healthcheck = container.inputs["healthcheck"]
        for field in DURATION_FIELDS:
            assert go_duration(healthcheck[field]) == healthcheck[field], f"{name}.healthcheck.{field}"


def test_known_durations_read_back_as_sent(dev: ProgramRun) -> None:
    running = containers(dev)
    prefix = "selfhost-dev"
    assert running[f"{prefix}-cloud-app"].inputs["healthcheck"]["startPeriod"] == "10m0s"
    assert running[f"{prefix}-proxy"].inputs["healthcheck"]["startPeriod"] == "10s"
    assert running[f"{prefix}-proxy"].inputs["healthcheck"]["interval"] == "30s"
    assert running[f"{prefix}-cloud-app"].inputs["healthcheck"]["startInterval"] == "2s"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_container_swaps(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        assert container.inputs["memorySwap"] == container.inputs["memory"] >= 32, name


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_docker_stop_gives_every_container_its_grace(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        assert container.inputs["stopTimeout"] == container.inputs["destroyGraceSeconds"] > 0, name


def test_databases_get_a_minute_to_stop(dev: ProgramRun) -> None:
    databases = [c for c in dev.of_type(CONTAINER) if _is_database(c)]
    assert len(databases) >= 2
    for container in databases:
        assert container.inputs["stopTimeout"] == 60, container.inputs["name"]


def _is_database(container: Registration) -> bool:
    test = " ".join(container.inputs["healthcheck"]["tests"])
    return "healthcheck.sh" in test or "pg_isready" in test


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_log_options_leave_nothing_for_the_daemon_to_merge(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        assert container.inputs["logDriver"] == "json-file", name
        assert container.inputs["logOpts"] == LOG_OPTIONS, name
    json_file_and_daemon_keys = {
        *("max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"),
        *("mode", "max-buffer-size", "cache-disabled", "cache-max-file", "cache-max-size", "cache-compress"),
    }
    assert set(LOG_OPTIONS) == json_file_and_daemon_keys
    assert all(LOG_OPTIONS.values()), "an empty value lost by the SDK would let a daemon default fill in"
    assert LOG_OPTIONS["mode"] == "non-blocking", "max-buffer-size is valid only with non-blocking"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_container_sets_the_variable_the_log_options_name(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for name, container in containers(run).items():
        assert not any(str(env).startswith(NO_ENV_IN_LOGS + "=") for env in container.inputs.get("envs", [])), name


def test_root_owned_uploads_are_sent_without_owner_so_the_engine_keeps_root() -> None:
    """With owner or group set the engine chowns to the container's user; root-owned files send neither."""
    root_file = FileUpload("/etc/app.conf", "x").args()
    secret = secret_file("/run/secrets/p", "s", 33).args()
    assert (root_file.owner, root_file.group) == (None, None)
    assert (secret.owner, secret.group) == ("33", "33")


def test_an_upload_owned_by_another_user_than_the_containers_is_refused() -> None:
    spec = ServiceSpec(
        container_name="x-cron",
        image=None,  # type: ignore[arg-type]  # never reached: the check runs first
        memory_bytes=64 * 1024**2,
        healthcheck=Healthcheck(test=["CMD", "true"]),
        networks=[],
        files=[secret_file("/run/secrets/p", "s", 999)],
        user="33:33",
    )
    with pytest.raises(ValueError, match=r"x-cron: /run/secrets/p would be owned 999:999"):
        service_container("x", spec, parent=None)  # type: ignore[arg-type]
