"""The warm server (src/dllaunchpad/warm.py): jobs forked from one interpreter that has imported
torch and Lightning behave as if each were its own process, and compute the same numbers.

First with a toy entry point (no torch: the protocol, the environment, exit codes, a cancelled
client), then with the real command line on two cheap experiments, whose metrics files must be
byte-identical to a run in a fresh interpreter each. The quick DAG test (test_pipeline.py) checks
the same over a sample of the chapter's experiments: Snakemake's run goes through the server,
`dvc repro` in the second copy does not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import workcopy
from conftest import REPO
from dllaunchpad import warm
from dllaunchpad.cli import warm_server_command

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the warm server is Linux-only")

TOY = textwrap.dedent('''
    import os, sys, tempfile, time
    sys.path.insert(0, {src!r})
    from dllaunchpad import warm

    def entry(argv):
        if argv[0] == "sleep":
            open(argv[1], "w").write(str(os.getpid()))
            time.sleep(60)
        print("out", " ".join(argv), os.getcwd(), os.environ.get("TOY_VAR"), tempfile.gettempdir())
        print("err line", file=sys.stderr)
        if argv[0] == "crash":
            raise RuntimeError("the job crashed")
        return int(argv[1]) if argv[0] == "exit" else 0

    warm.serve(sys.argv[1], entry=entry, preload=lambda: None)
''')

CLIENT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {src!r})
    from dllaunchpad import warm
    code = warm.delegate(sys.argv[1:])
    sys.exit(99 if code is None else code)
''')


@pytest.fixture
def toy_server(tmp_path):
    (tmp_path / "toy.py").write_text(TOY.format(src=str(REPO / "src")))
    (tmp_path / "client.py").write_text(CLIENT.format(src=str(REPO / "src")))
    with warm.started([sys.executable, str(tmp_path / "toy.py")], dict(os.environ), tmp_path / "server.log",
                      timeout=60) as path:
        assert path is not None, (tmp_path / "server.log").read_text()
        yield path, tmp_path
    assert not Path(path).exists()  # stopped and cleaned up


def _client(tmp_path, path, *argv, **env):
    work = tmp_path / "job"
    work.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(tmp_path / "client.py"), *argv], cwd=work, capture_output=True,
                          text=True, timeout=60, env={**os.environ, warm.ENV: path, **env})


def test_a_job_runs_in_the_clients_folder_environment_and_streams(toy_server):
    path, tmp = toy_server
    proc = _client(tmp, path, "hello", "world", TOY_VAR="seen", TMPDIR=str(tmp))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["out", "hello", "world", str(tmp / "job"), "seen", str(tmp)]
    assert proc.stderr == "err line\n"


def test_exit_codes_and_crashes_come_back(toy_server):
    path, tmp = toy_server
    assert _client(tmp, path, "exit", "3").returncode == 3
    crash = _client(tmp, path, "crash")
    assert crash.returncode == 1 and "RuntimeError: the job crashed" in crash.stderr


def test_a_cancelled_client_takes_its_job_down(toy_server):
    path, tmp = toy_server
    pid_file = tmp / "child.pid"
    (tmp / "job").mkdir(exist_ok=True)
    client = subprocess.Popen([sys.executable, str(tmp / "client.py"), "sleep", str(pid_file)], cwd=tmp / "job",
                              env={**os.environ, warm.ENV: path})
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    child = int(pid_file.read_text())
    client.send_signal(signal.SIGTERM)  # what Snakemake does to a job it cancels
    client.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the job's process {child} outlived its cancelled client")


def test_without_a_reachable_server_the_client_runs_the_job_itself(tmp_path):
    (tmp_path / "client.py").write_text(CLIENT.format(src=str(REPO / "src")))
    stale = tmp_path / "gone.socket"
    stale.touch()  # a socket path left behind, nobody listening
    for value in (str(stale), str(tmp_path / "never"), "off"):
        assert _client(tmp_path, value, "x").returncode == 99  # delegate() returned None


def test_run_uses_no_server_for_a_cluster_executor_or_when_switched_off(monkeypatch):
    assert warm.usable(["snakemake", "--profile", "slurm"]) is not None
    assert warm.usable(["snakemake", "--executor=slurm"]) is not None
    monkeypatch.setenv(warm.ENV, "off")
    assert warm.usable(["snakemake", "--cores", "2"]) == f"{warm.ENV}=off"


# -- the real command line: the same numbers --------------------------------------------------

CHEAP = ["linear_regression", "tensor_products"]


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory):
    base = tmp_path_factory.mktemp("warm")
    copies = {}
    for kind in ("direct", "warm"):
        copies[kind] = workcopy.make_copy(base / kind, datasets=[], experiments=CHEAP, scale="quick")
    return copies


def test_jobs_through_the_server_compute_byte_identical_metrics(two_copies, tmp_path):
    env = workcopy.env(two_copies["warm"])
    server = warm_server_command()
    timings = {}
    with warm.started(server, env, tmp_path / "server.log", timeout=300) as path:
        assert path, (tmp_path / "server.log").read_text()
        for kind, root in two_copies.items():
            job_env = {k: v for k, v in workcopy.env(root).items() if k != warm.ENV}
            if kind == "warm":
                job_env[warm.ENV] = path
            start = time.monotonic()
            for name in CHEAP:
                for step in (["train"] if name == "linear_regression" else []) + ["evaluate"]:
                    workcopy.run(["dllaunchpad", "--scale", "quick", step, name], root, env=job_env)
            timings[kind] = time.monotonic() - start
            bad = subprocess.run(["dllaunchpad", "--scale", "quick", "train", "no_such_experiment"], cwd=root,
                                 env=job_env, capture_output=True, text=True)
            assert bad.returncode == 1 and "no_such_experiment" in bad.stderr, (kind, bad.stderr)
    print(f"3 jobs: {timings['direct']:.1f} s in fresh interpreters, {timings['warm']:.1f} s forked warm")
    for name in CHEAP:
        direct = (two_copies["direct"] / f"reports/metrics/{name}.json").read_bytes()
        assert direct == (two_copies["warm"] / f"reports/metrics/{name}.json").read_bytes(), name
    assert (two_copies["warm"] / "models/linear_regression").is_dir()
