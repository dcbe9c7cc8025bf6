"""fetch_<dataset> for a dataset read from a local folder (``source: {folder, kind}``).

The folder's files of the entry's kind (pipeline/folders.py: MIDI, images in class folders, one
CSV series) are copied into ``data/raw/<dataset>/<subdir>/`` at the same relative paths, each
hashed on the way, and ``data/raw/<dataset>/manifest.json`` lists them (path, sha256, size): the
raw folder's content changes exactly when a file that was taken changes, like a download whose
pin changed. Zip and tar archives in the folder are unpacked in place of themselves
(``songs.zip`` -> ``songs/<member>``), through datasets/archives.py.

Input that is broken is skipped, logged, and counted in the manifest (``skipped``: path and
reason): an empty file, a file whose bytes are not what its extension says (a ``.mid`` that does
not start with ``MThd``, a ``.png`` that is not a PNG, a ``.csv`` that is not UTF-8 text), a
truncated or corrupt archive (everything already taken from it is dropped), an image outside any
class folder, two files landing on the same path. Input that is hostile is an error that names
it and leaves nothing behind: an archive member escaping the folder (``../``, an absolute path),
a link member, a decompression bomb. A missing or empty folder, or one with nothing usable left,
is an error too. Symbolic links in the folder are not followed (they are not listed at all).

Like every fetch, the output folder is built next to its place and swapped in whole.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from pathlib import Path
from typing import BinaryIO

from dllaunchpad import io
from dllaunchpad.datasets import archives
from dllaunchpad.datasets.errors import BrokenArchiveError, FetchError
from dllaunchpad.pipeline import folders

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
SNIFF_BYTES = 1 << 16  # a CSV must be UTF-8 text without NUL bytes in (at least) its first 64 KiB

# File signatures ("magic numbers") by extension: the first bytes every such file starts with.
MAGIC = {
    ".mid": (b"MThd",), ".midi": (b"MThd",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".bmp": (b"BM",),
}


def content_problem(name: str, head: bytes) -> str | None:
    """Why a file's first bytes say it is not what its name says, or None."""
    suffix = Path(name).suffix.lower()
    if not head:
        return "empty file"
    if suffix in MAGIC:
        if not head.startswith(MAGIC[suffix]):
            return f"content is not a {suffix} file (starts with {head[:8]!r})"
        return None
    if suffix == ".csv":
        sample = head[:SNIFF_BYTES]
        if b"\0" in sample:
            return "content is not text (NUL bytes): not a .csv file"
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        except UnicodeDecodeError as e:
            return f"content is not UTF-8 text: not a .csv file ({e.reason} at byte {e.start})"
    return None


def layout_problem(kind: folders.Kind, rel: str) -> str | None:
    if kind.name == "images" and "/" not in rel:
        return "not in a class folder (images go in <folder>/<class name>/)"
    return None


class _Taker:
    """Copies accepted files into `work/<subdir>/`, hashing them, and records what it skipped."""

    def __init__(self, name: str, kind: folders.Kind, work: Path):
        self.name, self.kind, self.work = name, kind, work
        self.files: dict[str, dict] = {}
        self.skipped: list[dict] = []

    def skip(self, rel: str, reason: str) -> None:
        log.warning("%s: skipping %s: %s", self.name, rel, reason)
        self.skipped.append({"path": rel, "reason": reason})

    def take(self, rel: str, stream: BinaryIO, archive: str | None = None) -> bool:
        key = f"{self.kind.subdir}/{rel}"
        if not folders.takes(self.kind, rel):  # an archive's member of another kind
            problem = f"not a {self.kind.name} file ({', '.join(self.kind.extensions)})"
        elif key in self.files:
            problem = "another file of the folder or of an archive has the same path"
        else:
            problem = layout_problem(self.kind, rel)
        if problem:
            self.skip(rel, problem)
            return False
        head = stream.read(max(CHUNK_SIZE, SNIFF_BYTES))
        problem = content_problem(rel, head)
        if problem:
            self.skip(rel, problem)
            return False
        target = self.work / key
        target.parent.mkdir(parents=True, exist_ok=True)
        h, size = hashlib.sha256(), 0
        with open(target, "wb") as out:
            chunk = head
            while chunk:
                out.write(chunk)
                h.update(chunk)
                size += len(chunk)
                chunk = stream.read(CHUNK_SIZE)
        self.files[key] = {"path": key, "sha256": h.hexdigest(), "size": size, **({"archive": archive} if archive else {})}
        return True

    def take_archive(self, rel: str, path: Path, limits: archives.Limits) -> None:
        """Every member, under the archive's own name; a broken archive is skipped whole."""
        base = folders.strip_archive_suffix(rel)
        taken, skips_before = [], len(self.skipped)
        try:
            for member, stream in archives.members(path, limits):
                member_rel = f"{base}/{member.replace(chr(92), '/').strip('/')}"
                if folders.hidden(member_rel):
                    continue
                if self.take(member_rel, stream, archive=rel):
                    taken.append(f"{self.kind.subdir}/{member_rel}")
        except BrokenArchiveError as e:
            for key in taken:  # a truncated stream may have yielded good members before failing
                path = self.work / self.files.pop(key)["path"]
                path.unlink()
                for parent in path.parents:  # and the folders they made, up to <subdir>/
                    if parent == self.work / self.kind.subdir or any(parent.iterdir()):
                        break
                    parent.rmdir()
            del self.skipped[skips_before:]  # the archive is skipped whole, with one reason
            self.skip(rel, f"broken archive: {e}")


def source_folder(name: str, spec: dict, root: Path) -> Path:
    folder = Path(root) / folders.folder_as_written(spec)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FetchError(f"{name}: the source folder {folder} {what} (datasets.{name}.source.folder in params.yaml; "
                         f"a relative folder is taken from the repository root)")
    return folder


def fetch_folder(name: str, spec: dict, out_dir: Path, root: Path = Path("."),
                 limits: archives.Limits = archives.Limits()) -> dict:
    """Make ``out_dir`` hold the entry's files and ``manifest.json``; return the manifest."""
    kind = folders.kind_of(spec)
    folder, out_dir = source_folder(name, spec, root), Path(out_dir)
    here, there = folder.resolve(), out_dir.resolve()
    if here == there or there in here.parents or here in there.parents:
        raise FetchError(f"{name}: the source folder {folder} overlaps the fetch's output {out_dir}")
    rels = folders.candidates(folder, kind)
    if not rels:
        raise FetchError(f"{name}: {folder} holds no {kind.name} files ({', '.join(kind.extensions)}, or zip/tar "
                         f"archives of them); expected {kind.description}")
    with io.atomic_path(out_dir) as work:
        work.mkdir()
        taker = _Taker(name, kind, work)
        for rel in rels:
            if folders.is_archive(rel):
                taker.take_archive(rel, folder / rel, limits)
            else:
                with open(folder / rel, "rb") as fh:
                    taker.take(rel, fh)
        files = [taker.files[k] for k in sorted(taker.files)]
        if not files:
            reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in taker.skipped[:5])
            raise FetchError(f"{name}: nothing usable in {folder}: all {len(taker.skipped)} candidate file(s) "
                             f"skipped ({reasons})")
        if kind.name == "csv_series" and len(files) != 1:
            raise FetchError(f"{name}: a csv_series folder holds one .csv file; {folder} gives {len(files)}: "
                             f"{', '.join(f['path'] for f in files)}")
        manifest = {"dataset": name, "kind": kind.name, "folder": str(spec["source"]["folder"]),
                    "files": files, "skipped": sorted(taker.skipped, key=lambda s: s["path"]),
                    "counts": {"files": len(files), "skipped": len(taker.skipped),
                               "bytes": sum(f["size"] for f in files)}}
        io.write_json(work / folders.MANIFEST, manifest)
    log.info("%s: %d file(s) from %s into %s (%d skipped)", name, len(files), folder, out_dir, len(taker.skipped))
    return manifest


def read_manifest(raw_dir: Path) -> dict:
    import json

    path = Path(raw_dir) / folders.MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the dataset's fetch step first")
    return json.loads(path.read_text())


def main_fetch_folder(name: str, params: dict, root: Path = Path(".")) -> dict:
    """Fetch local-folder dataset ``name`` into ``<root>/data/raw/<name>``."""
    return fetch_folder(name, params["datasets"][name], Path(root) / "data" / "raw" / name, root)
