"""The whole test suite: unit tests, then integration tests, then the coverage report.

Writes JUnit XML and coverage XML under reports/. Exit code 0 only if every step passed.
Extra arguments go to both pytest runs (e.g. `./mutt test -x -k ingest`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
STEPS = (
    ("unit", ["tests/unit", "tests/test_layout.py"]),
    ("integration", ["tests/integration"]),
)
NO_TESTS_COLLECTED = 5


def run_step(name: str, paths: list[str], extra: list[str]) -> int:
    print(f"\n==== {name} tests ====", flush=True)
    command = [
        sys.executable, "-m", "pytest", *paths, f"--junitxml={REPORTS / f'junit-{name}.xml'}",
        "--cov", "--cov-append", "--cov-report=", "-p", "no:cacheprovider", *extra,
    ]
    code = subprocess.call(command, cwd=ROOT)
    has_test_files = any(True for path in paths for _ in (ROOT / path).rglob("test_*.py"))
    if code == NO_TESTS_COLLECTED and not has_test_files:
        print(f"(no {name} tests yet)")
        return 0
    return code


def main() -> int:
    REPORTS.mkdir(exist_ok=True)
    for stale in ROOT.glob(".coverage*"):
        stale.unlink()
    os.environ.setdefault("COVERAGE_PROCESS_START", str(ROOT / "setup.cfg"))
    extra = sys.argv[1:]
    results = {name: run_step(name, paths, extra) for name, paths in STEPS}
    print("\n==== coverage ====", flush=True)
    subprocess.call([sys.executable, "-m", "coverage", "combine", "--quiet"], cwd=ROOT)
    subprocess.call([sys.executable, "-m", "coverage", "xml", "-q", "-o", str(REPORTS / "coverage.xml")], cwd=ROOT)
    report = subprocess.call([sys.executable, "-m", "coverage", "report"], cwd=ROOT)
    print("\n==== summary ====")
    for name, code in results.items():
        print(f"{name:12} {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return 0 if all(code == 0 for code in results.values()) and report == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
