# The overview page: reports/index.html, self-contained (figures inlined).


rule report:
    input:
        REG.report_inputs(),
        REPORT_CODE,
    output:
        REPORT_HTML,
    log:
        "logs/report/report.log",
    resources:
        runtime=CLUSTER["cpu_runtime_min"],
        mem_mb=CLUSTER["cpu_mem_mb"],
    shell:
        f"{CLI} report > {{log}} 2>&1"
