"""The whole test suite: lint (ruff, the import contracts, mypy), unit tests, then integration
tests, then coverage per component.

Writes JUnit XML and coverage XML/JSON under reports/. Exit code 0 only if every step passed and
every component (and the whole) is at or above its coverage floor. A failed lint step fails the run
but the tests run anyway, so that one run shows everything. Extra arguments go to both
pytest runs (e.g. `./mutt test -x -k ingest`); with a `-k` or explicit test selection the floors
are reported but not enforced, since a partial run cannot reach them. After a full run whose tests
passed, the table is written to docs/coverage.md; a partial run never writes it.

Coverage is branch coverage as coverage.py counts it: (statements run + branch directions taken)
/ (statements + branch directions). Worker, beat and web server processes started by the tests are
measured too (setup.cfg: [coverage:run] patch = subprocess, execv, fork, _exit).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
COVERAGE_DOC = ROOT / "docs" / "coverage.md"  # its generated section: the table of the last full run
DOC_BEGIN = "<!-- Written by scripts/run_tests.py after a full run whose tests passed. Do not edit. -->"
DOC_END = "<!-- End of the written section. -->"
STEPS = (
    ("unit", ["tests/unit", "tests/test_layout.py"]),
    ("integration", ["tests/integration"]),
)
NO_TESTS_COLLECTED = 5
_TOOLS = Path(sys.executable).parent  # the virtualenv's bin: lint-imports has no `python -m` form
# The lint step: each check's command, run from the repository root; configured in pyproject.toml.
LINT = (
    ("ruff", (sys.executable, "-m", "ruff", "check", "--output-format=concise", ".")),
    ("import contracts", (str(_TOOLS / "lint-imports"),)),
    ("mypy", (sys.executable, "-m", "mypy")),
)


@dataclass(frozen=True)
class Component:
    name: str
    floor: float
    files: tuple[str, ...]  # fnmatch patterns relative to the repository root (* crosses folders); "!" excludes

    def owns(self, path: str) -> bool:
        """A file is the component's when one of its patterns matches it and none of its "!" patterns."""
        included = any(fnmatch.fnmatchcase(path, p) for p in self.files if not p.startswith("!"))
        return included and not any(fnmatch.fnmatchcase(path, p[1:]) for p in self.files if p.startswith("!"))


# The one table of components and coverage floors. The components' patterns are disjoint: a file
# belongs to the one component that owns it, and core (no patterns) has everything no other owns.
# codecov.yml carries the same patterns and targets (generated; tests/test_layout.py checks it).
COMPONENTS = (
    Component("ingest", 80, ("web/ingest.py", "tasks/ingest.py", "mutt_app/ingest/*.py",
                             "mutt_app/access/api_keys.py")),
    Component("dynamic config", 80, ("mutt_app/dynconfig.py", "mutt_app/cli/settings.py", "web/api/config.py")),
    Component("alerter", 80, ("tasks/alerter.py", "mutt_app/alerting/*.py", "mutt_app/rules/*.py", "mutt_app/cli/rules.py")),
    Component("forwarder", 80, ("tasks/forwarder.py", "mutt_app/forwarding/*.py")),
    Component("remediation", 80, ("tasks/remediation.py", "mutt_app/dead_letters/*.py", "mutt_app/remediation/*.py",
                                  "mutt_app/cli/dlq.py")),
    Component("janitor", 80, ("tasks/janitor.py", "mutt_app/operations/janitor.py", "mutt_app/operations/jobs.py",
                              "mutt_app/storage/partitions.py")),
    Component("web UI/API", 80, ("web/*", "!web/ingest.py", "!web/api/config.py", "mutt_app/operations/dashboard.py",
                                 "mutt_app/operations/slo.py", "mutt_app/audit/queries.py",
                                 "mutt_app/access/login_throttle.py", "mutt_app/access/users.py")),
    Component("core", 80, ()),
)
OVERALL_FLOOR = 85.0


def component_of(path: str) -> str:
    owners = [component.name for component in COMPONENTS if component.owns(path)]
    if len(owners) > 1:
        raise ValueError(f"{path} is owned by {owners}: make the patterns in COMPONENTS disjoint")
    return owners[0] if owners else COMPONENTS[-1].name


@dataclass(frozen=True)
class Row:
    """One component's line of the coverage table (or the "overall" line)."""

    name: str
    files: int
    covered: int  # statements run + branch directions taken
    total: int  # statements + branch directions
    floor: float

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    @property
    def below_floor(self) -> bool:
        return self.percent < self.floor


def coverage_rows(report: dict) -> list[Row]:
    """The components' rows from `coverage json` output, then "overall"."""
    counts = {c.name: [0, 0, 0] for c in COMPONENTS}  # files, covered, total
    for path, data in report["files"].items():
        summary, count = data["summary"], counts[component_of(Path(path).as_posix())]
        count[0] += 1
        count[1] += summary["covered_lines"] + summary.get("covered_branches", 0)
        count[2] += summary["num_statements"] + summary.get("num_branches", 0)
    rows = [Row(c.name, *counts[c.name], c.floor) for c in COMPONENTS]
    overall = [sum(column) for column in zip(*counts.values(), strict=True)]
    return [*rows, Row("overall", *overall, OVERALL_FLOOR)]


def coverage_table(rows: list[Row]) -> list[str]:
    """The table the test command prints."""
    lines = [f"{'component':16} {'files':>5} {'covered':>8} {'of':>7} {'branch cov':>10} {'floor':>6}"]
    for row in rows:
        if row.name == "overall":
            lines.append("-" * len(lines[0]))
        mark = "  BELOW FLOOR" if row.below_floor else ""
        lines.append(f"{row.name:16} {row.files:>5} {row.covered:>8} {row.total:>7} {row.percent:>9.1f}% "
                     f"{row.floor:>5g}%{mark}")
    return lines


def coverage_markdown(rows: list[Row], when: str, commit: str) -> str:
    """The generated section of docs/coverage.md."""
    lines = [f"Last full run: {when}, commit `{commit}`.", "",
             "| component | files | covered | of | branch coverage | floor |", "|---|--:|--:|--:|--:|--:|"]
    for row in rows:
        name = f"**{row.name}**" if row.name == "overall" else row.name
        mark = " (below the floor)" if row.below_floor else ""
        lines.append(f"| {name} | {row.files} | {row.covered:,} | {row.total:,} | {row.percent:.1f}%{mark} | {row.floor:g}% |")
    return "\n".join(lines)


def write_coverage_doc(rows: list[Row]) -> None:
    """Replace the generated section of docs/coverage.md with this run's table."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                              f":!{COVERAGE_DOC.relative_to(ROOT)}"], cwd=ROOT, capture_output=True, text=True)
    if changed.stdout.strip():
        commit += " with uncommitted changes"
    text = COVERAGE_DOC.read_text()
    head, _, rest = text.partition(DOC_BEGIN)
    _, _, tail = rest.partition(DOC_END)
    COVERAGE_DOC.write_text(f"{head}{DOC_BEGIN}\n{coverage_markdown(rows, when, commit or 'unknown')}\n{DOC_END}{tail}")


def lint(checks: tuple[tuple[str, tuple[str, ...]], ...] = LINT, cwd: Path = ROOT) -> int:
    """Run every check; print one line each (its own summary) and, for a failed one, its findings.
    Returns 0 when all passed, else 1."""
    print("\n==== lint ====", flush=True)
    failed = False
    for name, command in checks:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        counts = [line for line in lines if _COUNTS.match(line)]
        print(f"{name:16} {counts[-1] if counts else f'exit {result.returncode}'}", flush=True)
        if result.returncode != 0:
            failed = True
            print("\n".join(_findings([line for line in lines if line not in counts])), flush=True)
    return 1 if failed else 0


# The line in which each tool sums up (ruff, mypy, lint-imports).
_COUNTS = re.compile(r"All checks passed!|Found \d+ errors?\b|Success: |Contracts: \d+ kept")


def _findings(lines: list[str]) -> list[str]:
    """The lines that name a problem: lint-imports prints its whole analysis first and the broken
    contracts last; ruff adds a note on what it could fix itself."""
    for index, line in enumerate(lines):
        if line.startswith("Broken contracts"):
            return lines[index:]
    return [line for line in lines if not line.startswith("[*] ")]


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


def coverage(*args: str) -> int:
    return subprocess.call([sys.executable, "-m", "coverage", *args], cwd=ROOT)


def partial_run(extra: list[str]) -> bool:
    return any(arg in ("-k", "-m", "--lf", "--deselect") or arg.startswith(("-k", "tests/")) for arg in extra)


def main() -> int:
    REPORTS.mkdir(exist_ok=True)
    for stale in ROOT.glob(".coverage*"):
        stale.unlink()
    os.environ.setdefault("COVERAGE_PROCESS_START", str(ROOT / "setup.cfg"))
    extra = sys.argv[1:]
    results = {"lint": lint()}
    results |= {name: run_step(name, paths, extra) for name, paths in STEPS}
    print("\n==== coverage ====", flush=True)
    if any(ROOT.glob(".coverage.*")):  # data of processes that pytest-cov did not combine
        coverage("combine", "--append", "--quiet")
    coverage("xml", "-q", "-o", str(REPORTS / "coverage.xml"))
    coverage("json", "-q", "-o", str(REPORTS / "coverage.json"))
    rows = coverage_rows(json.loads((REPORTS / "coverage.json").read_text()))
    print("\n".join(coverage_table(rows)))
    failing = [f"{row.name} {row.percent:.1f}% < {row.floor:g}%" for row in rows if row.below_floor]
    enforce = not partial_run(extra)
    if enforce and all(code == 0 for code in results.values()):
        write_coverage_doc(rows)
        print(f"(written to {COVERAGE_DOC.relative_to(ROOT)})")
    print("\n==== summary ====")
    for name, code in results.items():
        print(f"{name:12} {'passed' if code == 0 else f'FAILED (exit {code})'}")
    if failing:
        verdict = "FAILED" if enforce else "not enforced (partial run)"
        print(f"{'coverage':12} {verdict}: {'; '.join(failing)}")
    else:
        print(f"{'coverage':12} every component at or above its floor")
    coverage_ok = not failing or not enforce
    return 0 if all(code == 0 for code in results.values()) and coverage_ok else 1


if __name__ == "__main__":
    sys.exit(main())
