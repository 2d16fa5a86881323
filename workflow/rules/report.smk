# The report's three rules, built from its registries (as common.smk builds paths from layout.TEMPLATES): each
# entry of TABLES, FIGURES and CLAIMS names its builder, its caption (workflow/report/) and its input groups.
from ssiuu.report.claims import CLAIMS
from ssiuu.report.figures import FIGURES
from ssiuu.report.registry import caption_values
from ssiuu.report.tables import TABLES

#: the config values the captions quote ({{ snakemake.params.caption.level }} ...)
CAPTION = caption_values(config)


rule tables:
    """Tables 1-2 (CSV, Markdown, LaTeX), their companions and the side-by-side with the paper's published
    values; the attack calibration table where the calibration's draws are on disk (`snakemake calibration`).
    """
    input:
        report_inputs(TABLES),
    output:
        **{
            name: report(
                P("table", name=name, ext="md"),
                caption=f"../report/{TABLES[name].caption}",
                category="Tables",
            )
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
        calibration=report_calibration(TABLES),  # read where present (target `calibration`); no dependency
        caption=CAPTION,
    shell:
        "{params.ssiuu} tables --results {input} {params.calibration} --out-dir {params.tables_dir} > {log} 2>&1"


rule figures:
    """Figures 2-7 (PNG and PDF) from the cached results."""
    input:
        report_inputs(FIGURES),
    output:
        **{
            name: report(
                P("figure", name=name, ext="png"), caption=f"../report/{entry.caption}", category="Figures"
            )
            for name, entry in FIGURES.items()
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
        calibration=report_calibration(FIGURES),  # as for the tables
        caption=CAPTION,
    shell:
        "{params.ssiuu} figures --results {input} {params.calibration} --out-dir {params.figures_dir} > {log} 2>&1"


rule claims:
    """The paper's claims stated from the cached results: supported, not supported, inconclusive or the
    instrument cannot decide here; then README.md's results block."""
    input:
        report_inputs(CLAIMS),
    output:
        md=report(P("claims", ext="md"), caption=f"../report/{claims_caption()}", category="Claims"),
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
        calibration=report_calibration(CLAIMS),
        caption=CAPTION,
    shell:
        "{params.ssiuu} claims --results {input} {params.calibration} --out {output.md} > {log} 2>&1 && "
        "{params.ssiuu} readme --results {input} {params.calibration} --claims-md {output.md} --readme README.md >> {log} 2>&1"
