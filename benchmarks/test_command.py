"""Benchmark 9: the README's test command, `.venv/bin/python -m pytest -q`, timed whole.

It runs in the repository (the tests build their own working copies in temporary folders) with
pyproject.toml's options: one pytest-xdist worker per core, each file on one worker, the longest
files first (tests/conftest.py). Printed: the command's wall time against the target (<= 8 min
on 2 cores, issue 18), the passed/failed counts, the sum of every test's own time (what one
worker would need, setup included), and the ten files that take longest. `--serial` also times
the same tests in one process (`-n 0`), for the speed-up the workers bring.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from common import REPO, Row, finish, parser


def run_tests(extra: list[str]) -> tuple[float, ET.Element, int]:
    """(wall s, the JUnit XML root, return code) of the README's command plus `extra`."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *extra]
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        print(proc.stdout[-1500:], file=sys.stderr)
        if not junit.is_file():
            raise SystemExit(f"pytest wrote no {junit.name} (exit {proc.returncode})")
        return wall, ET.parse(junit).getroot(), proc.returncode


def counts(root: ET.Element) -> dict[str, int]:
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def per_file(root: ET.Element) -> dict[str, float]:
    """Seconds per test file (setup, call and teardown of its tests). A test's JUnit classname is
    its module's dotted path, then its class if it has one: tests.test_pipeline[.TestX]."""
    files: dict[str, float] = collections.defaultdict(float)
    for case in root.iter("testcase"):
        parts = case.get("classname", "?").split(".")
        module = next((p for p in parts if p.startswith("test_")), parts[-1])
        files[f"{module}.py"] += float(case.get("time", 0))
    return dict(files)


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--serial", action="store_true", help="also run the tests in one process (-n 0)")
    args = p.parse_args()
    wall, root, rc = run_tests([])
    n = counts(root)
    files = per_file(root)
    passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    print("\nslowest test files (seconds of their own tests, on their worker):")
    for name, s in sorted(files.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {name:40} {s:7.1f}")
    rows = [
        Row("tests: README command", "wall, whole suite", wall / 60, "min", "<= 8 min", wall <= 8 * 60,
            f"{passed} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped (exit {rc})"),
        Row("tests: README command", "sum of the tests' own times", sum(files.values()) / 60, "min",
            note="what one worker would take; the wall is lower by the workers' overlap"),
    ]
    if args.serial:
        serial, _, _ = run_tests(["-n", "0"])
        rows.append(Row("tests: one process (-n 0)", "wall, whole suite", serial / 60, "min",
                        note=f"{serial / wall:.2f}x the README command's wall"))
    finish(rows, args)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
