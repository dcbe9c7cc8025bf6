# train_<experiment> (GPU-tagged) and evaluate_<experiment>, one pair per registry entry.
# Training rules ask for the GPU partition and a gres; a SLURM profile passes them to sbatch,
# a local run ignores them and the code falls back to the CPU when no GPU works.


def _gpu_resources(exp):
    if not exp.gpu:
        return {"slurm_partition": None, "gres": None}
    return {"slurm_partition": CLUSTER["gpu_partition"], "gres": CLUSTER["gres"]}


for _exp in REG.experiments.values():
    if _exp.trains:

        rule:
            name: f"train_{_exp.name}"
            input:
                REG.train_inputs(_exp),
                _exp.code,
            output:
                directory(_exp.model_dir),
                report(_exp.history, caption="../report/history.rst", category=report_category(_exp),
                       subcategory=report_subcategory(_exp), labels={"experiment": _exp.name, "file": "history"}),
            params:
                experiment=_exp.name,
                settings=as_param(_exp.spec),
            log:
                f"logs/train/{_exp.name}.log",
            benchmark:
                f"logs/benchmarks/{SCALE}/train/{_exp.name}.tsv"
            resources:
                runtime=CLUSTER["train_runtime_min"],
                mem_mb=CLUSTER["train_mem_mb"],
                **{k: v for k, v in _gpu_resources(_exp).items() if v is not None},
            shell:
                f"{CLI} train {{params.experiment}} > {{log}} 2>&1"

    rule:
        name: f"evaluate_{_exp.name}"
        input:
            REG.evaluate_inputs(_exp),
            _exp.code,
        output:
            report(directory(_exp.figures_dir), patterns=["{name}.png"], caption="../report/figure.rst",
                   category=report_category(_exp), subcategory=report_subcategory(_exp),
                   labels=figure_labels(_exp)),
            _exp.metrics,
        params:
            experiment=_exp.name,
            settings=as_param(_exp.spec),
        log:
            f"logs/evaluate/{_exp.name}.log",
        benchmark:
            f"logs/benchmarks/{SCALE}/evaluate/{_exp.name}.tsv"
        resources:
            runtime=CLUSTER["cpu_runtime_min"],
            mem_mb=CLUSTER["cpu_mem_mb"],
        shell:
            f"{CLI} evaluate {{params.experiment}} > {{log}} 2>&1"
