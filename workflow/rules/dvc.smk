# Snakemake -> DVC: after a successful run, record in dvc.lock the stages of this run's DAG
# (the jobs that ran, and those Snakemake found up to date, e.g. made by an earlier run that was
# interrupted), so that `dvc status` is clean and `dvc repro` reruns nothing. See
# src/dllaunchpad/agreement.py; the other direction is `dllaunchpad dvc-sync`. Jobs inside a
# cluster job run with --no-hooks: this runs once, on the host that runs the workflow.


onsuccess:
    from dllaunchpad.pipeline.agreement import record_snakemake_run

    record_snakemake_run({job.rule.name for job in workflow.dag.jobs}, config)
