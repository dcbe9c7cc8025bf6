"""The rule of tests/conftest.py that CI may not skip a real component: pytest runs a tiny test
file (beside a copy of conftest.py) in a subprocess, with CI=true and without it, and the skips
of the real-component tests must turn into failures under CI only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import REPO

TINY = '''
import pytest
from conftest import require, require_tool

@pytest.mark.real_component
def test_missing_tool():
    require_tool("no-such-tool-7f3a9c", "apt-get install nothing")

@pytest.mark.real_component
def test_missing_dict_of_tools():
    require(None, "fluidsynth and a soundfont")

@pytest.mark.real_component
def test_direct_skip():
    pytest.skip("no browser here")

@pytest.mark.real_component
@pytest.mark.skipif(True, reason="no cluster binaries")
def test_skipif_marker():
    pass

@pytest.fixture(scope="module")
def cluster():
    pytest.skip("cluster did not start")

@pytest.mark.real_component
def test_fixture_skip(cluster):
    pass

@pytest.mark.real_component
def test_present_tool():
    assert require_tool("sh").endswith("sh")

def test_ordinary_optional_skip():
    pytest.skip("an optional extra, not a real component")
'''


def _pytest(tmp_path, ci: str | None) -> subprocess.CompletedProcess:
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-o", "addopts=",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _counts(out: str) -> dict[str, int]:
    last = out.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", last)}


def test_under_ci_a_skipped_real_component_fails(tmp_path):
    proc = _pytest(tmp_path, "true")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # a skip in the test body fails the test; one in its setup (skipif, a fixture) is an error
    assert _counts(proc.stdout) == {"failed": 3, "error": 2, "passed": 1, "skipped": 1}, out
    for test in ("test_missing_tool", "test_missing_dict_of_tools", "test_direct_skip"):
        assert re.search(rf"FAILED \S*test_tiny.py::{test}\b", out), (test, out)
    for test in ("test_skipif_marker", "test_fixture_skip"):
        assert re.search(rf"ERROR \S*test_tiny.py::{test}\b", out), (test, out)
    assert "no-such-tool-7f3a9c not found (apt-get install nothing)" in out and "CI=true" in out
    assert "no cluster binaries" in out and "cluster did not start" in out  # the skip's reason is kept
    assert re.search(r"SKIPPED .*an optional extra", out), out  # unmarked tests may still skip


def test_without_ci_the_same_tests_skip(tmp_path):
    for ci in (None, "false"):
        proc = _pytest(tmp_path, ci)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _counts(proc.stdout) == {"passed": 1, "skipped": 6}, proc.stdout
