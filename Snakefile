# ssiuu: "Erase or Hide?" (SSIUU) reproduction pipeline. See README.md and docs/architecture.md.
import sys

from snakemake.utils import min_version, validate

from ssiuu.config import read_yaml, validate_config
from ssiuu.sources import require_sources, snakemake_checks_sources

min_version("9.0")


# config.yaml is the default config; a --configfile replaces it instead of being merged into it
# (Snakemake 9 does not pass --replace-workflow-config on to cluster jobs).
if not workflow.overwrite_configfiles:
    read_yaml("config.yaml")  # a YAML syntax error names its line here, not in Snakemake's message

    configfile: "config.yaml"


# a key given twice in a --configfile (which Snakemake has already read, keeping the last value) names its lines
for configured in workflow.overwrite_configfiles:
    read_yaml(configured)


# every problem of the config, one short line each, before Snakemake's validate (which fills the defaults)
validate_config(config, source=", ".join(map(str, workflow.overwrite_configfiles or workflow.configfiles)))
validate(config, "workflow/schemas/config.schema.yaml")
# every model and data source, one line each, before any job is planned or the work root written (ssiuu/sources.py)
if workflow.is_main_process and snakemake_checks_sources(sys.argv):
    require_sources(
        config, source=", ".join(map(str, workflow.overwrite_configfiles or workflow.configfiles))
    )


include: "workflow/rules/profile.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/card.smk"


# `--report` shows this configuration's own results (the cards' with the `card` target), or fails naming what is
# missing (workflow/rules/targets.smk)
require_report_results()


rule all:
    default_target: True
    input:
        all_targets(),
