"""Downloading the raw datasets: the only module of the project that touches the network.

Why it looks the way it does:

* **Checksums, always.** Every file in ``params.yaml``'s ``datasets:`` table is pinned by size
  and sha256. A file is accepted only when both match, whether it came from the canonical URL,
  an HTTP mirror or a local folder. A mismatch is an error that names the file and both digests,
  never a warning: a silently different dataset would make every number downstream meaningless.

* **Atomic, so a killed job leaves nothing that looks finished.** Snakemake and DVC decide what
  to rerun from what exists on disk. Each download streams into a temporary file next to its
  target and is renamed into place only after it verified; a dataset folder is built in a
  temporary sibling folder and swapped in whole (both via :func:`dllaunchpad.io.atomic_path`).
  On any failure, Ctrl-C included, no partial file, temporary file or half-filled folder stays.

* **Mirrors.** ``LAUNCHPAD_MIRROR`` (or ``mirror:`` in params.yaml) points at a local folder,
  a ``file://`` URL or an ``http(s)://`` base URL laid out as ``<dataset folder>/<file name>``,
  e.g. the offline mirror in ``shared/mirror``. Its folder names equal our dataset keys except
  where :data:`MIRROR_FOLDER` says otherwise. Checksums are the same as for the canonical URLs,
  so a mirror cannot change the data.

* **Local folders are not downloads.** A dataset entry with ``source: {folder, kind}`` instead of
  ``files:`` (the reader's own MIDI files, images or CSV series) is fetched by
  :mod:`dllaunchpad.datasets.own_data`, not here; archives are read by
  :mod:`dllaunchpad.datasets.archives`. The exceptions are :mod:`dllaunchpad.datasets.errors`'s.

* **classical_piano has no canonical zip.** The 75-file zip of piano-midi.de sequences (Bernd
  Krueger, CC BY-SA 3.0 DE) is not served by any public host, so its ``url`` is null. From a
  mirror we take the zip. Without one we download the 75 MIDI files it was assembled from,
  each pinned by its own sha256, into ``<out_dir>/midi/``. They are listed in
  ``datasets/classical_piano_sources.csv`` (columns ``file,sha256,bytes,url,composer,license``),
  derived from the mirror's ``classical-piano/classical-piano.sources.csv``: the same files,
  sizes and digests (identical to the zip's members), with each
  ``https://github.com/<owner>/<repo>/blob/<commit>/<path>`` origin rewritten to its raw form
  ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``. All of them come from
  github.com/cheriell/ClassicalPianoMIDI-dataset at commit 505aef5e, a fixed commit, so the
  bytes cannot drift.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import logging
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

from dllaunchpad.datasets.errors import FetchError, UnsafeArchiveError
from dllaunchpad.io import atomic_path

__all__ = [
    "CHUNK_SIZE",
    "CLASSICAL_PIANO_SOURCES",
    "FetchError",
    "MIRROR_FOLDER",
    "PlannedFile",
    "RemoteFile",
    "TIMEOUT_S",
    "UnsafeArchiveError",
    "classical_piano_files",
    "download",
    "fetch_dataset",
    "main_fetch",
    "mirror_from_env",
    "plan_dataset",
    "sha256_file",
    "source_url",
    "verify_file",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20  # 1 MiB: bounded memory for the 200 MB RPS zips, few syscalls for small files
TIMEOUT_S = 60  # per socket operation, so a stalled server fails the job instead of hanging it
USER_AGENT = "dllaunchpad-fetch (+urllib)"

# Dataset key -> folder name in the mirror, where they differ (default: the key itself).
MIRROR_FOLDER = {"classical_piano": "classical-piano"}

CLASSICAL_PIANO_SOURCES = Path(__file__).resolve().parent / "classical_piano_sources.csv"
CLASSICAL_PIANO_SUBDIR = "midi"


@dataclass(frozen=True)
class RemoteFile:
    """One pinned file: its canonical name and URL (None: no public host) and its checksum."""

    name: str
    url: str | None
    sha256: str
    size: int

    @classmethod
    def from_spec(cls, d: dict) -> "RemoteFile":
        """Build from one ``files:`` entry of params.yaml (keys name, url, sha256, size)."""
        try:
            name = str(d["name"])
            sha = str(d["sha256"]).strip().lower()
            size = int(d["size"])
        except (KeyError, TypeError, ValueError) as e:
            raise FetchError(f"bad file entry {d!r}: {e}") from e
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise FetchError(f"bad sha256 for {name}: {d['sha256']!r} (want 64 hex digits)")
        # A name with a folder in it could write outside the dataset folder.
        if not name or PurePosixPath(name).name != name or name in (".", ".."):
            raise FetchError(f"bad file name {name!r}: must be a plain file name")
        url = d.get("url")
        return cls(name=name, url=None if url is None else str(url), sha256=sha, size=size)


@dataclass(frozen=True)
class PlannedFile:
    """One file :func:`fetch_dataset` will produce: path relative to out_dir, pin, source."""

    path: str
    file: RemoteFile
    source: str


# --------------------------------------------------------------------------------------------
# Where files come from


def _is_url(s: str) -> bool:
    return urllib.parse.urlsplit(s).scheme.lower() in ("http", "https", "file")


def _is_http(s: str) -> bool:
    return urllib.parse.urlsplit(s).scheme.lower() in ("http", "https")


def mirror_from_env(default: str | None = None) -> str | None:
    """``LAUNCHPAD_MIRROR`` if set and non-empty, else ``default`` (params.yaml ``mirror:``).

    A relative folder is made absolute against the current directory, so the value still means
    the same folder after a job changes directory. URLs are returned unchanged.
    """
    value = os.environ.get("LAUNCHPAD_MIRROR", "").strip() or default
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    if _is_url(value):
        return value
    return os.path.abspath(os.path.expanduser(value))


def source_url(dataset: str, f: RemoteFile, mirror: str | None) -> str:
    """Where to get ``f``: its canonical URL (``mirror`` None) or its place in the mirror."""
    if mirror is None:
        if f.url is None:
            raise FetchError(
                f"no canonical URL for {f.name} (dataset {dataset}); set LAUNCHPAD_MIRROR "
                f"(or `mirror:` in params.yaml) to a mirror that has it"
            )
        return f.url
    folder = MIRROR_FOLDER.get(dataset, dataset)
    if _is_url(mirror):
        # Names are plain file names (checked in from_spec); quote anyway for odd characters.
        return f"{mirror.rstrip('/')}/{urllib.parse.quote(folder)}/{urllib.parse.quote(f.name)}"
    return str(Path(mirror) / folder / f.name)


def classical_piano_files(csv_path: str | os.PathLike | None = None) -> list[RemoteFile]:
    """The 75 per-file MIDI sources of classical_piano (see the module docstring)."""
    path = Path(csv_path) if csv_path is not None else CLASSICAL_PIANO_SOURCES
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        RemoteFile.from_spec({"name": r["file"], "url": r["url"], "sha256": r["sha256"], "size": r["bytes"]})
        for r in rows
    ]


def plan_dataset(name: str, spec: dict, mirror: str | None = None) -> list[PlannedFile]:
    """The files :func:`fetch_dataset` will produce for ``name`` and where each comes from."""
    if name == "classical_piano" and mirror is None:
        # No public host serves the zip: take its 75 members one by one (module docstring).
        return [
            PlannedFile(f"{CLASSICAL_PIANO_SUBDIR}/{f.name}", f, source_url(name, f, None))
            for f in classical_piano_files()
        ]
    files = [RemoteFile.from_spec(d) for d in spec.get("files") or []]
    if not files:
        raise FetchError(f"dataset {name} lists no files in params.yaml")
    return [PlannedFile(f.name, f, source_url(name, f, mirror)) for f in files]


# --------------------------------------------------------------------------------------------
# Downloading and verifying one file


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, expected: RemoteFile) -> bool:
    """True if ``path`` is a file of the expected size and sha256 (size first: it is free)."""
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size != expected.size:
            return False
        return sha256_file(path) == expected.sha256
    except OSError:
        return False


def _show_progress(progress: bool) -> bool:
    # Progress bars only for a person watching: not in CI logs, not when stderr is a file.
    return progress and not os.environ.get("CI") and sys.stderr.isatty()


def _open_source(url_or_path: str) -> BinaryIO:
    """Open a URL (http, https, file) or a local path for reading, as a binary stream."""
    if _is_http(url_or_path):
        req = urllib.request.Request(url_or_path, headers={"User-Agent": USER_AGENT})
        try:
            # urlopen follows redirects; the timeout applies to every socket read too.
            return urllib.request.urlopen(req, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as e:
            e.close()
            raise FetchError(f"HTTP {e.code} {e.reason} for {url_or_path}") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise FetchError(f"cannot download {url_or_path}: {reason}") from e
    if urllib.parse.urlsplit(url_or_path).scheme.lower() == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url_or_path).path))
    else:
        path = Path(url_or_path)
    if not path.is_file():
        raise FetchError(
            f"{path} does not exist: the mirror has no copy of this dataset file. "
            f"Add the dataset to `skip_datasets` in params.yaml, or unset LAUNCHPAD_MIRROR "
            f"(and `mirror:`) to use the canonical URLs"
        )
    try:
        return open(path, "rb")
    except OSError as e:
        raise FetchError(f"cannot read {path}: {e}") from e


def download(url_or_path: str, dest: Path, expected: RemoteFile, progress: bool = True) -> Path:
    """Copy ``url_or_path`` to ``dest`` if, and only if, its size and sha256 are as expected.

    The bytes stream (1 MiB at a time) into a temporary file in ``dest``'s folder and are hashed
    on the way; the file is renamed onto ``dest`` only after both checks passed. On any failure
    nothing is left behind and an existing ``dest`` is untouched.
    """
    dest = Path(dest)
    h = hashlib.sha256()
    n = 0
    with atomic_path(dest) as tmp:  # cleans up on every exception, KeyboardInterrupt included
        src = _open_source(url_or_path)
        try:
            with src, open(tmp, "wb") as out, tqdm(
                total=expected.size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=expected.name,
                leave=False,
                disable=not _show_progress(progress),
            ) as bar:
                while chunk := src.read(CHUNK_SIZE):
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
                    bar.update(len(chunk))
        # Socket timeout, connection reset, truncated body (IncompleteRead), disk full.
        except (OSError, http.client.HTTPException) as e:
            raise FetchError(f"failed while downloading {url_or_path} to {dest}: {e}") from e
        actual = h.hexdigest()
        if n != expected.size or actual != expected.sha256:
            raise FetchError(
                f"checksum mismatch for {expected.name} from {url_or_path}: "
                f"expected sha256 {expected.sha256} ({expected.size} bytes), "
                f"got sha256 {actual} ({n} bytes); the file was not saved"
            )
    return dest


# --------------------------------------------------------------------------------------------
# Whole datasets


def _link_or_copy(src: Path, dst: Path) -> None:
    # A hard link keeps the verified bytes (and mtime) without copying 200 MB; the folder swap
    # then only unlinks the old names. Fall back to a copy where links are not allowed.
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fetch_dataset(
    name: str, spec: dict, out_dir: Path, mirror: str | None = None, progress: bool = True
) -> list[Path]:
    """Make ``out_dir`` hold the verified files of dataset ``name``; return their paths.

    ``spec`` is ``params["datasets"][name]``. Files already in ``out_dir`` that verify are kept;
    the others are downloaded. The new folder is built next to ``out_dir`` and swapped in at the
    end, so ``out_dir`` is either the old folder or the complete new one, never in between.
    Returned paths are in params.yaml order (for classical_piano without a mirror: ``midi/*``).
    """
    out_dir = Path(out_dir)
    plan = plan_dataset(name, spec, mirror)
    seen: set[str] = set()
    for p in plan:
        if p.path in seen:
            raise FetchError(f"dataset {name} lists {p.path} twice")
        seen.add(p.path)

    have = {p.path for p in plan if verify_file(out_dir / p.path, p.file)}
    final = [out_dir / p.path for p in plan]
    if len(have) == len(plan):
        log.info("%s: all %d files present and verified in %s", name, len(plan), out_dir)
        return final  # nothing to do; leave the folder (and its mtime) alone

    with atomic_path(out_dir) as work:
        work.mkdir()
        for i, p in enumerate(plan, 1):
            dest = work / p.path
            if p.path in have:
                _link_or_copy(out_dir / p.path, dest)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            log.info("%s: [%d/%d] %s <- %s", name, i, len(plan), p.path, p.source)
            download(p.source, dest, p.file, progress=progress)
    return final


def main_fetch(name: str, params: dict, root: Path = Path("."), progress: bool = True) -> list[Path]:
    """Fetch dataset ``name`` into ``<root>/data/raw/<name>``, honouring LAUNCHPAD_MIRROR."""
    if name not in params.get("datasets", {}):
        raise FetchError(f"unknown dataset {name!r}; params.yaml lists {sorted(params.get('datasets', {}))}")
    mirror = mirror_from_env(params.get("mirror"))
    return fetch_dataset(name, params["datasets"][name], Path(root) / "data" / "raw" / name, mirror, progress)


def datasets_missing_from_mirror(names, mirror: str | None) -> list[str]:
    """Datasets a *local* mirror folder has no copy of (an HTTP mirror cannot be listed, so it
    is trusted). `dllaunchpad run` leaves these out, and says so, instead of failing late.
    `names` may be a mapping (name -> Dataset or params entry): datasets read from a local
    folder (`source:`, datasets/own_data.py) use no mirror and are never missing from one."""
    if mirror is None or _is_http(mirror):
        return []
    if isinstance(names, dict):
        names = [n for n, d in names.items() if not getattr(d, "spec", d).get("source")]
    root = Path(urllib.parse.urlsplit(mirror).path) if _is_url(mirror) else Path(mirror)
    return [n for n in names if not (root / MIRROR_FOLDER.get(n, n)).is_dir()]
