FIGURES = [
    "fig2_vulnerability",
    "fig3_influence",
    "fig4_logit_lens",
    "fig5_heatmaps",
    "fig6_distributions",
    "fig7_ablation",
]


rule tables:
    """Tables 1-2 (CSV, Markdown, LaTeX) and the side-by-side with the paper's published values; the attack
    calibration table where the calibration's draws are on disk (`snakemake calibration`)."""
    input:
        report_inputs(),
    output:
        **{
            name: report(P("table", name=name, ext="md"), caption=f"../report/{name}.rst", category="Tables")
            for name in table_names()
        },
        csv=[P("table", name=name, ext="csv") for name in table_names()],
        tex=[P("table", name=name, ext="tex") for name in table_names()],
    log:
        f"{W}/logs/report/tables.log",
    benchmark:
        f"{W}/benchmarks/report/tables.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        ssiuu=SSIUU,
        tables_dir=lambda w, output: str(Path(output[0]).parent),
        calibration=present_calibration(),  # read where present (target `calibration`); a param, no dependency
    shell:
        "{params.ssiuu} tables --results {input} {params.calibration} --out-dir {params.tables_dir} > {log} 2>&1"


rule figures:
    """Figures 2-7 (PNG and PDF) from the cached results."""
    input:
        report_inputs(analysis=True),
    output:
        **{
            name: report(
                P("figure", name=name, ext="png"), caption=f"../report/{name}.rst", category="Figures"
            )
            for name in FIGURES
        },
        pdf=[P("figure", name=name, ext="pdf") for name in FIGURES],
    log:
        f"{W}/logs/report/figures.log",
    benchmark:
        f"{W}/benchmarks/report/figures.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        ssiuu=SSIUU,
        figures_dir=lambda w, output: str(Path(output[0]).parent),
        calibration=present_calibration(),  # as for the tables
    shell:
        "{params.ssiuu} figures --results {input} {params.calibration} --out-dir {params.figures_dir} > {log} 2>&1"


rule claims:
    """The paper's three claims stated from the cached results: supported, not supported or inconclusive."""
    input:
        report_inputs(analysis=True),
    output:
        md=report(P("claims", ext="md"), caption="../report/claims.rst", category="Claims"),
        json=P("claims", ext="json"),
    log:
        f"{W}/logs/report/claims.log",
    benchmark:
        f"{W}/benchmarks/report/claims.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        ssiuu=SSIUU,
    shell:
        "{params.ssiuu} claims --results {input} --out {output.md} > {log} 2>&1 && "
        "{params.ssiuu} readme --results {input} --claims-md {output.md} --readme README.md >> {log} 2>&1"
