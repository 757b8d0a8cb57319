#!/usr/bin/env bash
# Re-pin constraints.txt: install MUTT with its test extra into a fresh virtualenv WITHOUT the
# constraints (so pip picks the newest versions setup.cfg's ranges allow), write what got installed
# to constraints.txt, then run the whole test suite (./mutt test) on exactly those versions.
# Commit constraints.txt only when the tests pass. --no-test skips the test run.
# Usage: scripts/update_constraints.sh [--no-test] [arguments for ./mutt test]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
run_tests=1
if [ "${1:-}" = "--no-test" ]; then run_tests=""; shift; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=$work/venv
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --no-input)
echo "installing the newest allowed versions into a fresh virtualenv (log: $work/install.log) ..." >&2
if ! { "${pip[@]}" --upgrade pip && "${pip[@]}" -e "$here[test]"; } >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  exit 1
fi
{
  echo "# The tested versions of everything setup.cfg's install_requires and [test] extra pull in."
  echo "# ./mutt (so also .ci/run) and the Dockerfile install with \`pip install -c constraints.txt\`, so a"
  echo "# fresh machine gets these and not whatever was released since. Do not edit by hand: run"
  echo "# scripts/update_constraints.sh (docs/deployment.md, \"Updating the pinned versions\")."
  "$venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check
} > "$work/constraints.txt"
mv "$work/constraints.txt" "$here/constraints.txt"
echo "constraints.txt rewritten; what moved:" >&2
git -C "$here" --no-pager diff --stat -- constraints.txt >&2 2>/dev/null || true

if [ -n "$run_tests" ]; then
  # ./mutt installs into this virtualenv again, with the new constraints (nothing changes), then tests.
  if ! MUTT_VENV=$venv "$here/mutt" test "$@"; then
    echo "the tests fail on the new versions: see git diff constraints.txt; git checkout constraints.txt goes back" >&2
    exit 1
  fi
  echo "tests pass on the new versions: commit constraints.txt" >&2
fi
