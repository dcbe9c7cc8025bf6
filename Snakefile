# launchpad: every worked example of "A Deep Learning Launchpad" as one DAG.
#
#   fetch_<dataset> -> preprocess_<dataset> -> train_<experiment> -> evaluate_<experiment> -> report
#
# The rules are rows of the stage table (src/dllaunchpad/pipeline/stages.py), which is built from
# params.yaml's `datasets:` and `experiments:` tables and also generates dvc.yaml.
# Quick mode: `--config scale=quick`. Offline with the shared mirror:
# LAUNCHPAD_MIRROR=../shared/mirror and --config skip_datasets=[rps].

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "params.yaml"


# `snakemake --report report.html`: this text, then every report()-marked output with its caption.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


rule all:
    default_target: True
    input:
        STAGES["report"].paths(),


include: "workflow/rules/stages.smk"
include: "workflow/rules/dvc.smk"
