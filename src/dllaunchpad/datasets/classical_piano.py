"""Classical piano MIDI (chapter 31.6.7): one quantised note table for all files.

Input: ``classical-piano.zip`` (flat zip of .mid files) or, when there is no zip, the .mid files
under ``midi/`` (sub-folders included: a local-folder dataset of kind midi, pipeline/folders.py).
Output ``notes.parquet``, sorted by file then index, columns:
``file`` (string), ``index`` (int32, note number within the file), ``pitch`` (int32, MIDI 0-127),
``step`` (float32, seconds since the previous note's start; 0 for a file's first note) and
``duration`` (float32, seconds held).

All non-drum instruments of a file are merged into one note list sorted by (start, pitch), as the
chapter merges the tracks into one piano. Step and duration are rounded to the nearest multiple of
``quantum`` with ties to even (numpy's round, the same rule as the chapter's Python ``round``).
Unlike the chapter, which drops each file's first note, we keep it with step 0.
Unreadable files are logged, listed in the summary and skipped; they never stop the job, unless
no file at all could be read: then the job fails, naming how many were tried (an empty notes
table would only fail later, in training, far from the cause).
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from dllaunchpad.datasets._common import params

log = logging.getLogger(__name__)

RAW_ZIP, RAW_FOLDER = "classical-piano.zip", "midi"
DEFAULTS = {"quantum": 0.125, "max_files": None}
COLUMNS = ["file", "index", "pitch", "step", "duration"]


def _zip_reader(zip_path: Path, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(zip_path) as z:
            return z.read(name)
    return read


def midi_sources(raw_dir: Path) -> list[tuple[str, Callable[[], bytes]]]:
    """(file name, function returning its bytes) for every .mid, sorted by name.

    Reading is deferred so that a damaged zip member is skipped like any other unreadable file.
    """
    zip_path, folder = raw_dir / RAW_ZIP, raw_dir / RAW_FOLDER
    if zip_path.is_file():
        with zipfile.ZipFile(zip_path) as z:
            names = [n for n in z.namelist() if n.lower().endswith((".mid", ".midi"))
                     and not n.startswith("__MACOSX/")]
        return sorted(((n, _zip_reader(zip_path, n)) for n in names), key=lambda s: s[0])
    if folder.is_dir():
        # Sub-folders too (a reader's own MIDI folder, datasets/own_data.py): named by their path
        # under midi/, which for the flat classical_piano folder is the file name.
        files = [p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file()]
        return sorted(((p.relative_to(folder).as_posix(), p.read_bytes) for p in files), key=lambda s: s[0])
    raise FileNotFoundError(f"classical_piano: neither {zip_path} nor {folder}/*.mid exists")


def quantize(values: np.ndarray, quantum: float) -> np.ndarray:
    """Nearest multiple of ``quantum``; exact halves go to the even multiple (like Python's round)."""
    return np.round(values / quantum) * quantum


def notes_of(data: bytes, quantum: float) -> dict[str, np.ndarray]:
    """pitch/step/duration arrays of one MIDI file (raises on an unreadable file)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    notes = sorted((n for inst in midi.instruments if not inst.is_drum for n in inst.notes),
                   key=lambda n: (n.start, n.pitch))
    start = np.array([n.start for n in notes], np.float64)
    end = np.array([n.end for n in notes], np.float64)
    return {"pitch": np.array([n.pitch for n in notes], np.int32),
            "step": quantize(np.diff(start, prepend=start[:1]), quantum).astype(np.float32),
            "duration": quantize(end - start, quantum).astype(np.float32)}


def prepare(raw_dir: Path, out_dir: Path, pp: dict) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dllaunchpad import io as atomic

    pp = params(pp, DEFAULTS, "classical_piano")
    sources = midi_sources(Path(raw_dir))
    if pp["max_files"] is not None:
        sources = sources[: int(pp["max_files"])]
    quantum = float(pp["quantum"])
    parts, skipped = [], []
    for name, read in sources:
        try:
            notes = notes_of(read(), quantum)
        except Exception as e:  # mido/pretty_midi raise many types on corrupt files
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__  # EOFError has no text
            log.warning("classical_piano: skipping %s: %s", name, error)
            skipped.append({"file": name, "error": error})
            continue
        n = len(notes["pitch"])
        parts.append({"file": np.full(n, name, object), "index": np.arange(n, dtype=np.int32), **notes})
    if not parts:
        examples = "; ".join(f"{s['file']}: {s['error']}" for s in skipped[:3])
        raise ValueError(f"MIDI corpus {raw_dir}: none of the {len(sources)} MIDI file(s) tried could be read"
                         + (f" ({examples}{'; ...' if len(skipped) > 3 else ''})" if examples else "")
                         + "; nothing was prepared")
    cols = {c: np.concatenate([p[c] for p in parts]) if parts else [] for c in COLUMNS}
    schema = pa.schema([("file", pa.string()), ("index", pa.int32()), ("pitch", pa.int32()),
                        ("step", pa.float32()), ("duration", pa.float32())])
    table = pa.table({c: pa.array(cols[c], type=schema.field(c).type) for c in COLUMNS}, schema=schema)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out_dir / "notes.parquet") as tmp:
        pq.write_table(table, tmp)
    return {"params": pp, "files": len(parts), "skipped": skipped, "notes": table.num_rows}


def load_notes(processed_dir: Path):
    """``notes.parquet`` as a pandas DataFrame (columns as in the module docstring)."""
    import pandas as pd

    return pd.read_parquet(Path(processed_dir) / "notes.parquet")


def load(processed_dir: Path) -> dict[str, np.ndarray]:
    """file name -> float32 (n, 3) array of [pitch, step, duration], the chapter's model input."""
    df = load_notes(processed_dir)
    return {name: g[["pitch", "step", "duration"]].to_numpy(np.float32)
            for name, g in df.groupby("file", sort=True)}
