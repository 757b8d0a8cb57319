"""The repository's scripts (scripts/*.py are not a package), loaded as modules for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def run_tests() -> ModuleType:
    """scripts/run_tests.py: the test command (its component table, its lint step)."""
    if "run_tests" not in sys.modules:
        spec = importlib.util.spec_from_file_location("run_tests", ROOT / "scripts" / "run_tests.py")
        assert spec is not None and spec.loader is not None
        sys.modules["run_tests"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["run_tests"]
