"""Zip and tar archives that may be hostile: every member is checked before its bytes are used.

Refused, with :class:`UnsafeArchiveError` (the whole archive; a hostile archive is an error, never
something to skip quietly):

* a member path that is absolute, has a drive, or contains ``..`` (it would be written outside
  the destination); a symbolic or hard link, a device or a FIFO (a link may point anywhere);
* a decompression bomb: a member whose declared *or actual* uncompressed size exceeds
  ``Limits.member_bytes``, an archive whose members add up to more than ``Limits.total_bytes``,
  or one that expands more than ``Limits.ratio`` times (per member for zip, where each member's
  compressed size is known; over the stream so far for a compressed tar), counted only above
  ``Limits.ratio_floor`` because small files legitimately compress a thousandfold.

A truncated or corrupt archive, or a file that is not the archive its name says, raises
:class:`BrokenArchiveError`: the caller may skip it and count it (datasets/own_data.py does).

The exceptions are datasets/errors.py's (datasets/fetch.py re-exports them).
"""

from __future__ import annotations

import lzma
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Iterator

from dllaunchpad.datasets.errors import BrokenArchiveError, FetchError, UnsafeArchiveError
from dllaunchpad.io import atomic_path

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Limits:
    member_bytes: int = 1 << 30      # 1 GiB: far above any MIDI file, image or CSV series
    total_bytes: int = 8 << 30       # 8 GiB for one archive
    ratio: float = 200.0             # text compresses ~5-10x, MIDI ~2-4x, PNG/JPEG ~1x
    ratio_floor: int = 1 << 20       # below 1 MiB the ratio is not checked


def path_problem(name: str) -> str | None:
    """Why a member name must not be used as a relative path, or None if it is safe."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or PurePosixPath(name).is_absolute():
        return "has an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        # Even a '..' that stays inside ("a/../b") is refused: legitimate archives do not need it,
        # and refusing is simpler to reason about than resolving it.
        return "contains '..'"
    return None


def _size_problem(size: int, packed: int | None, limits: Limits) -> str | None:
    if size > limits.member_bytes:
        return f"would expand to {size} bytes (limit {limits.member_bytes})"
    if packed is not None and size > limits.ratio_floor and size > limits.ratio * max(packed, 1):
        return f"expands {size / max(packed, 1):.0f} times ({packed} -> {size} bytes; limit {limits.ratio:g}x)"
    return None


# What reading a damaged archive raises (gzip: EOFError; deflate: zlib.error; a short read: OSError).
_BROKEN = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


class LimitedReader:
    """A member's stream that refuses to yield more than `limit` bytes (its actual size, whatever
    the header declared), and calls `on_bytes(n)` for every chunk (running totals)."""

    def __init__(self, stream: BinaryIO, limit: int, what: str, on_bytes=None):
        self.stream, self.limit, self.what, self.read_so_far = stream, limit, what, 0
        self.on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.stream.read(n)
        except _BROKEN as e:  # a CRC mismatch, data cut short: raised while the caller reads
            raise BrokenArchiveError(f"{self.what} is damaged: {type(e).__name__}: {e}") from e
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise UnsafeArchiveError(f"{self.what} expands beyond {self.limit} bytes")
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        return data


def _zip_infos(zf: zipfile.ZipFile, where: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """Every member checked before any is read: one bad member refuses the archive."""
    total = 0
    infos = zf.infolist()
    for info in infos:
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"refusing {where}: member {info.filename!r} is a symbolic link")
        problem = path_problem(info.filename) or (None if info.is_dir() else
                                                  _size_problem(info.file_size, info.compress_size, limits))
        if problem:
            raise UnsafeArchiveError(f"refusing {where}: member {info.filename!r} {problem}")
        total += info.file_size
        if total > limits.total_bytes:
            raise UnsafeArchiveError(f"refusing {where}: members add up to more than {limits.total_bytes} bytes")
    return infos


def _zip_members(path: Path, limits: Limits) -> Iterator[tuple[str, LimitedReader]]:
    try:
        zf = zipfile.ZipFile(path)
    except _BROKEN as e:
        raise BrokenArchiveError(f"cannot open {path} as a zip: {e}") from e
    with zf:
        for info in _zip_infos(zf, str(path), limits):
            if info.is_dir():
                continue
            try:
                raw = zf.open(info)
            except _BROKEN as e:  # a damaged local header
                raise BrokenArchiveError(f"{path}: member {info.filename!r} is damaged: {e}") from e
            with raw:
                yield info.filename, LimitedReader(raw, limits.member_bytes, f"{path}: member {info.filename!r}")


def _tar_members(path: Path, limits: Limits) -> Iterator[tuple[str, LimitedReader]]:
    packed = path.stat().st_size
    total = 0

    def count(n: int) -> None:
        nonlocal total
        total += n
        if total > limits.total_bytes:
            raise UnsafeArchiveError(f"refusing {path}: members add up to more than {limits.total_bytes} bytes")
        if total > limits.ratio_floor and total > limits.ratio * max(packed, 1):
            raise UnsafeArchiveError(f"refusing {path}: expands more than {limits.ratio:g} times its "
                                     f"{packed} bytes")

    try:
        tf = tarfile.open(path, "r:*")
    except _BROKEN as e:
        raise BrokenArchiveError(f"cannot open {path} as a tar archive: {e}") from e
    with tf:
        try:
            # Streaming: a compressed tar is read once; each header is checked as it comes, before
            # its member's bytes are read. The caller discards what it took from an archive that
            # turns out to be bad further on.
            for m in tf:
                if m.issym() or m.islnk():
                    raise UnsafeArchiveError(f"refusing {path}: member {m.name!r} is a link")
                if not (m.isreg() or m.isdir()):
                    raise UnsafeArchiveError(f"refusing {path}: member {m.name!r} is not a regular file")
                problem = path_problem(m.name) or _size_problem(m.size, None, limits)
                if problem:
                    raise UnsafeArchiveError(f"refusing {path}: member {m.name!r} {problem}")
                if m.isdir():
                    continue
                stream = tf.extractfile(m)
                yield m.name, LimitedReader(stream, limits.member_bytes, f"{path}: member {m.name!r}", count)
        except UnsafeArchiveError:
            raise
        except _BROKEN as e:
            raise BrokenArchiveError(f"{path} is truncated or damaged: {type(e).__name__}: {e}") from e


def members(path: Path, limits: Limits = Limits()) -> Iterator[tuple[str, LimitedReader]]:
    """(member name, stream) of every regular file of a zip or tar archive (by its name's
    suffix), checked as the module docstring says. Read each stream before asking for the next."""
    path = Path(path)
    if path.name.lower().endswith(".zip"):
        return _zip_members(path, limits)
    return _tar_members(path, limits)


def safe_extract_zip(zip_path: Path, dest: Path, limits: Limits = Limits()) -> list[Path]:
    """Extract ``zip_path`` into ``dest`` (replacing it), refusing path-traversal tricks, links
    and decompression bombs (module docstring).

    Every member is checked before anything is written; one bad member refuses the whole
    archive with :class:`UnsafeArchiveError`. Extraction goes to a temporary sibling folder
    renamed onto ``dest`` at the end. Returns the extracted files (not folders), in archive order.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    try:
        zf = zipfile.ZipFile(zip_path)
    except _BROKEN as e:
        raise FetchError(f"cannot open {zip_path} as a zip: {e}") from e
    with zf:
        infos = _zip_infos(zf, f"to extract {zip_path}", limits)
        written: list[Path] = []
        with atomic_path(dest) as work:
            work.mkdir()
            for info in infos:
                target = work / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    limited = LimitedReader(src, limits.member_bytes, f"{zip_path}: member {info.filename!r}")
                    shutil.copyfileobj(limited, out, CHUNK_SIZE)
                written.append(dest / info.filename)
    return written
