# Target lists and input functions (functions only: `snakemake --lint` wants them apart from rules).


def analysis_benchmarks():
    return [b for b in BENCHMARKS if style(b) == "mcqa"] if ANALYSIS["enabled"] else []


def state_inputs(wildcards):
    """A model state: `base`, `<method>-seed<s>` (unlearned) or `<method>-seed<s>-attacked`."""
    b, m, state = wildcards.benchmark, wildcards.model, wildcards.state
    inputs = {"split": P("split", benchmark=b, model=m)}
    if state == "base":
        inputs["model"] = start_model(wildcards)
        return inputs
    method, seed = state.removesuffix("-attacked").rsplit("-seed", 1)
    inputs["model"] = P("checkpoint", benchmark=b, model=m, method=method, seed=seed)
    inputs["result"] = P("unlearn", benchmark=b, model=m, method=method, seed=seed)
    return inputs


def seed_states(methods, suffix=""):
    return [f"{method}-seed{seed}{suffix}" for method in methods for seed in SEEDS]


def attribution_files(wildcards, states):
    return [P("attribution", benchmark=wildcards.benchmark, model=wildcards.model, state=s) for s in states]


def lens_states(wildcards):
    states = {"base": start_model(wildcards)}
    for state in seed_states(ANALYSIS["logit_lens_methods"]):
        method, seed = state.rsplit("-seed", 1)
        states[state] = P(
            "checkpoint", benchmark=wildcards.benchmark, model=wildcards.model, method=method, seed=seed
        )
    return states


def calibration_targets():
    """The attack calibration sweep (Fig. 7b, c): every draw of its methods, on the MCQA-style benchmarks."""
    out = []
    for b, m, s in ((b, m, s) for b in analysis_benchmarks() for m in MODELS for s in SEEDS):
        for x in (x for x in CALIBRATION["methods"] if x in attacked_methods(b)):
            out += [f.format(benchmark=b, model=m, method=x, seed=s) for f in CALIBRATION_DRAWS]
    return out


def analysis_targets():
    kinds = ("influence", "distributions", "logit_lens")
    return [P(kind, benchmark=b, model=m) for b in analysis_benchmarks() for m in MODELS for kind in kinds]


def unlearned_methods(benchmark):
    """Every unlearn.json of a benchmark: the methods, the λ variants (MCQA) and the reference."""
    methods = METHODS + (lambda_variants() if style(benchmark) == "mcqa" else [])
    return methods + ([REFERENCES[style(benchmark)]] if style(benchmark) in REFERENCES else [])


def unlearn_targets():
    out = []
    for b in BENCHMARKS:
        for m in MODELS:
            out.append(P("base", benchmark=b, model=m))
            if style(b) == "rouge":
                out.append(P("pretrain", benchmark=b, model=m))
            out += [
                P("unlearn", benchmark=b, model=m, method=x, seed=s)
                for x in unlearned_methods(b)
                for s in SEEDS
            ]
    return out


def attack_targets():
    out = []
    for b, m, s in ((b, m, s) for b in BENCHMARKS for m in MODELS for s in SEEDS):
        attacked = attacked_methods(b)
        for x in attacked + (lambda_variants() if style(b) == "mcqa" else []):
            draws = HARMFUL_DRAWS + (BENIGN_DRAWS if x in attacked else [])
            out += [f.format(benchmark=b, model=m, method=x, seed=s) for f in draws]
    return out


def table_names():
    names = []
    for number, kind in ((1, "mcqa"), (2, "rouge")):
        if any(style(b) == kind for b in BENCHMARKS):
            names += [f"table{number}{suffix}" for suffix in ("", "_vs_paper", "_recovery", "_ssiuu_vs")]
    return names + (["attack_calibration"] if calibration_targets() else [])


def split_targets():
    return [P("split", benchmark=b, model=m) for b in BENCHMARKS for m in MODELS]


def report_inputs(analysis=False):
    """The result files the report rules read, and nothing else: they receive them as their input."""
    files = split_targets() + unlearn_targets() + attack_targets() + calibration_targets()
    return files + (analysis_targets() if analysis else [])


def report_targets():
    return rules.tables.output + rules.figures.output + rules.claims.output


def all_targets():
    return (
        unlearn_targets() + attack_targets() + calibration_targets() + analysis_targets() + report_targets()
    )
