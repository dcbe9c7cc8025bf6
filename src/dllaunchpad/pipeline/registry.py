"""The experiment and dataset tables of params.yaml as typed, resolved objects.

An :class:`Experiment` is resolved once, here: its effective settings (``scale: quick``
merged), its seed (its own ``seed:`` or the global one), its processed-data folder and the
repository root it runs in. Families and runners receive that object and never look anything up
in the raw params dict again.

The stages built from these objects (fetch -> preprocess -> train -> [generate] -> evaluate ->
report) are listed once, in :mod:`dllaunchpad.pipeline.stages`; the Snakefile, dvc.yaml, the
report's links and ``dllaunchpad run`` all read that table. This module imports nothing heavy:
Snakemake parses it on every invocation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from dllaunchpad.pipeline import family, folders
from dllaunchpad.pipeline.config import ParamsError
from dllaunchpad.pipeline.stages import REPORT_HTML, build_stages
from dllaunchpad.pipeline.variants import COMPARISONS, NAMED, OVERRIDES, PARAM_KEYS, VARIANT_OF
# evaluate writes the facts about a run (device, every wall-clock key) beside the figures, so
# that reports/metrics/<exp>.json holds results only and is byte-identical across runs.
RUN_FILE = "run.json"
# evaluate also draws the training history's learning curves there, and the report embeds them:
# drawn in the one report job, at the end of every run, ~80 of them took most of its time.
HISTORY_FIGURE = "history.png"
# generate writes this last into reports/music/<exp>/: its presence means the folder is complete.
GENERATED_SUMMARY = "summary.json"


# Units of the keys that measure time: `<what>_seconds`, `<what>_ms` (e.g. model_compression's
# `<method>_inference_ms`).
WALL_CLOCK_SUFFIXES = ("_seconds", "_ms")


def is_wall_clock(key: str) -> bool:
    """Metric keys that measure time, not results: they differ between any two runs."""
    return key.endswith(WALL_CLOCK_SUFFIXES)


@dataclass(frozen=True)
class Dataset:
    name: str
    spec: dict = field(repr=False, compare=False)

    @property
    def raw_dir(self) -> str:
        return f"data/raw/{self.name}"

    @property
    def processed_dir(self) -> str:
        return f"data/processed/{self.name}"

    @property
    def description(self) -> str:
        return self.spec["description"]

    # -- a local folder instead of downloads (`source: {folder, kind}`, pipeline/folders.py) --
    @property
    def kind(self) -> str | None:
        """The folder kind (midi, images, csv_series), or None for pinned downloads."""
        return self.spec["source"]["kind"] if self.spec.get("source") else None

    @property
    def module(self) -> str:
        """The datasets/<module>.py that prepares it: its own, or its folder kind's."""
        return folders.KINDS[self.kind].module if self.kind else self.name

    @property
    def source_folder(self) -> str | None:
        return folders.folder_as_written(self.spec) if self.kind else None


@dataclass(frozen=True)
class Experiment:
    """One resolved registry entry. ``spec`` is the effective settings (quick blocks merged when
    ``scale: quick``); paths are repository-relative strings (what Snakemake and DVC name), and
    ``path()`` puts one under ``root``, the folder the stage runs in."""

    name: str
    spec: dict = field(repr=False, compare=False)
    seed: int = 0
    root: Path = field(default=Path("."), compare=False)
    # Seconds between the per-epoch resume checkpoints (params.yaml cluster.checkpoint_interval_s).
    checkpoint_interval_s: float = field(default=0.0, compare=False)
    # A variant (pipeline/variants.py): the entry it comes from, and what it changes there.
    variant_of: str | None = None
    overrides: dict = field(default_factory=dict, compare=False)
    variant_name: str | None = None  # a named variant's name (variants.named)
    # The params.yaml keys its stages read, besides `scale` and `seed` (pipeline/stages.py).
    param_keys: tuple[str, ...] = field(default=(), compare=False)
    # The scale (full | quick) its settings were resolved at: train.json and run.json record it,
    # so that `dllaunchpad list` can tell what made the outputs on disk.
    scale: str = field(default="full", compare=False)

    @classmethod
    def resolve(cls, name: str, spec: dict, params: dict, root: Path | str = ".") -> "Experiment":
        """The one place an experiment's seed and run settings are looked up in params. `spec`
        may carry the keys variant expansion adds (config.expand_variants); they become fields."""
        spec = dict(spec)
        variant_of, overrides, named = spec.pop(VARIANT_OF, None), spec.pop(OVERRIDES, {}), spec.pop(NAMED, None)
        keys = tuple(spec.pop(PARAM_KEYS, None) or (f"experiments.{name}",))
        return cls(name, spec, seed=int(spec.get("seed", params["seed"])), root=Path(root),
                   checkpoint_interval_s=float(params.get("cluster", {}).get("checkpoint_interval_s", 0.0)),
                   variant_of=variant_of, overrides=dict(overrides), param_keys=keys, variant_name=named,
                   scale=str(params.get("scale", "full")))

    def at(self, root: Path | str) -> "Experiment":
        """The same experiment, run in another folder (tests, benchmarks, working copies)."""
        return dataclasses.replace(self, root=Path(root))

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def family(self) -> str:
        return self.spec["family"]

    @property
    def dataset(self) -> str | None:
        return self.spec.get("dataset")

    @property
    def chapter(self) -> str:
        return self.spec["chapter"]

    @property
    def title(self) -> str:
        return self.spec["title"]

    @property
    def gpu(self) -> bool:
        return bool(self.spec.get("gpu", False))

    @property
    def own_seed(self) -> bool:
        """True when the entry sets its own seed (then the global `seed:` does not affect it)."""
        return "seed" in self.spec

    @property
    def trains(self) -> bool:
        """Families with a `trainer:` block train a model; the rest only evaluate (compute)."""
        return "trainer" in self.spec

    @property
    def generates(self) -> bool:
        """Entries with a `generate:` block get a generate_<exp> stage after training (music)."""
        return "generate" in self.spec

    # -- paths (see ../shared/DESIGN.md; reports and tests rely on them) --
    @property
    def uses(self) -> tuple[str, ...]:
        """Experiments whose trained models this one reads (`uses:`): their model dirs are inputs."""
        return tuple(self.spec.get("uses", ()))

    @property
    def data_dir(self) -> Path | None:
        """The prepared data this experiment reads (under root), or None for synthetic data."""
        return self.root / f"data/processed/{self.dataset}" if self.dataset else None

    @property
    def model_dir(self) -> str:
        return f"models/{self.name}"

    @property
    def checkpoint(self) -> str:
        return f"models/{self.name}/last.ckpt"

    @property
    def history(self) -> str:
        return f"reports/history/{self.name}.csv"

    @property
    def metrics(self) -> str:
        return f"reports/metrics/{self.name}.json"

    @property
    def figures_dir(self) -> str:
        return f"reports/figures/{self.name}"

    @property
    def run_file(self) -> str:
        return f"reports/figures/{self.name}/{RUN_FILE}"

    @property
    def generated_dir(self) -> str:
        return f"reports/music/{self.name}"

    @property
    def generated_summary(self) -> str:
        return f"reports/music/{self.name}/{GENERATED_SUMMARY}"

    @property
    def page(self) -> str:
        return f"reports/experiments/{self.name}.html"


@dataclass(frozen=True)
class Comparison:
    """The variants of one entry, side by side (compare_<entry>, reports/comparisons/<entry>/)."""

    name: str                       # the entry
    variants: tuple[str, ...]
    compare: dict = field(compare=False)        # metric, goal, x, also, success
    swept: tuple[str, ...] = ()                 # the settings the variants change
    seeds: tuple[int, ...] | None = None
    param_keys: tuple[str, ...] = ()

    @property
    def out_dir(self) -> str:
        return f"reports/comparisons/{self.name}"

    @property
    def page(self) -> str:
        return f"reports/comparisons/{self.name}.html"


@dataclass(frozen=True)
class Registry:
    """The enabled part of params.yaml: datasets not skipped, experiments whose data is there."""

    datasets: dict[str, Dataset]
    experiments: dict[str, Experiment]
    scale: str = "full"
    threads: int = 1  # per computing job (params.yaml threads), pinned in its command
    cluster: dict = field(default_factory=dict, repr=False, compare=False)
    skipped_datasets: tuple[str, ...] = ()
    skipped_experiments: tuple[str, ...] = ()
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    _stages: dict | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_params(cls, params: dict, root: Path | str = ".") -> "Registry":
        """From validated, effective params (config.load_params). Every family's module is
        checked against the family contract here, before any job starts."""
        skip = set(params.get("skip_datasets", []))
        datasets = {n: Dataset(n, s) for n, s in params["datasets"].items() if n not in skip}
        experiments, skipped_exps = {}, []
        for name, spec in params["experiments"].items():
            problem = family.check(spec["family"], trains="trainer" in spec, generates="generate" in spec)
            if problem:
                raise ParamsError(f"experiments.{name}: {problem}")
            if spec.get("dataset") in skip:
                skipped_exps.append(name)
            else:
                experiments[name] = Experiment.resolve(name, spec, params, root)
        for exp in experiments.values():  # `uses:` the trained models of others: their settings too
            missing = [u for u in exp.spec.get("uses", []) if u not in experiments]
            if missing:
                raise ParamsError(f"experiments.{exp.name}.uses: {missing} left out (skip_datasets)")
            if "uses" in exp.spec:
                exp.spec["uses_specs"] = {u: experiments[u].spec for u in exp.spec["uses"]}
        comparisons = {n: Comparison(n, tuple(c["variants"]), dict(c["compare"]), tuple(c["swept"]),
                                     tuple(c["seeds"]) if c.get("seeds") else None, tuple(c["param_keys"]))
                       for n, c in params.get(COMPARISONS, {}).items() if n in experiments}
        return cls(datasets, experiments, params.get("scale", "full"), int(params.get("threads", 1)),
                   dict(params.get("cluster", {})),
                   tuple(sorted(skip)), tuple(skipped_exps), comparisons)

    def experiment(self, name: str) -> Experiment:
        try:
            return self.experiments[name]
        except KeyError:
            raise KeyError(f"unknown or skipped experiment {name!r}; known: {', '.join(self.experiments)}") from None

    def dataset(self, name: str) -> Dataset:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"unknown or skipped dataset {name!r}; known: {', '.join(self.datasets)}") from None

    def stages(self):
        """The stage table (pipeline/stages.py): name -> Stage, in DAG order."""
        if self._stages is None:  # built once: the Snakefile and the report ask many times
            object.__setattr__(self, "_stages", build_stages(self))
        return self._stages

    def stage(self, name: str):
        try:
            return self.stages()[name]
        except KeyError:
            raise KeyError(f"no stage {name!r} in this registry") from None
