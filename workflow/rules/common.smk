import hashlib
from pathlib import Path

import yaml

from ssiuu import layout
from ssiuu import resources as job_needs
from ssiuu.config import unlearn_settings as resolved_unlearn_settings
from ssiuu.data import style_of
from ssiuu.references import CONTROLS, NEVER_LEARNED, REFERENCE_SEED, START, control_seeds
from ssiuu.references import REFERENCES as REFERENCE_MODELS

W = config["work_dir"]
R = config["results_dir"]
ENV = "../../envs/ssiuu.yaml"


def _resolved_config_path():
    """The validated config, defaults filled, in a content-addressed file that every command reads."""
    text = yaml.safe_dump(config, sort_keys=True)
    path = Path(W) / "configs" / f"config-{hashlib.sha1(text.encode()).hexdigest()[:12]}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path)


# Every job reads the run's resolved config through SSIUU_CONFIG, exported by the shell prefix (a SLURM
# job's snakemake re-evaluates this file and sets it again). The command itself does not name the file, so an
# edit of one config section reruns only the rules that take that section as a param.
CFG = _resolved_config_path()
# Jobs import the package of the checkout whose Snakefile runs, whatever the working directory (-d) and
# whatever is installed in the environment.
shell.prefix(
    f'set -euo pipefail; export SSIUU_CONFIG={CFG}; export PYTHONPATH="{workflow.basedir}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
)
SSIUU = "python -m ssiuu"

MODELS = list(config["models"])
BENCHMARKS = list(config["benchmarks"])
METHODS = list(config["methods"])
SEEDS = [int(s) for s in config["seeds"]]
#: the seeds of the λ-ablation variants and the analyses (Figs. 3-7a): the first only, to save time
FIRST_SEED = SEEDS[:1]
ATTACKED = config["attacks"]["methods"] or METHODS
RUNS = list(range(int(config["attacks"]["runs"])))
ANALYSIS = config["analysis"]


fmt_lr = layout.fmt_lr


def P(kind, **values):
    """The path pattern of one kind of result (ssiuu/layout.py); wildcards not given stay ``{name}``."""
    roots = {"results": R, "work": W}
    template = layout.TEMPLATES[kind]
    return layout.pattern(kind, **{k: v for k, v in roots.items() if f"{{{k}}}" in template}, **values)


HARMFUL_P = [str(p) for p in config["attacks"]["harmful"]["fractions"]]
HARMFUL_LR = [fmt_lr(lr) for lr in config["attacks"]["harmful"]["learning_rates"]]
BENIGN_LR = [fmt_lr(lr) for lr in config["attacks"]["benign"]["learning_rates"]]
CALIBRATION = ANALYSIS["attack_calibration"]


def attack_settings(kind):
    """The settings of one attack kind that its draws depend on (a job's params): all but the learning-rate list,
    which the job's output files name."""
    return {k: v for k, v in config["attacks"][kind].items() if k != "learning_rates"}


#: the calibration's run indices, disjoint from the tables' (RUNS), so that its draws are others
CALIBRATION_RUNS = list(range(CALIBRATION["first_run"], CALIBRATION["first_run"] + int(CALIBRATION["runs"])))
#: the result files of one checkpoint's attack draws, by kind, wildcards {benchmark} {model} {method} {seed} left open
HARMFUL_DRAWS = [P("harmful", p=p, lr=lr, run=r) for p in HARMFUL_P for lr in HARMFUL_LR for r in RUNS]
BENIGN_DRAWS = [P("benign", lr=lr, run=r) for lr in BENIGN_LR for r in RUNS]
CALIBRATION_DRAWS = [
    P("calibration_harmful", p=CALIBRATION["harmful"]["fraction"], lr=fmt_lr(lr), run=r)
    for lr in CALIBRATION["harmful"]["learning_rates"]
    for r in CALIBRATION_RUNS
] + [
    P("calibration_benign", lr=fmt_lr(lr), run=r)
    for lr in CALIBRATION["benign"]["learning_rates"]
    for r in CALIBRATION_RUNS
]


def style(benchmark):
    return style_of(config["benchmarks"][benchmark]["kind"])


def lambda_variants():
    if not ANALYSIS["enabled"]:
        return []
    return [layout.variant_name("SSIUU", lambda_=lam) for lam in ANALYSIS["lambda_ablation"]]


def start_model(wildcards):
    """The model unlearning starts from: the prepared base model, or its TOFU-style pre-finetuned copy."""
    if style(wildcards.benchmark) == "rouge":
        return P("pretrained_model", model=wildcards.model, benchmark=wildcards.benchmark)
    return P("base_model", model=wildcards.model)


def controls(benchmark):
    """The control rows of a benchmark (attacks.controls of its style, in ssiuu/references.py's order)."""
    configured = config["attacks"]["controls"].get(style(benchmark), [])
    return [c for c in CONTROLS[style(benchmark)] if c in configured]


def seeds_of(method):
    """The unlearning seeds of a row: every seed, but the references' one (REFERENCE_SEED) and the λ-ablation
    variants' first."""
    return FIRST_SEED if layout.method_variant(method)[1] else control_seeds(method, SEEDS)


def attacked_methods(benchmark):
    """The rows attacked harmfully and benignly on a benchmark: the configured methods and the controls."""
    return list(dict.fromkeys(ATTACKED + controls(benchmark)))


def attack_checkpoint(wildcards):
    """The weights an attack starts from: an unlearned checkpoint (the Hider's included) or a reference model."""
    if wildcards.method == START:
        return start_model(wildcards)
    if wildcards.method == NEVER_LEARNED:
        return P("never_learned_model", model=wildcards.model, benchmark=wildcards.benchmark)
    return P(
        "checkpoint",
        benchmark=wildcards.benchmark,
        model=wildcards.model,
        method=wildcards.method,
        seed=wildcards.seed,
    )


def torch_resources(mem_mb=8000, runtime=60):
    """A torch rule's resources: one GPU (none under `device: cpu`), ``mem_mb`` of host RAM, and per job the time
    limit (minutes, grown by the retry's `attempt`, at most 24 h), GPU memory (GiB) and disk (MB) that
    ssiuu/resources.py derives from the measured per-step costs and this config; ``runtime`` (minutes) is the
    limit of a rule it has no estimate for."""

    def limit(wildcards, attempt, rulename):
        seconds = job_needs.job_seconds(config, rulename, dict(wildcards.items()))
        if seconds is None:
            return min(job_needs.PARTITION_MINUTES, runtime * attempt)
        return job_needs.runtime_minutes(seconds, attempt)

    return {
        "mem_mb": mem_mb,
        "runtime": limit,
        "gpu": 1 if config["device"] != "cpu" else 0,
        "gpu_mem_gib": lambda wildcards, rulename: job_needs.gpu_memory_gib(
            config, rulename, dict(wildcards.items())
        ),
        "disk_mb": lambda wildcards, rulename: job_needs.disk_mb(config, rulename, dict(wildcards.items())),
    }


def saved_model(path):
    """The output directory of a saved model: temp() under `discard_checkpoints: true` (deleted once the last
    job of this command that reads it has ended), kept otherwise."""
    return temp(directory(path)) if config["discard_checkpoints"] else directory(path)


wildcard_constraints:
    **{name: layout.WILDCARDS[name] for name in ("benchmark", "model", "method", "seed", "run", "p", "lr")},


def unlearn_settings(wildcards):
    """The config one unlearning job depends on (ssiuu.config.unlearn_settings): a change reruns it."""
    return resolved_unlearn_settings(config, wildcards.benchmark, wildcards.method)
