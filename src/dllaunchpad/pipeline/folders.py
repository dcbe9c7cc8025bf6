"""Datasets from a local folder (the reader's own data): the kinds, and which files count.

A params.yaml dataset entry may name a folder instead of pinned downloads::

    my_midi:
      description: My MIDI files
      source: {folder: ~/music/midi, kind: midi}
      preprocess: {quantum: 0.125, max_files: null}

``fetch_<dataset>`` copies the folder's files of that kind (and the members of the zip and tar
archives in it) into ``data/raw/<dataset>/<subdir>/``, with ``manifest.json`` listing the sha256
of each (datasets/own_data.py). ``preprocess_<dataset>`` runs the kind's preparer.

How a change inside the folder reaches each tool (the stage table, pipeline/stages.py):

* Snakemake gets the folder's files (:func:`source_files`), listed when it parses the workflow,
  which it does on every invocation. It compares each input's mtime with the outputs' (and, for
  files under 1 MB, skips a rerun when the content's checksum is unchanged); a file added or
  removed changes the rule's input set, which reruns it too. A folder input alone would not do:
  Snakemake takes a directory's own mtime, which an edit inside the folder leaves unchanged.
* DVC gets the folder itself: it hashes a folder dependency's content (every file), so an edit,
  an added or a removed file changes the hash without dvc.yaml being regenerated.

This module is imported whenever the stage table is built: it reads directory entries, nothing
else, and imports nothing heavy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
# Archives found in the folder are unpacked (safely, datasets/archives.py); their members are
# then taken or skipped like the folder's own files.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# Never data: editor and OS droppings.
IGNORED_PARTS = ("__MACOSX",)


@dataclass(frozen=True)
class Kind:
    name: str
    extensions: tuple[str, ...]   # lower-case file name endings taken
    subdir: str                   # the files' place under data/raw/<dataset>/
    module: str                   # datasets/<module>.py prepares them
    description: str
    # The stock dataset whose prepared layout it shares: the family schemas that take that
    # dataset take this kind too (pipeline/config.py). None: no family reads it yet.
    like: str | None


KINDS = {
    "midi": Kind("midi", (".mid", ".midi"), "midi", "classical_piano",
                 "MIDI files, prepared like classical_piano (notes.parquet)", "classical_piano"),
    # cnn_classifier reads RPS' layout but assumes its 3 classes: not `like: rps` until it reads
    # the class names from summary.json.
    "images": Kind("images", (".png", ".jpg", ".jpeg", ".gif", ".bmp"), "images", "image_folders",
                   "images in one sub-folder per class (train/validation/test .npz, like rps)", None),
    "csv_series": Kind("csv_series", (".csv",), "series", "csv_series",
                       "one CSV time series (windows.npz, like sunspots)", "sunspots"),
}


def stands_for(dataset: str | None, datasets: dict) -> str | None:
    """The stock dataset a local-folder dataset stands for in the family schemas, else None."""
    entry = datasets.get(dataset) if dataset else None
    return KINDS[entry["source"]["kind"]].like if isinstance(entry, dict) and entry.get("source") else None


def kind_of(spec: dict) -> Kind | None:
    """The entry's folder kind, or None for a dataset of pinned downloads."""
    source = spec.get("source")
    return KINDS[source["kind"]] if source else None


def folder_as_written(spec: dict) -> str:
    """The folder as the stage table names it: ``~`` expanded, normalised, relative folders kept
    relative (to the repository root, where every stage runs)."""
    return os.path.normpath(os.path.expanduser(str(spec["source"]["folder"])))


def strip_archive_suffix(name: str) -> str:
    low = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def hidden(rel: str) -> bool:
    return any(p.startswith(".") or p in IGNORED_PARTS for p in rel.split("/"))


def takes(kind: Kind, rel: str) -> bool:
    """True when the file (a path relative to the folder) is one of the kind's, by name."""
    return not hidden(rel) and rel.lower().endswith(kind.extensions)


def candidates(folder: Path, kind: Kind) -> list[str]:
    """The folder's files a fetch reads, relative posix paths, sorted: the kind's files and
    archives, not hidden ones, and no symbolic links (a link may point anywhere; os.walk does not
    follow linked folders either)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not hidden(d))
        for f in filenames:
            path = Path(dirpath) / f
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() or hidden(rel) or not (takes(kind, rel) or is_archive(rel)):
                continue
            out.append(rel)
    return sorted(out)


def source_files(spec: dict) -> tuple[str, ...]:
    """The entry's folder files as Snakemake inputs (see the module docstring); none when the
    folder is missing, so that only its fetch fails, saying so, and not every command."""
    folder = folder_as_written(spec)
    if not Path(folder).is_dir():
        return ()
    return tuple(f"{folder}/{rel}" for rel in candidates(Path(folder), kind_of(spec)))
