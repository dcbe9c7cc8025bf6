"""The stage table: every stage of the DAG, once, built from the registry.

    [stage_inputs] fetch_<dataset> -> preprocess_<dataset> -> train_<experiment>
                   -> [generate_<experiment>] -> evaluate_<experiment> -> report

Each :class:`Stage` says everything a workflow tool needs: the command, the files it reads
(data and upstream outputs, then the code it runs), what it writes, its log and benchmark file,
its resources and GPU tag, and exactly the params.yaml keys it reads. Its readers:

- ``workflow/rules/stages.smk`` turns every row into a Snakemake rule;
- ``pipeline/dvc_yaml.py`` turns every row into a dvc.yaml stage;
- the report (``report/collect.py``) links each stage's log and benchmark file;
- ``dllaunchpad run <experiment|dataset>`` turns a name into the outputs of its stages.

None of them keeps a list of its own, so the two tools cannot drift apart (tests/test_stages.py
compares Snakemake's parsed rules with dvc.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dllaunchpad.pipeline import folders
from dllaunchpad.pipeline.codedeps import PKG, PKG_DIR, closure
from dllaunchpad.pipeline.stage_inputs import CODE_DIR, PARAMS_DIR, STAGE as INPUTS_STAGE, manifest_path
from dllaunchpad.pipeline.sections import group_of

# The registry (pipeline/registry.py) builds this table and imports this module; type names
# below (Registry, Experiment, Dataset) are only annotations, so nothing is imported back.
REPORT_HTML = "reports/index.html"

# Snakemake `report()` captions (workflow/report/*.rst), relative to workflow/rules/.
CAPTIONS = "../report"


@dataclass(frozen=True)
class Output:
    """One thing a stage writes. `kind` is DVC's: out, metrics or plots. `report` holds the
    Snakemake report() annotation (caption, category, ...), or None."""

    path: str
    directory: bool = False
    kind: str = "out"
    report: dict | None = field(default=None, compare=False)
    plot: dict | None = field(default=None, compare=False)  # DVC plot options, e.g. {"x": "epoch"}


@dataclass(frozen=True)
class Stage:
    name: str                      # fetch_mnist, train_xor, report
    step: str                      # fetch | preprocess | train | generate | evaluate | report
    target: str | None             # the dataset or experiment it is about (None for report)
    args: tuple[str, ...]          # CLI words after `dllaunchpad`: ("train", "xor")
    inputs: tuple[str, ...]        # data and upstream outputs
    code: tuple[str, ...]          # the source files it runs (import closure), templates, tables
    outputs: tuple[Output, ...]
    params: tuple[str, ...]        # dotted params.yaml keys it reads
    log: str
    benchmark: str
    resources: dict = field(compare=False)
    gpu: bool = False
    local: bool = False            # runs on the submitting host under a cluster profile
    launcher: str = ""             # "srun ..." for multi-node training under SLURM (Snakemake only)
    # The fetch of a local-folder dataset (pipeline/folders.py): Snakemake's inputs are the
    # folder's files, DVC's dependency is the folder itself (it hashes every file in it).
    source_folder: str | None = None
    # The threads a computing step (train, generate, evaluate) runs on, written into its command
    # so that both tools run it the same way (params.yaml `threads`); None: not pinned.
    threads: int | None = None
    # The name of its import closure (train_cnn_classifier, prepare_mnist, report): stages of
    # one family and step share it, and under DVC they depend on its code manifest
    # (pipeline/stage_inputs.py) instead of each file. "" for the stage that writes them.
    code_group: str = ""

    @property
    def manifest(self) -> str | None:
        return manifest_path(self.code_group) if self.code_group else None

    def command(self, scale: str | None = None) -> str:
        """The shell command. Snakemake passes the scale it was given (it may come from
        --config); DVC reads it from params.yaml, so it passes none."""
        flag = f"--scale {scale} " if scale else ""
        flag += f"--threads {self.threads} " if self.threads else ""
        return f"dllaunchpad {flag}{' '.join(self.args)}"

    def cluster_command(self, scale: str | None = None) -> str:
        """The command a Snakemake job runs: under `srun` for a multi-node job."""
        return f"{self.launcher} {self.command(scale)}".strip()

    @property
    def deps(self) -> list[str]:
        """DVC's dependencies: its data, then its code manifest, which stands for `code`
        (Snakemake's inputs are `inputs` + `code` themselves)."""
        data = (self.source_folder,) if self.source_folder else self.inputs
        return [*data, *((self.manifest,) if self.manifest else self.code)]

    def paths(self, kind: str | None = None) -> list[str]:
        return [o.path for o in self.outputs if kind is None or o.kind == kind]


# -- the code each step runs -------------------------------------------------------------------

def _fetch_code(ds: Dataset) -> tuple[str, ...]:
    if ds.kind:  # a local folder: datasets/own_data.py copies it, not the downloader
        return closure("datasets/own_data.py")
    extra = (f"{PKG}/datasets/classical_piano_sources.csv",) if ds.name == "classical_piano" else ()
    return (*closure("datasets/fetch.py"), *extra)  # the per-file MIDI sources, for that dataset only


def _preprocess_code(ds: Dataset) -> tuple[str, ...]:
    return closure(f"datasets/{ds.module}.py", "datasets/__init__.py")


def experiment_code(exp: Experiment, step: str) -> tuple[str, ...]:
    """The family's module, the step's runner, and every module they import."""
    return closure(f"experiments/{exp.family}.py", f"runners/{step}.py")


def _report_code() -> tuple[str, ...]:
    extra = sorted(f"{PKG}/{p.relative_to(PKG_DIR).as_posix()}" for p in PKG_DIR.glob("report/templates/*.html"))
    return (*closure("report/build.py"), *extra, f"{PKG}/report/chapter_values.yaml")


# -- one table ---------------------------------------------------------------------------------

def _resources(reg: Registry, kind: str) -> dict:
    c = reg.cluster
    return {"runtime": c.get(f"{kind}_runtime_min", 20), "mem_mb": c.get(f"{kind}_mem_mb", 4000)}


def gpu_request(cluster: dict, trainer: dict) -> dict:
    """The SLURM resources of a GPU training job, from the one place that says how many GPUs it
    uses: trainer.devices (per node) and trainer.num_nodes. A SLURM profile passes them to sbatch
    through the slurm executor plugin; a local run ignores them."""
    n, nodes = int(trainer.get("devices", 1)), int(trainer.get("num_nodes", 1))
    res = {"slurm_partition": cluster.get("gpu_partition"),
           "cpus_per_task": cluster.get("cpus_per_gpu", 4) * n,
           "mem_mb": max(cluster.get("train_mem_mb", 8000), cluster.get("mem_mb_per_gpu", 8000) * n)}
    model = cluster.get("gpu_model")
    if cluster.get("gpu_request", "gres") == "gpu":
        res["gpu"] = n
        if model:
            res["gpu_model"] = model
    else:
        res["gres"] = f"gpu:{model + ':' if model else ''}{n}"
    if nodes > 1:
        # One job of `nodes` nodes with one task per GPU, started through srun (Stage.launcher):
        # Lightning's SLURM environment then gives every process its rank. For the slurm plugin
        # (tested on a two-node cluster in tests/test_slurm.py):
        # - `mpi` makes its job step run the rule's command as it is, where it would otherwise
        #   wrap it in a one-task `srun -n1`, inside which our srun started one task on one
        #   node (seen on the test cluster: Lightning then stopped, "--nodes=1 does not match");
        # - an MPI job takes `tasks` (all nodes together), not also `tasks_per_node`;
        # - `tasks_per_gpu` 1: a GPU job's sbatch line otherwise says --ntasks-per-gpu=<tasks>;
        # - `--gpus` counts the whole job's GPUs, where `gres` counts each node's.
        res.update({"nodes": nodes, "tasks": nodes * n, "tasks_per_gpu": 1, "mpi": "srun",
                    "cpus_per_task": cluster.get("cpus_per_gpu", 4)})
        if "gpu" in res:
            res["gpu"] = nodes * n
    return {k: v for k, v in res.items() if v is not None}


def _section(exp: Experiment) -> dict:
    """Snakemake report(): every figure sits under its chapter part and experiment."""
    return {"category": group_of(exp.chapter).title, "subcategory": f"{exp.chapter} {exp.name}"}


def _logs(reg: Registry, step: str, target: str) -> dict:
    return {"log": f"logs/{step}/{target}.log", "benchmark": f"logs/benchmarks/{reg.scale}/{step}/{target}.tsv"}


def _launcher(exp: Experiment) -> str:
    """`srun` for a multi-node training job (one process per GPU, ranks from SLURM); none else.
    It spells out the geometry: the slurm plugin's job step strips the job's SLURM_* variables
    (SLURM_NNODES, SLURM_NTASKS) before it runs a rule, so a bare srun would start one task on
    one node; and Lightning's SLURM environment refuses several tasks without
    SLURM_NTASKS_PER_NODE, which only --ntasks-per-node sets."""
    trainer = exp.spec["trainer"]
    nodes = int(trainer.get("num_nodes", 1))
    if not exp.gpu or nodes <= 1:
        return ""
    return f"srun --nodes={nodes} --ntasks-per-node={int(trainer.get('devices', 1))}"


def _experiment_params(exp: Experiment) -> tuple[str, ...]:
    return ("scale",) + (() if exp.own_seed else ("seed",)) + exp.param_keys


def build_stages(reg: Registry) -> dict[str, Stage]:
    out: dict[str, Stage] = {}

    def add(stage: Stage) -> None:
        out[stage.name] = stage

    for ds in reg.datasets.values():
        add(Stage(f"fetch_{ds.name}", "fetch", ds.name, ("fetch", ds.name),
                  folders.source_files(ds.spec) if ds.kind else (), _fetch_code(ds),
                  (Output(ds.raw_dir, directory=True),),
                  (f"datasets.{ds.name}.{'source' if ds.kind else 'files'}",), source_folder=ds.source_folder,
                  code_group="fetch_own_data" if ds.kind else ("fetch_classical_piano" if ds.name == "classical_piano" else "fetch"),
                  resources=_resources(reg, "cpu"), **_logs(reg, "fetch", ds.name)))
        pp = ("scale", f"datasets.{ds.name}.preprocess") + ((f"datasets.{ds.name}.quick",) if "quick" in ds.spec else ())
        add(Stage(f"preprocess_{ds.name}", "preprocess", ds.name, ("prepare", ds.name), (ds.raw_dir,),
                  _preprocess_code(ds), (Output(ds.processed_dir, directory=True),), pp, code_group=f"prepare_{ds.module}",
                  resources=_resources(reg, "cpu"), **_logs(reg, "preprocess", ds.name)))

    for exp in reg.experiments.values():
        data = (reg.datasets[exp.dataset].processed_dir,) if exp.dataset else ()
        data += tuple(reg.experiments[u].model_dir for u in exp.uses)  # `uses:` other experiments' models
        params = _experiment_params(exp) + tuple(k for u in exp.uses for k in reg.experiments[u].param_keys)
        if exp.trains:
            history = Output(exp.history, kind="plots", plot={"x": "epoch"},
                             report={"caption": f"{CAPTIONS}/history.rst", **_section(exp),
                                     "labels": {"experiment": exp.name, "file": "history"}})
            add(Stage(f"train_{exp.name}", "train", exp.name, ("train", exp.name), data,
                      experiment_code(exp, "train"), (Output(exp.model_dir, directory=True), history), params,
                      resources={**_resources(reg, "train"), **(gpu_request(reg.cluster, exp.spec["trainer"]) if exp.gpu else {})},
                      gpu=exp.gpu, launcher=_launcher(exp), threads=reg.threads, code_group=f"train_{exp.family}",
                      **_logs(reg, "train", exp.name)))
        if exp.generates:
            music = Output(exp.generated_dir, directory=True,
                           report={"caption": f"{CAPTIONS}/music.rst", "patterns": ["{name}.png"], **_section(exp),
                                   "labels": "figure"})
            add(Stage(f"generate_{exp.name}", "generate", exp.name, ("generate", exp.name), (exp.model_dir, *data),
                      experiment_code(exp, "generate"), (music,), params,
                      resources=_resources(reg, "cpu"), threads=reg.threads, code_group=f"generate_{exp.family}",
                      **_logs(reg, "generate", exp.name)))
        if exp.trains:
            evaluated = (exp.model_dir, exp.history) + ((exp.generated_dir,) if exp.generates else ()) + \
                tuple(reg.experiments[u].model_dir for u in exp.uses)
        else:
            evaluated = data
        figures = Output(exp.figures_dir, directory=True,
                         report={"caption": f"{CAPTIONS}/figure.rst", "patterns": ["{name}.png"], **_section(exp),
                                 "labels": "figure"})
        add(Stage(f"evaluate_{exp.name}", "evaluate", exp.name, ("evaluate", exp.name), evaluated,
                  experiment_code(exp, "evaluate"), (figures, Output(exp.metrics, kind="metrics")), params,
                  resources=_resources(reg, "cpu"), threads=reg.threads, code_group=f"evaluate_{exp.family}",
                  **_logs(reg, "evaluate", exp.name)))

    for cmp in reg.comparisons.values():
        variants = [reg.experiments[v] for v in cmp.variants]
        add(Stage(f"compare_{cmp.name}", "compare", cmp.name, ("compare", cmp.name),
                  tuple(p for v in variants for p in (v.metrics, v.figures_dir)), closure("runners/compare.py"),
                  (Output(cmp.out_dir, directory=True),), ("scale",) + cmp.param_keys,
                  resources=_resources(reg, "cpu"), code_group="compare", **_logs(reg, "compare", cmp.name)))

    report_inputs = [ds.processed_dir for ds in reg.datasets.values()]
    for exp in reg.experiments.values():
        report_inputs += [exp.metrics, exp.figures_dir]
    report_inputs += [exp.generated_dir for exp in reg.experiments.values() if exp.generates]
    report_inputs += [cmp.out_dir for cmp in reg.comparisons.values()]
    # Left-out experiments get a page too, saying why they did not run.
    pages = [f"reports/experiments/{n}.html" for n in [*reg.experiments, *reg.skipped_experiments]]
    pages += [cmp.page for cmp in reg.comparisons.values()]
    index = Output(REPORT_HTML, report={"caption": f"{CAPTIONS}/index.rst", "category": "Overview"})
    add(Stage("report", "report", None, ("report",), tuple(report_inputs), _report_code(),
              (index, *(Output(p) for p in pages)), ("scale", "experiments"),  # the pages show the settings
              resources=_resources(reg, "cpu"), local=True, log="logs/report/report.log",
              benchmark=f"logs/benchmarks/{reg.scale}/report/report.tsv", code_group="report"))
    return {INPUTS_STAGE: _inputs_stage(reg, out), **out}


def _inputs_stage(reg: Registry, table: dict[str, Stage]) -> Stage:
    """The first stage, for DVC: it writes every stage's slice of params.yaml and every code
    manifest (pipeline/stage_inputs.py), so it depends on params.yaml, on all their code and on
    the code that writes them (pipeline/dvc_yaml.py's write_stage_inputs).
    Snakemake reads params.yaml and the sources itself and never asks for it (the rule exists:
    one table for both tools)."""
    groups: dict[str, tuple[str, ...]] = {}
    for stage in table.values():
        if groups.setdefault(stage.code_group, stage.code) != stage.code:  # a naming slip here
            raise ValueError(f"code group {stage.code_group!r}: {stage.name} runs other code than "
                             "an earlier stage of that group")
    code = sorted({*closure("pipeline/dvc_yaml.py"), *(f for files in groups.values() for f in files)})
    return Stage(INPUTS_STAGE, "inputs", None, ("stage-inputs",), ("params.yaml",), tuple(code),
                 (Output(PARAMS_DIR, directory=True), Output(CODE_DIR, directory=True)), (),
                 resources=_resources(reg, "cpu"), local=True, log=f"logs/inputs/{INPUTS_STAGE}.log",
                 benchmark=f"logs/benchmarks/{reg.scale}/inputs/{INPUTS_STAGE}.tsv")


def _results(table: dict, name: str) -> list[str]:
    return [p for s in (f"generate_{name}", f"evaluate_{name}") if s in table for p in table[s].paths()]


def targets_of(reg: Registry, name: str) -> list[str] | None:
    """What `dllaunchpad run <name>` asks Snakemake for: an experiment's results (its evaluate and
    generate outputs; for an entry with variants, theirs too and the comparison), a dataset's
    prepared folder; None when `name` is neither."""
    table = reg.stages()
    if name in reg.experiments:
        out = _results(table, name)
        if name in reg.comparisons:
            out += [p for v in reg.comparisons[name].variants for p in _results(table, v)]
            out += table[f"compare_{name}"].paths()
        return out
    if name in reg.datasets:
        return table[f"preprocess_{name}"].paths()
    return None


def log_links(reg: Registry, exp: Experiment, root: Path) -> list[tuple[str, str]]:
    """(label, path) of every log and benchmark file the experiment's stages wrote."""
    table = reg.stages()
    out = []
    for step in ("train", "generate", "evaluate"):
        stage = table.get(f"{step}_{exp.name}")
        if stage is None:
            continue
        for label, rel in ((f"{step} log", stage.log), (f"{step} benchmark (Snakemake)", stage.benchmark)):
            if (Path(root) / rel).is_file():
                out.append((label, rel))
    return out
