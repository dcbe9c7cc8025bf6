"""Provenance cards: what made a trained model or a result, written beside it as `card.json`.

    models/<exp>/card.json            the model card: written by the train step
    reports/figures/<exp>/card.json   the result's card: the evaluate step's, with the model card
                                      under "train"

A card holds what a reader needs to trust or rebuild an output: the git commit and whether the
working tree had uncommitted changes, the content hashes of the stage's inputs (in DVC's form,
so they can be checked against dvc.lock), the versions of the packages that computed it, the
device, CPU or GPU model, seed, scale and thread count, the commands that rebuild it, its wall
time and its peak memory. The experiment page shows it, and `dllaunchpad predict` prints the
model card of the model it loads.

Cards are provenance, not results: they hold times and a commit, so they live beside the
checkpoint and the figures, never in reports/metrics/ (whose files are byte-identical for the
same params).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import resource
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

CARD = "card.json"

# The packages whose versions can change a number (or a file) an experiment writes.
PACKAGES = ("torch", "lightning", "numpy", "tensorly", "pretty_midi", "pandas", "scikit-learn", "dllaunchpad")

_CHUNK = 1 << 20


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _dvcignore(root: Path | None):
    """The patterns of the repository's .dvcignore (gitignore syntax), or None."""
    f = Path(root) / ".dvcignore" if root is not None else None
    if f is None or not f.is_file():
        return None
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", f.read_text().splitlines())


def dvc_md5(path: Path, root: Path | None = None) -> tuple[str, int]:
    """(hash, number of files) of a file or folder, as DVC 3 writes it in dvc.lock: a file's md5,
    or for a folder the md5 of the sorted JSON list of its files' {md5, relpath}, plus ".dir".
    With `root` (the repository), the files its .dvcignore names are left out, as DVC leaves
    them out (Snakemake's .snakemake_timestamp in every directory output, for one)."""
    path = Path(path)
    if path.is_file():
        return file_md5(path), 1
    ignore = _dvcignore(root)
    top = Path(root).resolve() if root is not None else None
    entries = [{"md5": file_md5(p), "relpath": p.relative_to(path).as_posix()}
               for p in path.rglob("*")
               if p.is_file() and not (ignore and ignore.match_file(p.resolve().relative_to(top).as_posix()))]
    entries.sort(key=lambda e: e["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode()
    return hashlib.md5(listing).hexdigest() + ".dir", len(entries)


def git_state(root: Path) -> dict:
    """The commit the code came from, and the tracked files changed since, dvc.yaml aside (the
    code a stage runs is tracked: a dirty tree means the commit alone does not rebuild the
    output)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                              timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        # "XY path" lines; the leading status column may be a space, so the lines are not stripped
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
        # dvc.yaml is generated from params.yaml for the run's mode (a quick run rewrites it:
        # dvc_yaml.refresh), so its change is not a change of the code or settings.
        changed = [path for path in changed if path != "dvc.yaml"]
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "note": "not a git checkout (or git is missing)"}
    return {"commit": commit, "dirty": bool(changed), "changed_files": changed[:20]}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def input_hashes(exp, stage) -> list[dict]:
    """The DVC hash of each of the stage's inputs (None for one that does not exist)."""
    root = Path(exp.root)
    inputs = []
    for rel in stage.inputs:
        path = root / rel
        if path.exists():
            md5, files = dvc_md5(path, root)
            inputs.append({"path": rel, "md5": md5, "files": files})
        else:
            inputs.append({"path": rel, "md5": None, "files": 0})
    return inputs


def hash_inputs_in_background(exp, stage) -> Future:
    """`input_hashes` on a thread of its own, started before a job loads its data: hashing the
    prepared MNIST (290 MB) takes about 0.6 s, and hashlib and file reads release the GIL, so it
    runs on a core that the mostly single-threaded data build and start-up leave idle. The
    inputs are the job's to read, never its to write, so the hashes are those of what it used."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-hashes")
    future = pool.submit(input_hashes, exp, stage)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


def card(exp, stage, *, seconds: float, device: str, hardware: str, threads: int,
         gpu_peak_mb: float | None = None, inputs: Future | None = None) -> dict:
    """The card of one step (`stage`: its row of the stage table) of one experiment. `inputs`:
    the hashes being computed (hash_inputs_in_background), else they are computed here."""
    inputs = inputs.result() if inputs is not None else input_hashes(exp, stage)
    root = Path(exp.root)
    return {
        "experiment": exp.name,
        "title": exp.title,
        "chapter_section": exp.chapter,
        "step": stage.step,
        "git": git_state(root),
        "inputs": inputs,
        "packages": versions(),
        "device": device,
        "hardware": hardware,
        "threads": threads,
        "seed": exp.seed,
        "scale": exp.scale,
        "rebuild": {
            "snakemake": f"dllaunchpad --scale {exp.scale} run {exp.name}",
            "dvc": f"dvc repro {stage.name}",
            "command": stage.command(),
        },
        "wall_seconds": round(seconds, 3),
        "peak_memory_mb": peak_rss_mb(),
        "gpu_peak_memory_mb": gpu_peak_mb,
    }


def read_card(path: Path) -> dict | None:
    """A card, or None when there is none or it does not parse (it is provenance: a broken one
    must not stop a report or a prediction)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def summary(card: dict | None, path: str) -> list[str]:
    """The card as a few lines of text (`dllaunchpad predict` prints it under its answer)."""
    if not card:
        return [f"model card: none at {path} (trained before cards existed, or not through the CLI)"]
    git = card.get("git") or {}
    code = (f"commit {git['commit'][:12]}" + (" with uncommitted changes" if git.get("dirty") else " (clean)")
            if git.get("commit") else git.get("note", "commit unknown"))
    pkgs = card.get("packages") or {}
    inputs = ", ".join(f"{i['path']} {i['md5']}" for i in card.get("inputs", [])) or "none"
    return [f"model card ({path}):",
            f"- code: {code}",
            f"- trained on: {card.get('hardware')} ({card.get('device')}), {card.get('threads')} thread(s), "
            f"seed {card.get('seed')}, scale {card.get('scale')}, in {card.get('wall_seconds')} s, "
            f"peak memory {card.get('peak_memory_mb')} MB",
            f"- inputs: {inputs}",
            f"- packages: " + ", ".join(f"{k} {v}" for k, v in pkgs.items()),
            f"- rebuild: {(card.get('rebuild') or {}).get('dvc')}"]
