# generate_<experiment>: new samples from a trained model (reports/music/<experiment>/), for the
# entries of params.yaml with a `generate:` block. It runs after train_<experiment>; evaluate and
# the report read what it writes. Generation is cheap: CPU resources.

from dllaunchpad.registry import GENERATE_CODE


for _exp in REG.experiments.values():
    if _exp.generates:

        rule:
            name: f"generate_{_exp.name}"
            input:
                REG.generate_inputs(_exp),
                _exp.code,
                GENERATE_CODE,
            output:
                report(directory(_exp.generated_dir), patterns=["{name}.png"], caption="../report/music.rst",
                       category=report_category(_exp), subcategory=report_subcategory(_exp),
                       labels=figure_labels(_exp)),
            params:
                experiment=_exp.name,
                settings=as_param(_exp.spec),
            log:
                f"logs/generate/{_exp.name}.log",
            benchmark:
                f"logs/benchmarks/{SCALE}/generate/{_exp.name}.tsv"
            resources:
                runtime=CLUSTER["cpu_runtime_min"],
                mem_mb=CLUSTER["cpu_mem_mb"],
            shell:
                f"{CLI} generate {{params.experiment}} > {{log}} 2>&1"
