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
    """The analysed states of ``methods``: their checkpoints at the first seed (FIRST_SEED)."""
    return [f"{method}-seed{seed}{suffix}" for method in methods for seed in FIRST_SEED]


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
    """The attack calibration sweep (Fig. 7b, c; target `calibration`, not in the default run): every draw of its
    methods (the controls) on every benchmark where they are attacked, at their first seed."""
    out = []
    for b, m in ((b, m) for b in BENCHMARKS for m in MODELS):
        for x in (x for x in CALIBRATION["methods"] if x in attacked_methods(b)):
            s = seeds_of(x)[0]
            out += [f.format(benchmark=b, model=m, method=x, seed=s) for f in CALIBRATION_DRAWS]
    return out


def present_calibration():
    """The calibration draws already on disk: the report reads them where present, without making them a
    dependency (a calibration draw outdated by a newer checkpoint is not rerun by the default target)."""
    return [f for f in calibration_targets() if Path(f).exists()]


def analysis_targets():
    kinds = ("influence", "distributions", "logit_lens")
    return [P(kind, benchmark=b, model=m) for b in analysis_benchmarks() for m in MODELS for kind in kinds]


def unlearned_methods(benchmark):
    """Every row of a benchmark with an unlearn.json: the methods, the λ variants (MCQA) and the controls."""
    methods = METHODS + (lambda_variants() if style(benchmark) == "mcqa" else [])
    return list(dict.fromkeys(methods + controls(benchmark)))


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
                for s in seeds_of(x)
            ]
    return out


def attack_targets():
    out = []
    for b, m in ((b, m) for b in BENCHMARKS for m in MODELS):
        attacked = attacked_methods(b)
        for x in attacked + (lambda_variants() if style(b) == "mcqa" else []):
            draws = HARMFUL_DRAWS + (BENIGN_DRAWS if x in attacked else [])
            out += [f.format(benchmark=b, model=m, method=x, seed=s) for s in seeds_of(x) for f in draws]
    return out


def table_names():
    names = []
    for number, kind in ((1, "mcqa"), (2, "rouge")):
        if any(style(b) == kind for b in BENCHMARKS):
            names += [f"table{number}{suffix}" for suffix in ("", "_vs_paper", "_recovery", "_ssiuu_vs")]
    return names + (["attack_calibration"] if present_calibration() else [])


def split_targets():
    return [P("split", benchmark=b, model=m) for b in BENCHMARKS for m in MODELS]


def report_inputs(analysis=False):
    """The result files the report rules read, but the calibration's (present_calibration, passed as a param):
    they receive them as their input."""
    files = split_targets() + unlearn_targets() + attack_targets()
    return files + (analysis_targets() if analysis else [])


def report_targets():
    return rules.tables.output + rules.figures.output + rules.claims.output


def all_targets():
    return unlearn_targets() + attack_targets() + analysis_targets() + report_targets()
