"""scripts/run_tests.py, the README's test command: the lint step that runs before the tests."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest

from tests.support import scripts

ROOT = Path(__file__).resolve().parents[3]


def test_the_test_command_lints_with_ruff_the_import_contracts_and_mypy_before_the_tests():
    run_tests = scripts.run_tests()
    assert [name for name, _ in run_tests.LINT] == ["ruff", "import contracts", "mypy"]
    main = inspect.getsource(run_tests.main)
    assert main.index("lint()") < main.index("run_step(")
    for _, command in run_tests.LINT:
        assert shutil.which(command[0]), f"{command[0]} is not installed (setup.cfg's test extra)"


def _check(run_tests, name: str) -> tuple:
    return next(check for check in run_tests.LINT if check[0] == name)


# A module each check refuses, and the same module fixed.
BAD_AND_GOOD = {
    "ruff": ("print(zip([1], [2]))\n", "print(zip([1], [2], strict=True))\n"),
    "mypy": ("def half(n: int) -> int:\n    return n / 2\n", "def half(n: int) -> float:\n    return n / 2\n"),
}


@pytest.mark.parametrize("name", BAD_AND_GOOD)
def test_a_finding_fails_the_lint_step_and_is_printed(name, tmp_path, capsys):
    run_tests = scripts.run_tests()
    # the project's own configuration, checking one module of a project of its own
    config = (ROOT / "pyproject.toml").read_text().replace(
        'packages = ["mutt_app", "tasks", "web"]\nmodules = ["celeryconfig"]', 'modules = ["probe"]')
    assert 'modules = ["probe"]' in config
    (tmp_path / "pyproject.toml").write_text(config)
    bad, good = BAD_AND_GOOD[name]
    (tmp_path / "probe.py").write_text(bad)
    assert run_tests.lint((_check(run_tests, name),), cwd=tmp_path) == 1
    printed = capsys.readouterr().out
    assert "probe.py:" in printed and "Found 1 error" in printed, printed

    (tmp_path / "probe.py").write_text(good)
    assert run_tests.lint((_check(run_tests, name),), cwd=tmp_path) == 0
    printed = capsys.readouterr().out
    assert "probe.py" not in printed and ("All checks passed!" in printed or "Success: " in printed), printed
