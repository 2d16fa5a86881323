# ssiuu: "Erase or Hide?" (SSIUU) reproduction pipeline. See README.md and ../shared/DESIGN.md.
from snakemake.utils import min_version, validate

min_version("9.0")


# config.yaml is the default config; a --configfile replaces it instead of being merged into it
# (Snakemake 9 does not pass --replace-workflow-config on to cluster jobs).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
