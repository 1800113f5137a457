"""Tier 2: every generated document equals what the generators produce from the code now.

``python -m docsgen --check`` in CI: the README's config reference and Pulumi.yaml's config block
(from the settings models), docs/components.md (from the package schema) and docs/architecture.md
(from the dev stack's graph under the mocks). A failure prints the diff; ``--write`` fixes it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from config.reference import PROJECT_CONFIG_HEADER, project_config, project_description
from config.settings import StackSettings
from docsgen import __main__ as cli
from docsgen import targets
from docsgen.targets import ROOT, Rendered, drift, render_all


def test_every_generated_file_is_committed_as_generated() -> None:
    diffs = [diff for diff in map(drift, render_all()) if diff]
    assert not diffs, "run `python -m docsgen --write`:\n" + "".join(diffs)


def test_check_exits_zero_on_this_tree_and_names_what_it_skips() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docsgen", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stderr
    if not (ROOT / targets.SCHEMA_PATH).exists():
        assert f"skipped docs/components.md: the package schema {targets.SCHEMA_PATH}" in result.stderr


def test_check_fails_with_a_unified_diff_when_a_file_drifted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = (ROOT / "Pulumi.yaml").read_text()
    edited = committed.replace("Host port where the proxy serves HTTP.", "Host port for HTTP.")
    assert edited != committed
    monkeypatch.setattr(cli, "render_all", lambda: [Rendered("Pulumi.yaml", edited)])
    assert cli.main(["--check"]) == 1
    out, err = capsys.readouterr()
    assert "--- Pulumi.yaml (committed)\n+++ Pulumi.yaml (generated)\n" in out
    assert '-    description: "Host port where the proxy serves HTTP."' in out
    assert '+    description: "Host port for HTTP."' in out
    assert "run `python -m docsgen --write`" in err


def test_a_missing_schema_skips_the_components_doc_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "SCHEMA_PATH", "no/such/schema.json")
    rendered = targets.components_doc()
    assert rendered.text is None and drift(rendered) == ""
    assert "no/such/schema.json is not in this tree" in rendered.skipped


def test_pulumi_yaml_descriptions_are_the_models_as_sentences() -> None:
    """One source: each key's description in Pulumi.yaml is the model's field description."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    for name, field in StackSettings.model_fields.items():
        key = field.alias or name
        assert field.description, f"{key} has no description in config/settings.py"
        assert declared[key]["description"] == project_description(field)
        assert declared[key]["description"].lower().startswith(field.description.lower().rstrip("."))


def test_the_project_file_keeps_what_precedes_its_config_block() -> None:
    old_style = "name: selfhost\nruntime:\n  name: python\n# a hand comment\nconfig:\n  host:\n    default: x\n"
    rewritten = targets.project_file(old_style)
    assert rewritten.startswith("name: selfhost\nruntime:\n  name: python\n# a hand comment\n")
    assert rewritten.endswith(project_config()) and "default: x" not in rewritten
    # Once generated, the header is part of the block: a second run changes nothing.
    assert targets.project_file(rewritten) == rewritten
    assert rewritten.count(PROJECT_CONFIG_HEADER.splitlines()[0]) == 1


def test_quoted_defaults_keep_their_yaml_type() -> None:
    """``off`` unquoted would be YAML 1.1's false; every string default is quoted."""
    declared = yaml.safe_load(project_config())["config"]
    assert declared["tls"]["default"] == "off"
    assert declared["httpPort"]["default"] == 8080 and declared["publishIpv6"]["default"] is True
    assert declared["proxyMemory"]["default"] == "128Mi"


def test_write_writes_what_differs_and_then_check_passes(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "README.md").write_text("old\n")
    outputs = [Rendered("README.md", "new\n"), Rendered("docs/new.md", "made\n")]
    monkeypatch.setattr(targets, "ROOT", root)
    monkeypatch.setattr(cli, "ROOT", root)
    monkeypatch.setattr(cli, "render_all", lambda: outputs)
    assert cli.main(["--check"]) == 1
    assert cli.main(["--write"]) == 0
    assert (root / "README.md").read_text() == "new\n" and (root / "docs" / "new.md").read_text() == "made\n"
    assert "wrote README.md\nwrote docs/new.md\n" in capsys.readouterr().out
    assert cli.main(["--check"]) == 0
