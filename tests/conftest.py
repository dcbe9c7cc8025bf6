"""Shared pytest fixtures, and the rule that CI may not skip a real component.

A test of a real system component (headless Chromium, a SLURM cluster, fluidsynth audio) is
marked ``@pytest.mark.real_component``. On a developer's machine without the component it skips,
saying what to install; under ``CI=true`` (.ci/run installs every component) any skip of such a
test, whether from :func:`require_tool`, :func:`require`, ``pytest.skip`` in a fixture or a
``skipif`` marker, is reported as a failure instead, so a green CI means the component ran.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Subprocess tests run `snakemake`, `dvc` and `dllaunchpad` (and Snakemake's rules run the
# latter): find them in the interpreter's own environment even when it was not activated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# Snakemake imports every installed executor plugin when it starts, and the SLURM plugin then
# runs `scontrol show config` for a default. Where SLURM's client is installed but no controller
# answers (CI installs it for tests/test_slurm.py, which starts its own cluster), that call waits
# 9 s, at each of the ~40 Snakemake starts of the other tests. They see a `scontrol` that fails
# at once instead, as on a machine without SLURM; tests/test_slurm.py takes it off PATH again
# (without_scontrol_stub) while its cluster runs.
STUB_ENV = "LAUNCHPAD_TESTS_SCONTROL_STUB"
if STUB_ENV not in os.environ:  # pytest's own process: pytest-xdist's workers inherit the folder
    _stub = Path(tempfile.mkdtemp(prefix="launchpad-tests-"))
    (_stub / "scontrol").write_text("#!/bin/sh\n# tests/conftest.py: no SLURM controller outside "
                                    "tests/test_slurm.py\nexit 1\n")
    (_stub / "scontrol").chmod(0o755)
    atexit.register(shutil.rmtree, _stub, True)
    os.environ[STUB_ENV] = str(_stub)
SCONTROL_STUB = os.environ[STUB_ENV]
if SCONTROL_STUB not in os.environ["PATH"].split(os.pathsep):
    os.environ["PATH"] = f"{SCONTROL_STUB}{os.pathsep}{os.environ['PATH']}"


@contextlib.contextmanager
def without_scontrol_stub():
    """The real `scontrol` on PATH for the block (tests/test_slurm.py's cluster)."""
    saved = os.environ["PATH"]
    os.environ["PATH"] = os.pathsep.join(d for d in saved.split(os.pathsep) if d != SCONTROL_STUB)
    try:
        yield
    finally:
        os.environ["PATH"] = saved


# The offline copies of the raw datasets (see ../shared/mirror/README.md), next to the repository.
MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "mirror"


@pytest.fixture(scope="module")
def quick():
    """The registry at scale quick, as the quick DAG builds it (one per test module)."""
    from dllaunchpad.pipeline.config import load_params
    from dllaunchpad.pipeline.registry import Registry

    return Registry.from_params(load_params(scale="quick"))


@pytest.fixture(scope="module")
def full():
    """The registry at the chapter's full settings (one per test module)."""
    from dllaunchpad.pipeline.config import load_params
    from dllaunchpad.pipeline.registry import Registry

    return Registry.from_params(load_params(scale="full"))


@pytest.fixture
def mirror():
    """``mirror("iris")`` -> the mirror's iris folder; skips the test when it is not there."""
    def folder(name: str) -> Path:
        path = MIRROR / name
        if not path.is_dir():
            pytest.skip(f"dataset mirror {path} not available")
        return path
    return folder


# The repository root: tests that read params.yaml, dvc.yaml or the Snakefile use it.
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def raw_params():
    """params.yaml as written (a fresh copy per test, safe to edit)."""
    from dllaunchpad.pipeline.config import read_params

    return read_params(REPO / "params.yaml")


# -- real components: skip on a developer's machine, fail under CI ---------------------------

REAL_COMPONENT = "real_component"


def in_ci() -> bool:
    """True when the tests run in CI (.ci/run exports CI=true, as most CI services do)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_component(reason: str):
    """Skip the test because a real component is missing, or fail it under CI=true."""
    if in_ci():
        pytest.fail(f"CI=true: {reason} (a real component must run in CI, not skip)", pytrace=False)
    pytest.skip(reason)


def require(found, what: str):
    """``found`` (a path, a dict of tools ...) when it is truthy; otherwise the test skips, or
    fails under CI, saying ``what`` is missing."""
    if not found:
        missing_component(what)
    return found


def require_tool(name: str, hint: str = "") -> str:
    """The path of the program ``name`` (PATH, then /usr/sbin and /sbin, where Debian puts the
    daemons); without it the test skips, or fails under CI. ``hint``: how to install it."""
    found = shutil.which(name) or next((str(Path(d, name)) for d in ("/usr/sbin", "/sbin")
                                        if os.access(Path(d, name), os.X_OK)), None)
    return require(found, f"{name} not found" + (f" ({hint})" if hint else ""))


def pytest_configure(config):
    config.addinivalue_line("markers", f"{REAL_COMPONENT}: tests a real system component (Chromium, SLURM, "
                                       "fluidsynth audio); under CI=true a skip of it is a failure")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true, a skip of a real-component test (in setup, e.g. a skipif marker or a fixture,
    or in the test itself) becomes a failure that gives the skip's reason."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci() and item.get_closest_marker(REAL_COMPONENT) is not None):
        return
    if hasattr(report, "wasxfail"):  # an expected failure is not a skipped component
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"CI=true: real-component test {item.nodeid} would skip ({reason}); CI installs every "
                       f"component (.ci/run), so this skip hides a broken install or test")


# -- order: the longest files first ---------------------------------------------------------

# The README's command runs the files on one worker per core (pytest-xdist, `--dist loadfile`: a
# file's tests stay on one worker, so its module fixtures are built once), handed out in this order.
# The quick DAG's file takes about half the suite's time: started last, it would run alone at
# the end while the other worker sat idle. Only the order changes, never which tests run.
LONGEST_FIRST = ("test_pipeline.py", "test_slurm.py", "test_dvc.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
