"""Tier 1: the README's first commands and config reference match the repository."""

from __future__ import annotations

import re
from pathlib import Path

from config.reference import BEGIN, END, reference
from tests.mockstack import PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()


def test_config_reference_is_the_generated_one() -> None:
    start, end = README.index(BEGIN), README.index(END) + len(END)
    assert README[start:end] == reference(), "run: python -m docsgen --write"


def test_readme_opens_with_the_two_commands_ci_uses() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["scripts/up-dev.sh", "scripts/test.sh"]
    assert "scripts/test.sh" in (PROJECT_DIR / ".ci" / "run").read_text()
    for command in commands:
        assert (PROJECT_DIR / command).stat().st_mode & 0o111, f"{command} is not executable"


def test_every_output_is_documented() -> None:
    from tests.mockstack import run_stack_file
    from tests.stateful_urns import shipped_stacks

    for stack in shipped_stacks():
        for output in run_stack_file(stack).outputs:
            assert f"| `{output}` |" in README, f"output {output} of {stack} missing from README"


def test_component_example_runs_under_mocks(tmp_path: object) -> None:
    from pathlib import Path

    from tests.mockstack import run_program

    block = re.search(r"## Using the components in your own program\n+```python\n(.*?)```", README, re.S)
    assert block is not None
    program = Path(str(tmp_path)) / "example.py"
    program.write_text(block.group(1))
    run = run_program({}, program=program, with_project_defaults=False)
    assert run.outputs["url"] == "https://site.example.com"
    volumes = [r for r in run.registrations if r.type == "docker:index/volume:Volume"]
    assert volumes and all(v.protect and v.retain_on_delete for v in volumes)


def test_every_test_file_is_in_the_tests_table() -> None:
    """The README's Tests table says what each file proves: a new file goes in it."""
    tests = Path(__file__).resolve().parent
    missing = [path.name for path in sorted(tests.glob("test_*.py")) if f"`{path.name}`" not in README]
    assert not missing, f"add to the README's Tests table: {missing}"
