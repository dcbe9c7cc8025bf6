# Every stage of the DAG as a rule, one per row of the stage table (pipeline/stages.py):
#
#   fetch_<dataset> -> preprocess_<dataset> -> train_<experiment> -> [generate_<experiment>]
#                   -> evaluate_<experiment> -> report
#
# The same rows generate dvc.yaml, so the two tools run the same commands on the same inputs.
# Training rules of GPU experiments carry the partition and gres in their resources: a SLURM
# profile passes them to sbatch, a local run ignores them and the code falls back to the CPU.
# A row's values reach the shell through `params`: Snakemake formats a rule's command when the
# job runs, after this loop has moved on, so `_stage` itself must not appear in it.


for _stage in STAGES.values():

    rule:
        name:
            _stage.name
        input:
            _stage.inputs,
            _stage.code,
        output:
            [rule_output(o, _stage) for o in _stage.outputs],
        log:
            _stage.log,
        benchmark:
            _stage.benchmark
        localrule: _stage.local
        conda:
            "../envs/launchpad.yaml"
        threads: _stage.threads or 1
        resources:
            **_stage.resources,
        params:
            **caption_params(_stage),
            command=_stage.cluster_command(SCALE),
            settings=param_values(_stage),
        shell:
            "{params.command} > {log} 2>&1"
