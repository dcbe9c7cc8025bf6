"""What the report knows about one experiment, read from the files the pipeline wrote.

Generic over the registry: every experiment is described by the same paths (registry.py) and the
same rules, so a new experiment appears in the report with no report code:

- status: ``done`` (reports/metrics/<exp>.json exists), ``trained`` (a checkpoint but no
  metrics yet), ``failed`` (a stage's log ends in an error and its output is missing), ``not run``,
  or ``left out`` (its dataset is in ``skip_datasets``); every status but ``done`` carries the
  reason and the command that fixes it;
- the headline metric (see ``headline``);
- figures (every PNG of reports/figures/<exp>/, with the alt text figures.save() stored), other
  artifacts (CSV shown as tables when small, JSON shown folded), the per-epoch history, the
  generated music of entries with a ``generate:`` block (reports/music/<exp>/summary.json);
- links to the checkpoint, history, metrics, logs and prepared data, as paths relative to the
  repository root (the templates prefix them with the way up from the page).

Nothing here imports matplotlib: ``dllaunchpad list`` uses ``status`` and must stay fast.
"""

from __future__ import annotations

import base64
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from dllaunchpad.pipeline import provenance
from dllaunchpad.pipeline.registry import HISTORY_FIGURE, RUN_FILE, Experiment, Registry, is_wall_clock
from dllaunchpad.pipeline.sections import Group, group_of
from dllaunchpad.pipeline.stages import log_links

# Keys of the metrics JSON that describe the run rather than the result. Wall-clock times and
# the device are not in the metrics at all: evaluate writes them to reports/figures/<exp>/run.json.
RUN_KEYS = ("epochs_run", "chapter_section", "computed_on", "headline", "thumbnail", "lead_figure",
            "variant_names")
# The headline when neither the registry entry (params.yaml `headline:`), the family (metrics key
# `headline`) nor chapter_values.yaml names one.
HEADLINE_PRIORITY = ("test_accuracy", "accuracy", "binary_accuracy", "val_accuracy", "test_mae", "mae",
                     "test_mse", "mse", "test_loss", "val_loss", "final_loss", "loss", "train_loss")
AUDIO_TYPES = {".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".wav": "audio/wav",
               ".mp3": "audio/mpeg", ".flac": "audio/flac"}
MAX_TABLE_ROWS, MAX_TABLE_COLS, MAX_JSON_BYTES, MAX_DATA_LINKS = 40, 14, 20_000, 12


@dataclass
class Status:
    key: str                  # done | trained | failed | not-run | left-out
    label: str
    reason: str = ""          # why it is not done, and what to run
    log: str = ""             # repository-relative path of the log that explains a failure
    log_tail: str = ""
    hint: str = ""            # the reason in a few words, for the overview cards


@dataclass
class Figure:
    name: str
    src: str                  # data: URI (pages stay self-contained)
    alt: str


@dataclass
class Table:
    name: str
    path: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Track:
    name: str
    label: str
    audio: str | None          # repository-relative path
    audio_type: str | None
    midi: str | None
    roll: Figure | None


@dataclass
class Generated:
    folder: str
    tracks: list[Track] = field(default_factory=list)
    note: str = ""             # why there is no music, or no audio
    tables: list[Table] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


@dataclass
class ExperimentView:
    exp: Experiment
    group: Group
    status: Status
    metrics: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)       # reports/figures/<exp>/run.json: device, *_seconds
    card: dict | None = None                      # reports/figures/<exp>/card.json (pipeline/provenance.py)
    headline: tuple[str, str] | None = None      # (key, formatted value)
    figures: list[Figure] = field(default_factory=list)
    thumbnail: str | None = None                  # data: URI
    thumbnail_alt: str = ""
    tables: list[Table] = field(default_factory=list)
    json_artifacts: list[tuple[str, str]] = field(default_factory=list)   # (path, pretty text)
    links: list[tuple[str, str]] = field(default_factory=list)            # (what, repo-relative path)
    generated: Generated | None = None
    history_figure: Figure | None = None
    lead: list[Figure] = field(default_factory=list)              # the figure(s) the page opens with
    variant_tables: list[VariantTable] = field(default_factory=list)   # <variant>_<metric> keys as tables

    @property
    def name(self) -> str:
        return self.exp.name

    @property
    def seconds(self) -> float | None:
        parts = [self.run.get(k) for k in ("train_seconds", "generate_seconds", "evaluate_seconds")]
        parts = [p for p in parts if isinstance(p, (int, float)) and not isinstance(p, bool)]
        return sum(parts) if parts else None

    @property
    def device(self) -> str:
        return str(self.run.get("device", "cpu")) if self.run else ""

    @property
    def result_rows(self) -> list[tuple[str, str]]:
        return [(k, fmt(v)) for k, v in sorted(self.metrics.items()) if k not in RUN_KEYS]

    @property
    def other_rows(self) -> list[tuple[str, str]]:
        """The result keys that no variants table shows."""
        shown = {k for t in self.variant_tables for k in t.covered}
        return [(k, v) for k, v in self.result_rows if k not in shown]

    @property
    def lead_names(self) -> set[str]:
        return {f.name for f in self.lead}

    @property
    def run_rows(self) -> list[tuple[str, str]]:
        return ([(k, fmt(v)) for k, v in self.run.items()]
                + [(k, fmt(self.metrics[k])) for k in RUN_KEYS if k in self.metrics])


def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def href(path: str) -> str:
    """A repository-relative path as a URL path (the templates prefix the way up)."""
    return quote(path)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def human_name(stem: str) -> str:
    return stem.replace("_", " ").replace("-", " ")


# -- status ----------------------------------------------------------------------------------

def _log_tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _failed_log(exp: Experiment, reg: Registry, root: Path) -> Path | None:
    """The log of the first stage whose output is missing, when it ends in an error."""
    table = reg.stages()
    stages = []
    if exp.trains:
        stages.append(("train", root / exp.model_dir / "train.json"))
    if exp.generates:
        stages.append(("generate", root / exp.generated_summary))
    stages.append(("evaluate", root / exp.metrics))
    for step, output in stages:
        if output.exists():
            continue
        log = root / table[f"{step}_{exp.name}"].log
        if log.is_file() and any(w in _log_tail(log, 40) for w in ("Error", "Traceback", "error:")):
            return log
        return None
    return None


def run_command(name: str, scale: str) -> str:
    return f"dllaunchpad {'--scale quick ' if scale == 'quick' else ''}run {name}"


def status(exp: Experiment, reg: Registry, root: Path, scale: str = "full") -> Status:
    root = Path(root)
    run = run_command(exp.name, scale)
    metrics = root / exp.metrics
    if metrics.is_file():
        try:
            parsed = json.loads(metrics.read_text())
            if not isinstance(parsed, dict):
                raise ValueError(f"a JSON {type(parsed).__name__}, not an object of metrics")
        except ValueError as err:  # the parse error on the page and on the card: what to look at
            return Status("failed", "failed", f"`{exp.metrics}` is not valid JSON ({err}); rerun `{run}`",
                          hint=f"metrics do not parse ({err}); rerun `{run}`")
        return Status("done", "done")
    failed = _failed_log(exp, reg, root)
    if failed is not None:
        rel = failed.relative_to(root).as_posix()
        return Status("failed", "failed", f"the {failed.parent.name} stage failed (see `{rel}`); fix the cause and "
                      f"rerun `{run}`", rel, _log_tail(failed), hint=f"see {rel}")
    if exp.trains and (root / exp.model_dir / "train.json").is_file():
        return Status("trained", "trained, not evaluated",
                      f"`models/{exp.name}/` exists but `{exp.metrics}` does not; run `{run}`", hint=f"run `{run}`")
    return Status("not-run", "not run", f"`{exp.metrics}` was not produced; run `{run}`", hint=f"run `{run}`")


def left_out_status(name: str, spec: dict, scale: str = "full") -> Status:
    ds = spec.get("dataset")
    return Status("left-out", "left out",
                  f"Its dataset `{ds}` is in skip_datasets (`dllaunchpad run` leaves out a dataset that the "
                  f"offline mirror lacks; the shared mirror has no rock-paper-scissors copy). To run it, "
                  f"fetch `{ds}` from its canonical URL: unset LAUNCHPAD_MIRROR, remove `{ds}` from "
                  f"skip_datasets in params.yaml, then `{run_command(name, scale)}`.",
                  hint=f"dataset `{ds}` is in skip_datasets")


# -- metrics ---------------------------------------------------------------------------------

def headline(metrics: dict, chapter_keys: list[str], registry: str | None = None) -> tuple[str, str] | None:
    """The one number an overview card shows, chosen in this order:

    1. the key the registry entry names (params.yaml ``headline: <key>``): the value the chapter
       reports, or the experiment's answer, chosen per entry;
    2. the key the family names in its metrics as ``"headline": "<key>"``;
    3. the first metric the chapter printed for the experiment (chapter_values.yaml order);
    4. the first of HEADLINE_PRIORITY present (test accuracy before MAE before loss ...);
    5. the first key, alphabetically, that contains one of HEADLINE_PRIORITY (for families that
       prefix their metrics, e.g. ``mnist_adam_test_accuracy``);
    6. the first other numeric metric, alphabetically.
    """
    def usable(k):  # (metrics written before run.json existed may still carry run facts)
        return k in metrics and k not in RUN_KEYS and k != "device" and not is_wall_clock(k)

    named = metrics.get("headline")
    candidates = ([registry] if isinstance(registry, str) else []) + (
        [named] if isinstance(named, str) else []) + list(chapter_keys) + list(HEADLINE_PRIORITY)
    for k in candidates:
        if usable(k):
            return k, fmt(metrics[k])
    numeric = [k for k in sorted(metrics) if usable(k) and isinstance(metrics[k], (int, float))
               and not isinstance(metrics[k], bool)]
    for token in HEADLINE_PRIORITY:
        for k in numeric:
            if token in k:
                return k, fmt(metrics[k])
    for k in sorted(metrics):
        v = metrics[k]
        if usable(k) and isinstance(v, (int, float)) and not isinstance(v, bool):
            return k, fmt(v)
    return None


# -- variants inside one experiment ------------------------------------------------------------

@dataclass
class VariantTable:
    """Metrics keys ``<variant>_<metric>`` (or ``<metric>_<variant>``) as a variants x metrics table."""
    variants: list[str]
    metrics: list[str]
    cells: list[list[str]]          # formatted values, "" where a variant lacks the metric
    keys: list[list[str | None]]    # the metrics key of each cell
    pattern: str                    # "<variant>_<metric>" or "<metric>_<variant>"

    @property
    def covered(self) -> set[str]:
        return {k for row in self.keys for k in row if k}


# Words of metric names: they tell which side of a key is the metric (the table's columns) and
# which the variant, and which figure names are learning curves rather than results.
METRIC_WORDS = frozenset("""loss losses accuracy mae mse nll elbo kl error variance entropy score share
    ratio params compression sparsity weight epoch epochs lr steps diversity covered match confidence ece
    derivative norm grad distance pitches duration step range activation test val validation train training
    final cv mean""".split())
MAX_VARIANT_COLUMNS, MAX_VARIANT_ROWS, MIN_VARIANT_CELLS = 9, 40, 6


def natural_key(text: str) -> list:
    """'rank10' after 'rank2': digits compare as numbers."""
    import re

    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def _metric_share(parts) -> float:
    return sum(any(w in METRIC_WORDS for w in p.split("_")) for p in parts) / max(1, len(parts))


def _block(keys: set[str], prefixes: set[str], suffixes: set[str]) -> tuple[list, list]:
    """The block's rows and columns with the keys that share most of them added (a baseline with
    fewer metrics than the variants, a metric only some variants have), in natural order."""
    rows, cols = set(prefixes), set(suffixes)
    by_prefix: dict[str, set[str]] = {}
    for k in keys:
        parts = k.split("_")
        for i in range(1, len(parts)):
            by_prefix.setdefault("_".join(parts[:i]), set()).add("_".join(parts[i:]))
    for s in sorted({s for p in rows for s in by_prefix.get(p, ())} - cols):
        if sum(f"{p}_{s}" in keys for p in rows) >= max(2, -(-len(rows) // 3)):
            cols.add(s)
    for p in sorted(set(by_prefix) - rows):
        if sum(f"{p}_{s}" in keys for s in cols) >= max(2, -(-len(cols) // 3)):
            rows.add(p)
    return sorted(rows, key=natural_key), sorted(cols, key=natural_key)


def _best_block(keys: set[str]):
    """The (prefixes, suffixes) product covering most keys, or None."""
    by_prefix: dict[str, set[str]] = {}
    by_suffix: dict[str, set[str]] = {}
    for k in keys:
        parts = k.split("_")
        for i in range(1, len(parts)):
            p, s = "_".join(parts[:i]), "_".join(parts[i:])
            by_prefix.setdefault(p, set()).add(s)
            by_suffix.setdefault(s, set()).add(p)
    best, best_rank = None, None
    seen = set()
    candidates = [(frozenset.intersection(*(frozenset(by_suffix[s]) for s in S)), frozenset(S))
                  for S in by_prefix.values() if len(S) >= 2]
    candidates += [(frozenset(P), frozenset.intersection(*(frozenset(by_prefix[p]) for p in P)))
                   for P in by_suffix.values() if len(P) >= 2]
    for P, S in candidates:
        if len(P) < 2 or len(S) < 2 or (P, S) in seen:
            continue
        seen.add((P, S))
        transposed = _metric_share(P) > _metric_share(S)
        n_rows, n_cols = (len(S), len(P)) if transposed else (len(P), len(S))
        if n_cols > MAX_VARIANT_COLUMNS or n_rows > MAX_VARIANT_ROWS or len(P) * len(S) < MIN_VARIANT_CELLS:
            continue
        rank = (-len(P) * len(S), n_cols, sorted(P), sorted(S))
        if best_rank is None or rank < best_rank:
            best, best_rank = (P, S, transposed), rank
    return best


def variant_tables(metrics: dict, declared: str | None = None) -> list[VariantTable]:
    """The variants inside one experiment as tables: keys that are the product of a set of
    prefixes and a set of suffixes (``<variant>_<metric>``: the GAN's stabilisers, the
    regularisers, the optimizers per problem, ...), largest product first, until no product of
    at least MIN_VARIANT_CELLS keys is left. Which side is the variant: the side whose parts
    are not metric words (``first_epoch_loss_<scheme>`` puts the schemes in the rows). A family
    can name its variants instead: metrics key ``variant_names``, comma-separated prefixes."""
    keys = {k for k in metrics if k not in RUN_KEYS and k != "device" and not is_wall_clock(k)}
    tables = []
    if isinstance(declared, str) and declared.strip():
        names = [n.strip() for n in declared.split(",") if n.strip()]
        cols = sorted({k[len(n) + 1:] for n in names for k in keys if k.startswith(n + "_")}, key=natural_key)
        blocks = [(names, cols, False)] if names and cols else []
    else:
        blocks = []
        remaining = set(keys)
        while (found := _best_block(remaining)) is not None:
            P, S, transposed = found
            rows, cols = _block(remaining, set(P), set(S))
            blocks.append((rows, cols, transposed))
            remaining -= {f"{p}_{s}" for p in rows for s in cols}
    for rows, cols, transposed in blocks:
        def key(v, m):
            k = f"{m}_{v}" if transposed else f"{v}_{m}"
            return k if k in keys else None
        variants, names = (cols, rows) if transposed else (rows, cols)
        cell_keys = [[key(v, m) for m in names] for v in variants]
        tables.append(VariantTable(list(variants), list(names),
                                   [[fmt(metrics[k]) if k else "" for k in row] for row in cell_keys], cell_keys,
                                   "<metric>_<variant>" if transposed else "<variant>_<metric>"))
    return tables


# -- the figure a page opens with --------------------------------------------------------------

# Words of figure names that show a result (in this order of preference) rather than a
# diagnostic: samples, forecasts, predictions, decision surfaces, reconstructions ...
RESULT_FIGURE_WORDS = ("samples", "forecast", "grid", "fit", "decision", "confusion", "predictions",
                       "reconstructions", "vs", "traversal", "products", "saturation", "weights", "trajectories",
                       "error", "variance")
# A figure named only with these is a learning curve (the history figure draws those already).
CURVE_WORDS = frozenset("loss losses accuracy mae mse nll val validation train training curves history by epoch".split())


def _figure_rank(stem: str, headline_key: str | None) -> tuple:
    words = stem.split("_")
    named = {w for w in (headline_key or "").split("_") if w and w not in METRIC_WORDS}
    overlap = len(named & set(words))
    result = min((RESULT_FIGURE_WORDS.index(w) for w in words if w in RESULT_FIGURE_WORDS), default=None)
    curve = all(w in CURVE_WORDS for w in words)
    score = 2 * overlap + (result is not None) - 2 * curve
    return (-score, result if result is not None else len(RESULT_FIGURE_WORDS), len(words), stem)


def lead_figures(view: "ExperimentView", root: Path) -> list[Figure]:
    """The figure that shows the result: the one the family names (metrics key ``lead_figure``,
    else ``thumbnail``); else the first generated track's piano roll; else the figure whose name
    shares the most words with the headline key and reads as a result (samples, forecast,
    predictions ...) rather than a learning curve. When its name ends in one variant of a
    variants table and the other variants have the same figure (``samples_<variant>``), all of
    them, in the table's order."""
    by_name = {f.name: f for f in view.figures}
    for key in ("lead_figure", "thumbnail"):
        named = view.metrics.get(key)
        if isinstance(named, str) and named in by_name:
            return [by_name[named]]
    if view.generated is not None:
        rolls = [t.roll for t in view.generated.tracks if t.roll]
        if rolls:
            return rolls[:1]
    if not view.figures:
        return []
    head = view.headline[0] if view.headline else None
    first = min(view.figures, key=lambda f: _figure_rank(Path(f.name).stem, head))
    stem = Path(first.name).stem
    for table in view.variant_tables:
        for v in table.variants:
            if stem.endswith("_" + v):
                base = stem[: -len(v) - 1]
                row = [by_name.get(f"{base}_{w}.png") for w in table.variants]
                if sum(f is not None for f in row) >= 2:
                    return [f for f in row if f is not None]
    return [first]


# -- files -----------------------------------------------------------------------------------

def _figure_pngs(figdir: Path) -> list[Path]:
    """The family's figures in name order: the learning curves evaluate drew beside them
    (runners/evaluate.py) have a section of their own and are no card picture."""
    return [p for p in sorted(figdir.glob("*.png")) if p.name != HISTORY_FIGURE]


def figure(path: Path, root: Path) -> Figure:
    from dllaunchpad.analysis.figures import alt_text

    alt = alt_text(path) or f"{human_name(path.stem)} ({path.relative_to(root).as_posix()})"
    return Figure(path.name, data_uri(path.read_bytes()), alt)


def csv_table(path: Path, root: Path) -> Table | None:
    """A small CSV as a table; None when it is too big to read on a page."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not rows or len(rows) > MAX_TABLE_ROWS + 1 or max(len(r) for r in rows) > MAX_TABLE_COLS:
        return None
    return Table(path.name, path.relative_to(root).as_posix(), rows[0], rows[1:])


def _artifacts(folder: Path, root: Path, view_tables: list, view_json: list, links: list) -> None:
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        rel = p.relative_to(root).as_posix()
        if p.name.startswith(".") or p.suffix == ".png" or p.is_dir() or p.name in (RUN_FILE, provenance.CARD):
            continue  # run.json is shown as the "run" table, card.json as the provenance card
        if p.suffix == ".csv" and (table := csv_table(p, root)) is not None:
            view_tables.append(table)
        elif p.suffix == ".json" and p.stat().st_size <= MAX_JSON_BYTES:
            try:
                view_json.append((rel, json.dumps(json.loads(p.read_text()), indent=2, sort_keys=True)))
            except ValueError:
                pass
        links.append((p.name, rel))


def generated(exp: Experiment, root: Path, metrics: dict) -> Generated | None:
    """Music (or any generated media) of an entry with a `generate:` block, from
    reports/music/<exp>/summary.json (tracks: name, midi, piano_roll, audio, temperature)."""
    folder = root / exp.generated_dir
    if exp.spec.get("generate") is None and not folder.is_dir():
        return None
    out = Generated(exp.generated_dir)
    if not folder.is_dir():
        out.note = (f"{exp.generated_dir}/ was not produced (the generate stage writes it after training); "
                    f"run `dllaunchpad run {exp.name}`.")
        return out
    summary_path = folder / "summary.json"
    summary = {}
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
        except ValueError:
            out.note = f"{exp.generated_dir}/summary.json is not valid JSON; rerun `dllaunchpad run {exp.name}`."
    tracks = summary.get("tracks")
    if not isinstance(tracks, list):  # no summary: whatever media the folder holds
        stems = sorted({p.stem for p in folder.iterdir() if p.suffix in (".mid", *AUDIO_TYPES)})
        tracks = [{"name": s} for s in stems]
    for t in tracks:
        name = str(t.get("name", "track"))

        def existing(key, suffixes):
            cands = [t.get(key)] if t.get(key) else [f"{name}{s}" for s in suffixes]
            return next((folder / c for c in cands if c and (folder / c).is_file()), None)

        audio = existing("audio", list(AUDIO_TYPES))
        midi = existing("midi", [".mid", ".midi"])
        roll = existing("piano_roll", [".png"])
        label = name if t.get("temperature") is None else f"{name} (temperature {t['temperature']})"
        if t.get("notes") is not None:
            label += f", {t['notes']} notes"
        out.tracks.append(Track(
            name=name, label=label,
            audio=audio.relative_to(root).as_posix() if audio else None,
            audio_type=AUDIO_TYPES.get(audio.suffix) if audio else None,
            midi=midi.relative_to(root).as_posix() if midi else None,
            roll=figure(roll, root) if roll else None))
    if not out.tracks and not out.note:
        out.note = f"{exp.generated_dir}/ holds no tracks; rerun `dllaunchpad run {exp.name}`."
    elif any(tr.audio is None for tr in out.tracks) and not out.note:
        why = metrics.get("audio_note") or summary.get("audio_note") or (
            "no audio file was written: rendering MIDI to audio needs fluidsynth, a General MIDI "
            "soundfont and sox (Debian: apt-get install fluidsynth fluid-soundfont-gm sox libsox-fmt-all)")
        out.note = f"Some tracks have no audio: {why}. The MIDI files are linked instead."
    shown = {f for tr in out.tracks for f in (tr.audio, tr.midi)} | {
        f"{exp.generated_dir}/{t.get('piano_roll')}" for t in tracks if t.get("piano_roll")}
    folded_json: list = []  # summary.json is linked, not shown
    links: list = []
    _artifacts(folder, root, out.tables, folded_json, links)
    out.links = [rel for _, rel in links if rel not in shown]
    return out


def data_links(exp: Experiment, reg: Registry, root: Path) -> list[tuple[str, str]]:
    if not exp.dataset or exp.dataset not in reg.datasets:
        return []
    folder = root / reg.datasets[exp.dataset].processed_dir
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    files.sort(key=lambda p: p.name != "summary.json")  # the summary first
    return [(f"prepared data: {p.name}", p.relative_to(root).as_posix()) for p in files[:MAX_DATA_LINKS]]


def links(exp: Experiment, reg: Registry, root: Path) -> list[tuple[str, str]]:
    out = []
    for what, rel in [("metrics", exp.metrics), ("per-epoch history", exp.history)]:
        if (root / rel).is_file():
            out.append((what, rel))
    model = root / exp.model_dir
    if model.is_dir():
        for p in sorted(model.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                what = {"last.ckpt": "checkpoint (end of training)", "best.ckpt": "checkpoint (best epoch)",
                        "train.json": "training record", provenance.CARD: "model card"}.get(p.name, "model file")
                out.append((f"{what}: {p.name}", p.relative_to(root).as_posix()))
    if (root / exp.figures_dir / provenance.CARD).is_file():
        out.append(("provenance card of the result", f"{exp.figures_dir}/{provenance.CARD}"))
    out += data_links(exp, reg, root)
    return out + log_links(reg, exp, root)  # each stage's log and benchmark file, from the stage table


# -- one experiment --------------------------------------------------------------------------

def experiment_view(exp: Experiment, reg: Registry, root: Path, scale: str, chapter_keys: list[str]
                    ) -> ExperimentView:
    root = Path(root)
    st = status(exp, reg, root, scale)
    view = ExperimentView(exp, group_of(exp.chapter), st)
    if st.key == "done":
        view.metrics = json.loads((root / exp.metrics).read_text())
        view.headline = headline(view.metrics, chapter_keys, exp.spec.get("headline"))
        view.variant_tables = variant_tables(view.metrics, view.metrics.get("variant_names"))
    figdir = root / exp.figures_dir
    if (figdir / RUN_FILE).is_file():
        try:
            view.run = json.loads((figdir / RUN_FILE).read_text())
        except ValueError:
            view.run = {}
    view.card = _usable_card(provenance.read_card(figdir / provenance.CARD))
    if figdir.is_dir():
        history = figdir / HISTORY_FIGURE
        view.history_figure = figure(history, root) if history.is_file() else None
        view.figures = [figure(p, root) for p in _figure_pngs(figdir)]
        artifact_links: list = []
        _artifacts(figdir, root, view.tables, view.json_artifacts, artifact_links)
        view.links += [(f"artifact: {name}", rel) for name, rel in artifact_links]
    view.links = links(exp, reg, root) + view.links
    view.generated = generated(exp, root, view.metrics)
    if view.generated is not None:  # a table the family also copied into its figures: show it once
        shown = {(t.name, tuple(t.header), tuple(map(tuple, t.rows))) for t in view.tables}
        view.generated.tables = [t for t in view.generated.tables
                                 if (t.name, tuple(t.header), tuple(map(tuple, t.rows))) not in shown]
    view.lead = lead_figures(view, root)
    _choose_thumbnail(view, root)
    return view


# What the page's Provenance section reads from a card (pipeline/provenance.py writes them all).
_CARD_KEYS = {"step", "git", "inputs", "packages", "rebuild", "hardware", "device", "threads", "seed", "scale",
              "wall_seconds", "peak_memory_mb"}


def _usable_card(card: dict | None) -> dict | None:
    """The card, if it has what the page shows (a card from an older version may not): else
    None, and the page leaves the section out; its model card under "train" likewise."""
    if not isinstance(card, dict) or not _CARD_KEYS <= set(card):
        return None
    train = card.get("train")
    return {**card, "train": train if isinstance(train, dict) and _CARD_KEYS <= set(train) else None}


def _choose_thumbnail(view: ExperimentView, root: Path) -> None:
    """The card picture: the PNG the family names (metrics key `thumbnail`), else the page's
    lead figure (lead_figures), else the first figure in name order, else the first piano roll."""
    from dllaunchpad.analysis.figures import thumbnail

    figdir = root / view.exp.figures_dir
    named = view.metrics.get("thumbnail")
    lead = [d / f.name for f in view.lead[:1] for d in (figdir, root / view.exp.generated_dir)]
    candidates = ([figdir / named] if isinstance(named, str) else []) + lead + _figure_pngs(figdir)
    if view.generated is not None:
        candidates += [root / view.exp.generated_dir / f"{t.name}.png" for t in view.generated.tracks if t.roll]
    for path in candidates:
        if path.is_file():
            view.thumbnail = data_uri(thumbnail(path))
            fig = next((f for f in view.figures if f.name == path.name), None)
            view.thumbnail_alt = fig.alt if fig else human_name(path.stem)
            return


# -- comparisons (an entry's variants side by side) ------------------------------------------

@dataclass
class ComparisonView:
    name: str
    exp: Experiment                    # the entry
    group: Group
    variants: tuple
    seeds: tuple | None
    out_dir: str
    summary: dict | None = None        # comparison.json
    figures: list[Figure] = field(default_factory=list)
    error: str = ""

    @property
    def columns(self) -> list[str]:
        s = self.summary or {}
        rows = s.get("rows") or [{}]
        return [k for k in rows[0] if k not in ("variant", "setting", "overrides", "seed", "wall_seconds")]


def comparison_view(cmp, reg: Registry, root: Path) -> ComparisonView:
    exp = reg.experiments[cmp.name]
    view = ComparisonView(cmp.name, exp, group_of(exp.chapter), cmp.variants, cmp.seeds, cmp.out_dir)
    folder = Path(root) / cmp.out_dir
    path = folder / "comparison.json"
    if path.is_file():
        try:
            view.summary = json.loads(path.read_text())
        except ValueError as err:
            view.error = f"{cmp.out_dir}/comparison.json does not parse: {err}"
        view.figures = [figure(p, Path(root)) for p in sorted(folder.glob("*.png"))]
    return view
