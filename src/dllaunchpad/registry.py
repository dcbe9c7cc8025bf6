"""The experiment and dataset tables of params.yaml as typed objects, and the paths each stage
reads and writes.

This module is the single place that knows the DAG's shape:

    fetch_<dataset> -> preprocess_<dataset> -> train_<experiment> -> evaluate_<experiment> -> report

(entries with a `generate:` block add generate_<experiment> between train and evaluate.)

The Snakefile (workflow/rules/*.smk) and the generated dvc.yaml (dvc_yaml.py) both expand these
objects, so adding an entry to params.yaml adds its stages to both. It imports nothing heavy:
Snakemake parses it on every invocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codedeps import PKG, closure

# The code each stage depends on is found by following imports (codedeps.closure): a change to
# any module a stage runs reruns that stage, in DVC and Snakemake alike.


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
    def fetch_code(self) -> list[str]:
        # + the per-file MIDI sources that fetch.py reads for classical_piano
        return [*closure("fetch.py"), f"{PKG}/datasets/classical_piano_sources.csv"]

    @property
    def preprocess_code(self) -> list[str]:
        return list(closure(f"datasets/{self.name}.py", "datasets/__init__.py"))


@dataclass(frozen=True)
class Experiment:
    name: str
    spec: dict = field(repr=False, compare=False)

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
    def trains(self) -> bool:
        """Families with a `trainer:` block train a model; the rest only evaluate (compute)."""
        return "trainer" in self.spec

    @property
    def generates(self) -> bool:
        """Entries with a `generate:` block get a generate_<exp> stage after training (music)."""
        return "generate" in self.spec

    # -- paths (see ../shared/DESIGN.md; reports and tests rely on them) --
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
    def generated_dir(self) -> str:
        return f"reports/music/{self.name}"

    @property
    def code(self) -> list[str]:
        """The family's module, the runner (train/evaluate) and every module they import."""
        runners = ("train.py", "evaluate.py") if self.trains else ("evaluate.py",)
        return list(closure(f"experiments/{self.family}.py", *runners))


# The generate stage's runner and what it imports (besides the family's own code).
GENERATE_CODE = list(closure("generate.py"))
REPORT_HTML = "reports/index.html"


def _report_code() -> list[str]:
    """The report's modules and templates (src/dllaunchpad/report/) and the chapter's values."""
    from pathlib import Path

    here = Path(__file__).parent
    files = sorted([*here.glob("report/*.py"), *here.glob("report/templates/*.html")])
    return [f"{PKG}/{p.relative_to(here).as_posix()}" for p in files] + [f"{PKG}/chapter_values.yaml"]


REPORT_CODE = _report_code()


@dataclass(frozen=True)
class Registry:
    """The enabled part of params.yaml: datasets not skipped, experiments whose data is there."""

    datasets: dict[str, Dataset]
    experiments: dict[str, Experiment]
    skipped_datasets: tuple[str, ...] = ()
    skipped_experiments: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: dict) -> "Registry":
        skip = set(params.get("skip_datasets", []))
        datasets = {n: Dataset(n, s) for n, s in params["datasets"].items() if n not in skip}
        experiments, skipped_exps = {}, []
        for name, spec in params["experiments"].items():
            if spec.get("dataset") in skip:
                skipped_exps.append(name)
            else:
                experiments[name] = Experiment(name, spec)
        return cls(datasets, experiments, tuple(sorted(skip)), tuple(skipped_exps))

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

    def evaluate_inputs(self, exp: Experiment) -> list[str]:
        """What evaluate_<exp> reads: the trained model and its history, or for compute-only
        families the data."""
        if exp.trains:
            return [exp.model_dir, exp.history] + ([exp.generated_dir] if exp.generates else [])
        return [self.datasets[exp.dataset].processed_dir] if exp.dataset else []

    def train_inputs(self, exp: Experiment) -> list[str]:
        return [self.datasets[exp.dataset].processed_dir] if exp.dataset else []

    def generate_inputs(self, exp: Experiment) -> list[str]:
        """What generate_<exp> reads: the trained model and the data (seed piece, corpus)."""
        return [exp.model_dir, *self.train_inputs(exp)]

    def generated_dirs(self) -> list[str]:
        """reports/music/<exp> of every experiment that generates (the report shows them)."""
        return [exp.generated_dir for exp in self.experiments.values() if exp.generates]

    def report_outputs(self) -> list[str]:
        """reports/index.html and one page per experiment of params.yaml: left-out experiments
        get a page too, saying why they did not run."""
        names = [*self.experiments, *self.skipped_experiments]
        return [REPORT_HTML] + [f"reports/experiments/{name}.html" for name in names]

    def report_inputs(self) -> list[str]:
        """Every enabled dataset (the report lists what was prepared) and every experiment."""
        out = [ds.processed_dir for ds in self.datasets.values()]
        for exp in self.experiments.values():
            out += [exp.metrics, exp.figures_dir]
        return out + self.generated_dirs()
