"""The experiment and dataset tables of params.yaml as typed objects, and the paths each stage
reads and writes.

This module is the single place that knows the DAG's shape:

    fetch_<dataset> -> preprocess_<dataset> -> train_<experiment> -> evaluate_<experiment> -> report

The Snakefile (workflow/rules/*.smk) and the generated dvc.yaml (dvc_yaml.py) both expand these
objects, so adding an entry to params.yaml adds its stages to both. It imports nothing heavy:
Snakemake parses it on every invocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PKG = "src/dllaunchpad"

# Code each stage depends on (besides its data): a change here reruns the stage in DVC and
# Snakemake alike.
SHARED_TRAIN_CODE = [f"{PKG}/train.py", f"{PKG}/devices.py", f"{PKG}/batches.py"]
# Datasets whose preparation goes through the tensorflow-datasets builders.
TFDS_DATASETS = {"mnist", "rps"}


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
        return [f"{PKG}/fetch.py"]

    @property
    def preprocess_code(self) -> list[str]:
        code = [f"{PKG}/datasets/{self.name}.py"]
        if self.name in TFDS_DATASETS:
            code.append(f"{PKG}/datasets/tfds_builders.py")
        return code


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
    def code(self) -> list[str]:
        """The family's module, its model module when there is one (models/<family>.py), and
        the shared runner: a change to any of them reruns the experiment."""
        from .config import ROOT

        own = [f"{PKG}/experiments/{self.family}.py"]
        model = f"{PKG}/models/{self.family}.py"
        if (ROOT / model).exists():
            own.append(model)
        return own + (SHARED_TRAIN_CODE if self.trains else [])


REPORT_HTML = "reports/index.html"
REPORT_CODE = [f"{PKG}/report/build.py", f"{PKG}/report/templates/index.html", f"{PKG}/chapter_values.yaml"]


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
            return [exp.model_dir, exp.history]
        return [self.datasets[exp.dataset].processed_dir] if exp.dataset else []

    def train_inputs(self, exp: Experiment) -> list[str]:
        return [self.datasets[exp.dataset].processed_dir] if exp.dataset else []

    def report_inputs(self) -> list[str]:
        """Every enabled dataset (the report lists what was prepared) and every experiment."""
        out = [ds.processed_dir for ds in self.datasets.values()]
        for exp in self.experiments.values():
            out += [exp.metrics, exp.figures_dir]
        return out
