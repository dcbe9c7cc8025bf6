# fetch_<dataset> and preprocess_<dataset>, one pair per enabled dataset of params.yaml.
# Names reach the shell through `params`: Snakemake evaluates a rule's shell command when the
# job runs, after this loop has moved on, so `_ds` itself must not appear in it.


for _ds in REG.datasets.values():

    rule:
        name: f"fetch_{_ds.name}"
        input:
            _ds.fetch_code,
        output:
            directory(_ds.raw_dir),
        params:
            dataset=_ds.name,
            files=as_param(_ds.spec["files"]),
        log:
            f"logs/fetch/{_ds.name}.log",
        benchmark:
            f"logs/benchmarks/{SCALE}/fetch/{_ds.name}.tsv"
        resources:
            runtime=CLUSTER["cpu_runtime_min"],
            mem_mb=CLUSTER["cpu_mem_mb"],
        shell:
            f"{CLI} fetch {{params.dataset}} > {{log}} 2>&1"

    rule:
        name: f"preprocess_{_ds.name}"
        input:
            _ds.raw_dir,
            _ds.preprocess_code,
        output:
            directory(_ds.processed_dir),
        params:
            dataset=_ds.name,
            settings=as_param(_ds.spec["preprocess"]),
        log:
            f"logs/preprocess/{_ds.name}.log",
        benchmark:
            f"logs/benchmarks/{SCALE}/preprocess/{_ds.name}.tsv"
        resources:
            runtime=CLUSTER["cpu_runtime_min"],
            mem_mb=CLUSTER["cpu_mem_mb"],
        shell:
            f"{CLI} prepare {{params.dataset}} > {{log}} 2>&1"
