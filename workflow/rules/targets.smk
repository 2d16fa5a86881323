# Target lists and input functions (functions only: `snakemake --lint` wants them apart from rules).


def analysis_benchmarks():
    return [b for b in BENCHMARKS if style(b) == "mcqa"] if ANALYSIS["enabled"] else []


def state_inputs(wildcards):
    """A model state: `base`, `<method>-seed<s>` (unlearned) or `<method>-seed<s>-attacked`."""
    b, m, state = wildcards.benchmark, wildcards.model, wildcards.state
    inputs = {"split": f"{R}/{b}/{m}/split.json"}
    if state == "base":
        inputs["model"] = start_model(wildcards)
        return inputs
    method, seed = state.removesuffix("-attacked").rsplit("-seed", 1)
    inputs["model"] = f"{W}/checkpoints/{b}/{m}/{method}/seed{seed}"
    inputs["result"] = f"{unlearn_dir(b, m, method, seed)}/unlearn.json"
    return inputs


def seed_states(methods, suffix=""):
    return [f"{method}-seed{seed}{suffix}" for method in methods for seed in SEEDS]


def lens_states(wildcards):
    states = {"base": start_model(wildcards)}
    for state in seed_states(ANALYSIS["logit_lens_methods"]):
        method, seed = state.rsplit("-seed", 1)
        states[state] = f"{W}/checkpoints/{wildcards.benchmark}/{wildcards.model}/{method}/seed{seed}"
    return states


def analysis_targets():
    out = []
    for b in analysis_benchmarks():
        for m in MODELS:
            base = f"{R}/{b}/{m}/analysis"
            out += [f"{base}/influence", f"{base}/distributions", f"{base}/logit_lens.csv"]
    return out


def unlearn_targets():
    out = []
    for b in BENCHMARKS:
        methods = METHODS + (lambda_variants() if style(b) == "mcqa" else [])
        for m in MODELS:
            out.append(f"{R}/{b}/{m}/base.json")
            if style(b) == "rouge":
                out.append(f"{R}/{b}/{m}/pretrain.json")
            out += [f"{unlearn_dir(b, m, x, s)}/unlearn.json" for x in methods for s in SEEDS]
            if style(b) in REFERENCES:
                out += [f"{unlearn_dir(b, m, REFERENCES[style(b)], s)}/unlearn.json" for s in SEEDS]
    return out


def attack_targets():
    out = []
    for b in BENCHMARKS:
        for m in MODELS:
            for s in SEEDS:
                attacked = attacked_methods(b)
                for x in attacked + (lambda_variants() if style(b) == "mcqa" else []):
                    d = f"{unlearn_dir(b, m, x, s)}/attacks"
                    sweep = ANALYSIS["enabled"] and style(b) == "mcqa" and x in ANALYSIS["lr_sweep_methods"]
                    lrs = sorted(
                        set(HARMFUL_LR)
                        | ({fmt_lr(lr) for lr in ANALYSIS["lr_sweep_learning_rates"]} if sweep else set())
                    )
                    out += [
                        f"{d}/harmful_p{p}_lr{lr}_run{r}.json" for p in HARMFUL_P for lr in lrs for r in RUNS
                    ]
                    if x in attacked:
                        out += [f"{d}/benign_lr{lr}_run{r}.json" for lr in BENIGN_LR for r in RUNS]
    return out


def table_names():
    names = []
    for number, kind in ((1, "mcqa"), (2, "rouge")):
        if any(style(b) == kind for b in BENCHMARKS):
            names += [f"table{number}{suffix}" for suffix in ("", "_vs_paper", "_recovery", "_ssiuu_vs")]
    return names


def report_targets():
    return rules.tables.output + rules.figures.output + rules.claims.output


def all_targets():
    return unlearn_targets() + attack_targets() + analysis_targets() + report_targets()
