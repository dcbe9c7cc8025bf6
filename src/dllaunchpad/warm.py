"""A warm interpreter for local runs: import torch and Lightning once, fork once per job.

Every stage of the DAG is a fresh `dllaunchpad <step> <name>` process, and importing torch and
Lightning (which pulls in torchmetrics, scipy.signal, matplotlib and torch._dynamo) costs 7-9 s
of CPU on this project's 2-core machines: most of a quick job, and most of the quick DAG.

For a local run, `dllaunchpad run` starts one server (`dllaunchpad warm-server`, see cli.py)
that has imported all of that and waits on a UNIX socket in a private folder; the jobs find it
through $LAUNCHPAD_WARM. A job's own `dllaunchpad` process is then a small client: it sends
its arguments, working directory and environment, and hands over its stdin, stdout and stderr
(SCM_RIGHTS). The server forks; the child takes those descriptors, that folder and that
environment, runs the job exactly as the client would have, and the server reports its exit
status back; the client exits with it. The job is still a Snakemake job with its own log,
benchmark, inputs and outputs: only the start-up is shared.

What a fork does not reset, the child does: os.environ, tempfile's cached folder and the
signal handlers. Thread counts are the job's own to set (cli.pin_threads): torch and numpy read
OMP_NUM_THREADS only when they load, which in a child was before the job began. The server
runs nothing before it forks, so no thread pool exists to be inherited; it is not used where a
GPU is present (CUDA does not survive a fork) or off Linux, and `run` does not start it for a
cluster executor (each job is its own process there).

If the client cannot reach a server (none, or a stale socket), it runs the job itself: the
server only saves start-up time and never changes what a job computes (tests/test_warm.py
compares the metrics files byte for byte). If the client dies (Snakemake cancels the job), the
server kills the child; if the server dies, the client reports it and fails the job.

This module knows nothing of the package: `serve` is given the entry point and the imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Iterator

ENV = "LAUNCHPAD_WARM"      # the socket's path, for the jobs; "off" disables the server in `run`
_LEN = struct.Struct("!I")  # request length, then the request (JSON)
_STATUS = struct.Struct("!i")
IN_CHILD = False            # set in a forked child: it runs the job, it never delegates again


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


# -- the client: a job's own `dllaunchpad` process -----------------------------------------------

def delegate(argv: list[str]) -> int | None:
    """Run `argv` in the warm server named by $LAUNCHPAD_WARM; its exit status, or None when
    there is no server to reach (the caller then runs the job itself)."""
    path = os.environ.get(ENV)
    if IN_CHILD or not path or path == "off":
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    with sock:
        request = json.dumps({"argv": list(argv), "argv0": sys.argv[0], "cwd": os.getcwd(),
                              "env": dict(os.environ)}).encode()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            socket.send_fds(sock, [_LEN.pack(len(request))], [0, 1, 2])
        except OSError:  # e.g. no stdin at all: nothing was sent, so run the job here
            return None
        sock.sendall(request)
        try:
            (status,) = _STATUS.unpack(_recv_exactly(sock, _STATUS.size))
        except (ConnectionError, OSError):
            print(f"error: the warm server ({path}) went away while it ran `dllaunchpad {' '.join(argv)}`; "
                  f"rerun the job (or set {ENV}=off to run every job in its own interpreter)", file=sys.stderr)
            return 1
        return status


# -- the server ----------------------------------------------------------------------------------

def _child(request: dict, fds: list[int], entry: Callable[[list[str]], int]) -> None:
    """In the forked child: become the client's process, run the job, exit with its status."""
    global IN_CHILD
    IN_CHILD = True
    code = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as a fresh interpreter would set it
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # gettempdir() reads the job's TMPDIR again
        sys.argv = [request["argv0"], *request["argv"]]
        code = entry(list(request["argv"]))
    except SystemExit as exc:  # argparse errors, sys.exit() in a job
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - a job's crash is reported like an uncaught exception
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


def serve(path: str, entry: Callable[[list[str]], int], preload: Callable[[], None]) -> None:
    """Import what the jobs import (`preload`), listen on `path`, and fork `entry(argv)` per
    request. Prints "ready" on stdout once it listens. Ends on SIGTERM, killing its children."""
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    running: dict[socket.socket, int] = {}  # client connection -> child pid

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    sys.stderr.flush()
    try:
        while True:
            for key, _ in selector.select(timeout=0.1):
                if key.fileobj is listener:
                    _accept(listener, selector, running, entry)
                else:  # a client's socket is readable: it sends nothing more, so it has gone
                    conn = key.fileobj
                    selector.unregister(conn)
                    with contextlib.suppress(OSError):
                        os.kill(running[conn], signal.SIGTERM)
            for conn, pid in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)  # -N: killed by signal N
                    with contextlib.suppress(OSError):
                        conn.sendall(_STATUS.pack(code if code >= 0 else 128 - code))
                    with contextlib.suppress(KeyError, ValueError):
                        selector.unregister(conn)
                    conn.close()
                    del running[conn]
    finally:
        for pid in running.values():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in running.values():
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def _accept(listener, selector, running, entry) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)
        msg, fds, _, _ = socket.recv_fds(conn, _LEN.size, 3)
        if len(msg) < _LEN.size:
            msg += _recv_exactly(conn, _LEN.size - len(msg))
        (n,) = _LEN.unpack(msg)
        request = json.loads(_recv_exactly(conn, n))
        if len(fds) != 3:
            raise ValueError(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
    except (OSError, ValueError, ConnectionError) as exc:
        print(f"warm server: dropped a request: {exc}", file=sys.stderr, flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in running:
            other.close()
        conn.close()
        _child(request, fds, entry)  # never returns
    for fd in fds:
        os.close(fd)
    conn.setblocking(False)
    running[conn] = pid
    selector.register(conn, selectors.EVENT_READ)


# -- starting and stopping it, for `dllaunchpad run` ---------------------------------------------

def usable(snakemake_args: list[str]) -> str | None:
    """Why a local run should not use a warm server, or None when it can."""
    if os.environ.get(ENV) == "off":
        return f"{ENV}=off"
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/kfd")):
        return "a GPU is present (CUDA and ROCm do not survive a fork)"
    if {"--profile", "--executor", "-e", "--slurm"} & {a.split("=", 1)[0] for a in snakemake_args}:
        return "a cluster executor runs each job on its own node"
    return None


@contextlib.contextmanager
def started(command: list[str], env: dict, log_path: Path, timeout: float = 300) -> Iterator[str | None]:
    """Start `command + [socket path]` (the server) and yield the socket path once it is ready,
    or None (with a note on stderr) if it did not come up: the run then goes on without it."""
    folder = tempfile.mkdtemp(prefix="launchpad-warm-", dir="/tmp" if os.path.isdir("/tmp") else None)
    path = os.path.join(folder, "socket")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen([*command, path], stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                    env={k: v for k, v in env.items() if k != ENV}, text=True)
        ready = _wait_ready(proc, timeout)
        if not ready:
            print(f"note: the warm server did not start (see {log_path}); every job imports torch itself",
                  file=sys.stderr)
        yield path if ready else None
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _wait_ready(proc: subprocess.Popen, timeout: float) -> bool:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=max(0.0, deadline - time.monotonic())):
            return proc.stdout.readline().strip() == "ready"
        if proc.poll() is not None:
            return False
    return False
