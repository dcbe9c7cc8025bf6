# The HTML report: reports/index.html (overview) and reports/experiments/<exp>.html (one page per
# experiment of params.yaml), self-contained (figures inlined). `snakemake --report report.html`
# shows the overview too, beside every figure of the evaluate stages (captions in workflow/report/).


rule report:
    input:
        REG.report_inputs(),
        REPORT_CODE,
    output:
        report(REPORT_HTML, caption="../report/index.rst", category="Overview"),
        REG.report_outputs()[1:],
    params:
        settings=as_param({"scale": SCALE, "experiments": P["experiments"]}),  # the pages show them
    log:
        "logs/report/report.log",
    benchmark:
        f"logs/benchmarks/{SCALE}/report/report.tsv"
    localrule: True
    resources:
        runtime=CLUSTER["cpu_runtime_min"],
        mem_mb=CLUSTER["cpu_mem_mb"],
    shell:
        f"{CLI} report > {{log}} 2>&1"
