FIGURES = [
    "fig2_vulnerability",
    "fig3_influence",
    "fig4_logit_lens",
    "fig5_heatmaps",
    "fig6_distributions",
    "fig7_ablation",
]


rule tables:
    """Tables 1-2 (CSV, Markdown, LaTeX) and the side-by-side with the paper's published values."""
    input:
        unlearn_targets(),
        attack_targets(),
    output:
        **{
            name: report(f"{R}/tables/{name}.md", caption=f"../report/{name}.rst", category="Tables")
            for name in table_names()
        },
        csv=expand(f"{R}/tables/{{name}}.csv", name=table_names()),
        tex=expand(f"{R}/tables/{{name}}.tex", name=table_names()),
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
    shell:
        "{params.ssiuu} tables --out-dir {params.tables_dir} > {log} 2>&1"


rule figures:
    """Figures 2-7 (PNG and PDF) from the cached results."""
    input:
        unlearn_targets(),
        attack_targets(),
        analysis_targets(),
    output:
        **{
            name: report(f"{R}/figures/{name}.png", caption=f"../report/{name}.rst", category="Figures")
            for name in FIGURES
        },
        pdf=expand(f"{R}/figures/{{name}}.pdf", name=FIGURES),
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
    shell:
        "{params.ssiuu} figures --out-dir {params.figures_dir} > {log} 2>&1"


rule claims:
    """The paper's three claims stated from the cached results: supported, not supported or inconclusive."""
    input:
        unlearn_targets(),
        attack_targets(),
        analysis_targets(),
    output:
        md=report(f"{R}/claims.md", caption="../report/claims.rst", category="Claims"),
        json=f"{R}/claims.json",
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
        "{params.ssiuu} claims --out {output.md} > {log} 2>&1"
