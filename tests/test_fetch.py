"""Tests for dllaunchpad.fetch: checksums, atomicity, mirrors, safe zip extraction.

No test reaches the internet: remote servers are played by http.server on 127.0.0.1, and the
real data come from the offline mirror next to the repository (tests skip if it is absent).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from dllaunchpad.datasets import fetch
from dllaunchpad.datasets.archives import safe_extract_zip
from dllaunchpad.datasets.fetch import FetchError, RemoteFile, UnsafeArchiveError, classical_piano_files, download, fetch_dataset, main_fetch, mirror_from_env, plan_dataset, source_url, verify_file

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "mirror"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason="offline mirror not present")
RAW_PREFIX = (
    "https://raw.githubusercontent.com/cheriell/ClassicalPianoMIDI-dataset/"
    "505aef5e7539ac56cdb4cbc72d08a98bfaf7a208/"
)


@pytest.fixture(scope="module")
def params() -> dict:
    with open(REPO / "params.yaml") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(autouse=True)
def _no_env_mirror(monkeypatch):
    # A developer's LAUNCHPAD_MIRROR must not change what the tests exercise.
    monkeypatch.delenv("LAUNCHPAD_MIRROR", raising=False)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_for(files: dict[str, bytes], url_base: str | None = None) -> dict:
    """A params.yaml-style dataset spec pinning the given name -> content."""
    return {
        "files": [
            {
                "name": n,
                "url": None if url_base is None else f"{url_base}/{n}",
                "sha256": sha(b),
                "size": len(b),
            }
            for n, b in files.items()
        ]
    }


def make_mirror(root: Path, dataset: str, files: dict[str, bytes]) -> Path:
    folder = root / fetch.MIRROR_FOLDER.get(dataset, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    for n, b in files.items():
        (folder / n).write_bytes(b)
    return root


def leftovers(parent: Path) -> list[str]:
    """Everything in parent (temp files and folders are hidden, so list all)."""
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serve a fresh folder over HTTP on an ephemeral port; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ------------------------------------------------------------------------------------------
# RemoteFile, mirror_from_env, source_url


def test_remote_file_from_spec():
    f = RemoteFile.from_spec({"name": "a.bin", "url": None, "sha256": "AB" * 32, "size": "3"})
    assert f == RemoteFile("a.bin", None, "ab" * 32, 3)
    assert RemoteFile.from_spec({"name": "a", "sha256": "0" * 64, "size": 1}).url is None
    with pytest.raises(FetchError, match="sha256"):
        RemoteFile.from_spec({"name": "a", "url": None, "sha256": "xyz", "size": 1})
    with pytest.raises(FetchError, match="plain file name"):
        RemoteFile.from_spec({"name": "../a", "url": None, "sha256": "0" * 64, "size": 1})


def test_remote_file_from_every_params_entry(params):
    for name, ds in params["datasets"].items():
        for d in ds["files"]:
            f = RemoteFile.from_spec(d)
            assert f.name == d["name"] and f.size == d["size"] and len(f.sha256) == 64


def test_mirror_from_env(monkeypatch, tmp_path):
    assert mirror_from_env() is None
    assert mirror_from_env("http://host/m") == "http://host/m"
    monkeypatch.setenv("LAUNCHPAD_MIRROR", "")
    assert mirror_from_env(None) is None  # empty counts as unset
    monkeypatch.setenv("LAUNCHPAD_MIRROR", "https://example.org/mirror/")
    assert mirror_from_env("/ignored") == "https://example.org/mirror/"  # env wins
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAUNCHPAD_MIRROR", "rel/mirror")
    assert mirror_from_env() == str(tmp_path / "rel" / "mirror")
    monkeypatch.delenv("LAUNCHPAD_MIRROR")
    assert mirror_from_env("other") == str(tmp_path / "other")


def test_source_url():
    f = RemoteFile("x.zip", "https://canon/x.zip", "0" * 64, 1)
    assert source_url("iris", f, None) == "https://canon/x.zip"
    assert source_url("iris", f, "/m") == str(Path("/m") / "iris" / "x.zip")
    # the one dataset whose mirror folder differs from its key
    assert source_url("classical_piano", f, "/m") == str(Path("/m") / "classical-piano" / "x.zip")
    assert source_url("classical_piano", f, "http://h:8/m/") == "http://h:8/m/classical-piano/x.zip"
    assert source_url("iris", f, "file:///m") == "file:///m/iris/x.zip"
    nourl = RemoteFile("c.zip", None, "0" * 64, 1)
    with pytest.raises(FetchError, match=r"no canonical URL for c\.zip.*LAUNCHPAD_MIRROR"):
        source_url("classical_piano", nourl, None)


# ------------------------------------------------------------------------------------------
# The real mirror


@needs_mirror
@pytest.mark.parametrize("dataset", ["iris", "sunspots", "boston", "classical_piano"])
def test_fetch_from_real_mirror(params, tmp_path, dataset):
    spec = params["datasets"][dataset]
    out = tmp_path / "data" / "raw" / dataset
    got = fetch_dataset(dataset, spec, out, mirror=str(MIRROR), progress=False)
    assert got == [out / d["name"] for d in spec["files"]]
    for d, p in zip(spec["files"], got):
        assert p.stat().st_size == d["size"]
        assert sha(p.read_bytes()) == d["sha256"]
    assert leftovers(out) == sorted(d["name"] for d in spec["files"])  # no temp files inside
    assert leftovers(out.parent) == [dataset]  # nor next to it


@needs_mirror
def test_main_fetch_uses_env_mirror(params, tmp_path, monkeypatch):
    monkeypatch.setenv("LAUNCHPAD_MIRROR", f"file://{MIRROR}")
    (p,) = main_fetch("iris", params, root=tmp_path, progress=False)
    assert p == tmp_path / "data" / "raw" / "iris" / "iris.csv"
    assert verify_file(p, RemoteFile.from_spec(params["datasets"]["iris"]["files"][0]))
    with pytest.raises(FetchError, match="unknown dataset"):
        main_fetch("nope", params, root=tmp_path)


@needs_mirror
def test_tampered_mirror_leaves_nothing(params, tmp_path):
    spec = params["datasets"]["iris"]
    data = bytearray((MIRROR / "iris" / "iris.csv").read_bytes())
    data[100] ^= 0x01  # one flipped bit, same size
    mirror = make_mirror(tmp_path / "mirror", "iris", {"iris.csv": bytes(data)})
    out = tmp_path / "raw" / "iris"
    with pytest.raises(FetchError) as ei:
        fetch_dataset("iris", spec, out, mirror=str(mirror), progress=False)
    msg = str(ei.value)
    assert "iris.csv" in msg
    assert spec["files"][0]["sha256"] in msg
    assert sha(bytes(data)) in msg
    assert str(spec["files"][0]["size"]) in msg
    assert not out.exists() or leftovers(out) == []
    assert leftovers(out.parent) == []  # no temp sibling folder, no temp file


@needs_mirror
def test_rps_is_not_mirrored(params, tmp_path):
    with pytest.raises(FetchError, match=r"rps\.zip.*no copy.*skip_datasets.*LAUNCHPAD_MIRROR"):
        fetch_dataset("rps", params["datasets"]["rps"], tmp_path / "rps", str(MIRROR), progress=False)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Errors and atomicity with small generated files


def test_size_mismatch(tmp_path):
    good = b"hello world\n"
    for served in (good[:-1], good + b"!"):  # shorter and longer
        mirror = make_mirror(tmp_path / "m", "ds", {"a.txt": served})
        out = tmp_path / "out"
        with pytest.raises(FetchError) as ei:
            fetch_dataset("ds", spec_for({"a.txt": good}), out, str(mirror), progress=False)
        msg = str(ei.value)
        assert "a.txt" in msg and f"({len(good)} bytes)" in msg and f"({len(served)} bytes)" in msg
        assert sha(good) in msg and sha(served) in msg
        assert not out.exists()


def test_missing_mirror_file(tmp_path):
    mirror = make_mirror(tmp_path / "m", "ds", {})
    with pytest.raises(FetchError) as ei:
        fetch_dataset("ds", spec_for({"gone.bin": b"x"}), tmp_path / "out", str(mirror), progress=False)
    msg = str(ei.value)
    assert str(mirror / "ds" / "gone.bin") in msg
    assert "no copy" in msg and "skip_datasets" in msg and "LAUNCHPAD_MIRROR" in msg
    assert not (tmp_path / "out").exists()


def test_no_url_without_mirror(tmp_path):
    with pytest.raises(FetchError, match=r"no canonical URL for x\.bin.*LAUNCHPAD_MIRROR"):
        fetch_dataset("ds", spec_for({"x.bin": b"x"}), tmp_path / "out", None, progress=False)
    assert not (tmp_path / "out").exists()


def test_download_and_verify_file(tmp_path):
    data = os.urandom(3 * fetch.CHUNK_SIZE + 17)  # several chunks
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    rf = RemoteFile("f.bin", None, sha(data), len(data))
    dest = tmp_path / "d" / "f.bin"
    assert download(str(src), dest, rf, progress=False) == dest
    assert dest.read_bytes() == data and verify_file(dest, rf)
    assert leftovers(dest.parent) == ["f.bin"]
    assert not verify_file(tmp_path / "missing", rf)
    assert not verify_file(dest, RemoteFile("f.bin", None, sha(data), len(data) + 1))
    assert not verify_file(dest, RemoteFile("f.bin", None, "0" * 64, len(data)))
    # a failed download leaves an existing dest untouched
    with pytest.raises(FetchError):
        download(str(src), dest, RemoteFile("f.bin", None, "0" * 64, len(data)), progress=False)
    assert dest.read_bytes() == data and leftovers(dest.parent) == ["f.bin"]


def test_keyboard_interrupt_mid_download_leaves_nothing(tmp_path, monkeypatch):
    data = b"a" * (fetch.CHUNK_SIZE + 10)

    class Interrupted(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read(n)

    monkeypatch.setattr(fetch, "_open_source", lambda u: Interrupted(data))
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        fetch_dataset("ds", spec_for({"a.bin": data}, "http://x"), out, None, progress=False)
    assert leftovers(tmp_path) == []


def test_refetch_keeps_verified_and_replaces_bad(tmp_path, monkeypatch):
    files = {"a.txt": b"alpha\n", "b.txt": b"beta\n"}
    mirror = make_mirror(tmp_path / "m", "ds", files)
    spec = spec_for(files)
    out = tmp_path / "raw" / "ds"
    fetch_dataset("ds", spec, out, str(mirror), progress=False)
    a_stat = (out / "a.txt").stat()

    # Everything verifies: download must not be called at all.
    def boom(*a, **k):
        raise AssertionError("download called for a verified file")

    monkeypatch.setattr(fetch, "download", boom)
    assert fetch_dataset("ds", spec, out, str(mirror), progress=False) == [out / "a.txt", out / "b.txt"]
    monkeypatch.undo()

    # b.txt corrupted: only b.txt is downloaded again; a.txt is kept as is.
    (out / "b.txt").write_bytes(b"BETA\n")
    calls = []
    real = fetch.download
    monkeypatch.setattr(fetch, "download", lambda u, d, e, progress=True: calls.append(e.name) or real(u, d, e, progress))
    fetch_dataset("ds", spec, out, str(mirror), progress=False)
    assert calls == ["b.txt"]
    assert (out / "b.txt").read_bytes() == b"beta\n"
    assert (out / "a.txt").stat().st_mtime_ns == a_stat.st_mtime_ns
    assert leftovers(out) == ["a.txt", "b.txt"] and leftovers(out.parent) == ["ds"]


def test_failed_refetch_leaves_old_folder_untouched(tmp_path):
    files = {"a.txt": b"alpha\n", "b.txt": b"beta\n"}
    mirror = make_mirror(tmp_path / "m", "ds", {"a.txt": files["a.txt"]})  # b.txt missing
    out = tmp_path / "raw" / "ds"
    out.mkdir(parents=True)
    (out / "a.txt").write_bytes(b"stale\n")
    with pytest.raises(FetchError, match="b.txt"):
        fetch_dataset("ds", spec_for(files), out, str(mirror), progress=False)
    assert leftovers(out) == ["a.txt"] and (out / "a.txt").read_bytes() == b"stale\n"
    assert leftovers(out.parent) == ["ds"]


# ------------------------------------------------------------------------------------------
# HTTP


@needs_mirror
def test_http_mirror(params, tmp_path, http_root):
    root, base = http_root
    for ds in ("iris", "sunspots"):
        shutil.copytree(MIRROR / ds, root / ds)
    for ds in ("iris", "sunspots"):
        spec = params["datasets"][ds]
        got = fetch_dataset(ds, spec, tmp_path / "raw" / ds, base + "/", progress=False)
        for d, p in zip(spec["files"], got):
            assert sha(p.read_bytes()) == d["sha256"]


def test_http_canonical_url_and_404(tmp_path, http_root):
    root, base = http_root
    data = os.urandom(5000)
    (root / "f.bin").write_bytes(data)
    out = tmp_path / "out"
    (p,) = fetch_dataset("ds", spec_for({"f.bin": data}, base), out, None, progress=False)
    assert p.read_bytes() == data

    url = f"{base}/missing/g.bin"
    with pytest.raises(FetchError, match=re.escape(url)) as ei:
        download(url, tmp_path / "g.bin", RemoteFile("g.bin", url, sha(b""), 0), progress=False)
    assert "404" in str(ei.value)
    assert not (tmp_path / "g.bin").exists()
    # the same through fetch_dataset with an HTTP mirror lacking the dataset
    with pytest.raises(FetchError, match=re.escape(f"{base}/other/f.bin")):
        fetch_dataset("other", spec_for({"f.bin": data}), tmp_path / "o", base, progress=False)
    assert not (tmp_path / "o").exists()


def test_connection_refused(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.bin"
    with pytest.raises(FetchError, match=re.escape(url)):
        download(url, tmp_path / "x.bin", RemoteFile("x.bin", url, "0" * 64, 1), progress=False)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Zip extraction


def _zip(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_safe_extract_zip_ok(tmp_path):
    z = _zip(tmp_path / "ok.zip", [("a.txt", b"A"), ("sub/b.txt", b"B"), ("sub/", b"")])
    dest = tmp_path / "dest"
    got = safe_extract_zip(z, dest)
    assert got == [dest / "a.txt", dest / "sub" / "b.txt"]
    assert (dest / "a.txt").read_bytes() == b"A" and (dest / "sub" / "b.txt").read_bytes() == b"B"
    assert leftovers(tmp_path) == ["dest", "ok.zip"]


@pytest.mark.parametrize(
    "bad, symlink",
    [("../evil", None), ("/abs/evil", None), ("sub/../../evil", None), (None, "link")],
)
def test_safe_extract_zip_refuses(tmp_path, bad, symlink):
    # The bad member comes after a good one: nothing may be written before all are checked.
    members = [("good.txt", b"ok")] + ([(bad, b"evil")] if bad else [])
    z = _zip(tmp_path / "bad.zip", members, symlink=symlink)
    dest = tmp_path / "x" / "dest"
    with pytest.raises(UnsafeArchiveError) as ei:
        safe_extract_zip(z, dest)
    assert repr(bad or symlink) in str(ei.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == ["bad.zip"]  # no evil file, no temp folder, not even x/


# ------------------------------------------------------------------------------------------
# classical_piano: per-file canonical sources


def test_classical_piano_sources_csv():
    files = classical_piano_files()
    assert len(files) == 75
    assert len({f.name for f in files}) == 75
    for f in files:
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256)
        assert f.url.startswith(RAW_PREFIX) and f.url.endswith("/" + f.name)
        assert f.name.endswith(".mid") and f.size > 0


def test_classical_piano_plan(params):
    spec = params["datasets"]["classical_piano"]
    plan = plan_dataset("classical_piano", spec, None)
    assert len(plan) == 75
    assert all(p.path == f"midi/{p.file.name}" and p.source == p.file.url for p in plan)
    (z,) = plan_dataset("classical_piano", spec, "/m")
    assert z.path == "classical-piano.zip" and z.source == str(Path("/m/classical-piano/classical-piano.zip"))


@needs_mirror
def test_classical_piano_sources_match_mirror_zip():
    with zipfile.ZipFile(MIRROR / "classical-piano" / "classical-piano.zip") as zf:
        for f in classical_piano_files():
            data = zf.read(f.name)
            assert (len(data), sha(data)) == (f.size, f.sha256)


@needs_mirror
def test_classical_piano_per_file_end_to_end(params, tmp_path, http_root, monkeypatch):
    root, base = http_root
    chosen = classical_piano_files()[:3]
    with zipfile.ZipFile(MIRROR / "classical-piano" / "classical-piano.zip") as zf:
        for f in chosen:
            served = root / f.url[len(RAW_PREFIX):]  # keep the repository layout (midis/<Composer>/)
            served.parent.mkdir(parents=True, exist_ok=True)
            served.write_bytes(zf.read(f.name))
    local = [RemoteFile(f.name, base + "/" + f.url[len(RAW_PREFIX):], f.sha256, f.size) for f in chosen]
    monkeypatch.setattr(fetch, "classical_piano_files", lambda csv_path=None: local)

    out = tmp_path / "raw" / "classical_piano"
    got = fetch_dataset("classical_piano", params["datasets"]["classical_piano"], out, None, progress=False)
    assert got == [out / "midi" / f.name for f in chosen]
    for f, p in zip(chosen, got):
        assert verify_file(p, f)
    assert leftovers(out) == ["midi"] and leftovers(out / "midi") == sorted(f.name for f in chosen)

    # One file tampered on the server: the whole fetch fails and nothing is written.
    shutil.rmtree(out)
    served = root / chosen[1].url[len(RAW_PREFIX):]
    data = bytearray(served.read_bytes())
    data[-1] ^= 0xFF  # MIDI files end in 00 (end-of-track), so flip rather than overwrite
    served.write_bytes(bytes(data))
    with pytest.raises(FetchError, match=re.escape(chosen[1].name)):
        fetch_dataset("classical_piano", params["datasets"]["classical_piano"], out, None, progress=False)
    assert not out.exists() and leftovers(out.parent) == []
