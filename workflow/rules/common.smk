import hashlib
from pathlib import Path

import yaml

from ssiuu.references import REFERENCES as REFERENCE_METHODS

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
shell.prefix(f"set -euo pipefail; export SSIUU_CONFIG={CFG}; ")
SSIUU = "python -m ssiuu"

MODELS = list(config["models"])
BENCHMARKS = list(config["benchmarks"])
METHODS = list(config["methods"])
SEEDS = [int(s) for s in config["seeds"]]
ATTACKED = config["attacks"]["methods"] or METHODS
RUNS = list(range(int(config["attacks"]["runs"])))
ANALYSIS = config["analysis"]


def fmt_lr(lr):
    """Learning rates in file names: 1e-05 -> 1e-05, 5e-06 -> 5e-06 (stable, parseable)."""
    return f"{float(lr):.0e}"


HARMFUL_P = [str(p) for p in config["attacks"]["harmful"]["fractions"]]
HARMFUL_LR = [fmt_lr(lr) for lr in config["attacks"]["harmful"]["learning_rates"]]
BENIGN_LR = [fmt_lr(lr) for lr in config["attacks"]["benign"]["learning_rates"]]


def style(benchmark):
    return "rouge" if config["benchmarks"][benchmark]["kind"] in ("tofu", "fictitious") else "mcqa"


def lambda_variants():
    return [f"SSIUU-lambda{lam:g}" for lam in ANALYSIS["lambda_ablation"]] if ANALYSIS["enabled"] else []


def unlearn_dir(benchmark, model, method, seed):
    return f"{R}/{benchmark}/{model}/{method}/seed{seed}"


def start_model(wildcards):
    """The model unlearning starts from: the prepared base model, or its TOFU-style pre-finetuned copy."""
    if style(wildcards.benchmark) == "rouge":
        return f"{W}/models/{wildcards.model}/pretrained-{wildcards.benchmark}"
    return f"{W}/models/{wildcards.model}/base"


REFERENCES = REFERENCE_METHODS if config["attacks"]["references"] else {}


def attacked_methods(benchmark):
    """The methods attacked on a benchmark: the configured ones and the benchmark style's reference."""
    ref = REFERENCES.get(style(benchmark))
    return ATTACKED + ([ref] if ref else [])


def attack_checkpoint(wildcards):
    """The weights an attack starts from: an unlearned checkpoint or a reference model."""
    if wildcards.method == REFERENCE_METHODS["mcqa"]:
        return start_model(wildcards)
    if wildcards.method == REFERENCE_METHODS["rouge"]:
        return f"{W}/models/{wildcards.model}/neverlearned-{wildcards.benchmark}"
    return f"{W}/checkpoints/{wildcards.benchmark}/{wildcards.model}/{wildcards.method}/seed{wildcards.seed}"


def torch_resources(mem_mb=8000, runtime=60):
    return {"mem_mb": mem_mb, "runtime": runtime, "gpu": 1 if config["device"] != "cpu" else 0}


wildcard_constraints:
    seed=r"\d+",
    run=r"\d+",
    p=r"[0-9.]+",
    lr=r"[0-9.e+-]+",
    model=r"[A-Za-z0-9_.]+",
    benchmark=r"[A-Za-z0-9_.]+",
    method=r"[A-Za-z0-9_.+-]+",


def unlearn_settings(wildcards):
    """The config one unlearning job depends on (a change reruns it): the `unlearning` section with the
    benchmark's overrides applied and the learning rates and step budget resolved for this method (as
    ssiuu.config.learning_rates and ssiuu.config.unlearning_config do), plus the method's params. Giving
    one method its own learning rates or steps, or one benchmark its own overrides, leaves every other job
    alone."""
    base = wildcards.method.split("-")[0]
    effective = {**config["unlearning"], **config["benchmarks"][wildcards.benchmark].get("unlearning", {})}
    rates = effective.get("method_learning_rates", {}).get(base, effective["learning_rates"])
    steps = effective.get("method_max_steps", {}).get(base, effective["max_steps"])
    per_method = ("learning_rates", "method_learning_rates", "max_steps", "method_max_steps")
    settings = {k: v for k, v in effective.items() if k not in per_method}
    return {
        "unlearning": {**settings, "learning_rates": sorted(rates), "max_steps": steps},
        "method": config["method_params"].get(base, {}),
    }
