# The report's three rules, built from its registries (as common.smk builds paths from layout.TEMPLATES): each
# entry of TABLES, FIGURES and CLAIMS names its builder, its caption (workflow/report/) and its input groups.
# Nothing lost: each rule builds its outputs aside (targets.smk: built_aside) and they replace the published ones
# only when every one was built; update() keeps Snakemake from deleting the published files before the job and
# after a failure.
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
            name: update(
                report(
                    P("table", name=name, ext="md"),
                    caption=f"../report/{TABLES[name].caption}",
                    category="Tables",
                )
            )
            for name in table_names()
        },
        csv=[update(P("table", name=name, ext="csv")) for name in table_names()],
        tex=[update(P("table", name=name, ext="tex")) for name in table_names()],
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
        aside=aside("tables"),
        calibration=report_calibration(TABLES),  # read where present (target `calibration`); no dependency
        caption=CAPTION,
    shell:
        built_aside("{params.ssiuu} tables --results {input} {params.calibration} --out-dir {params.aside}")


rule figures:
    """Figures 2-7 (PNG and PDF) from the cached results."""
    input:
        report_inputs(FIGURES),
    output:
        **{
            name: update(
                report(
                    P("figure", name=name, ext="png"),
                    caption=f"../report/{entry.caption}",
                    category="Figures",
                )
            )
            for name, entry in FIGURES.items()
        },
        pdf=[update(P("figure", name=name, ext="pdf")) for name in FIGURES],
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
        aside=aside("figures"),
        calibration=report_calibration(FIGURES),  # as for the tables
        caption=CAPTION,
    shell:
        built_aside("{params.ssiuu} figures --results {input} {params.calibration} --out-dir {params.aside}")


rule claims:
    """The paper's claims stated from the cached results: supported, not supported, inconclusive or the
    instrument cannot decide here; then README.md's results block."""
    input:
        report_inputs(CLAIMS),
    output:
        md=update(report(P("claims", ext="md"), caption=f"../report/{claims_caption()}", category="Claims")),
        json=update(P("claims", ext="json")),
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
        aside=aside("claims"),
        calibration=report_calibration(CLAIMS),
        caption=CAPTION,
    shell:
        built_aside(
            "{params.ssiuu} claims --results {input} {params.calibration} --out {params.aside}/claims.md",
            then="{params.ssiuu} readme --results {input} {params.calibration} --claims-md {output.md} --readme README.md",
        )


# the one-line reason of a failed table, figure or claims build, last on the console (after Snakemake's job report)
onerror:
    for reason in report_failures():
        print(reason, file=sys.stderr)
