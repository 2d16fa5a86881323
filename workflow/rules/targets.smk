# Target lists and input functions (functions only: `snakemake --lint` wants them apart from rules).
import re
import sys
import time

from snakemake.exceptions import WorkflowError

from ssiuu.card import card_test_names
from ssiuu.card.checkpoints import start_control
from ssiuu.report.registry import input_groups, written


def analysis_benchmarks():
    return [b for b in BENCHMARKS if style(b) == "mcqa"] if ANALYSIS["enabled"] else []


def state_inputs(wildcards):
    """A model state: `base`, `<method>-seed<s>` (unlearned) or `<method>-seed<s>-attacked`."""
    b, m, state = wildcards.benchmark, wildcards.model, wildcards.state
    inputs = {"split": P("split", benchmark=b, model=m)}
    if state == "base":
        inputs["model"] = start_model(wildcards)
        return inputs
    method, seed, _ = layout.parse_state(state)
    inputs["model"] = P("checkpoint", benchmark=b, model=m, method=method, seed=seed)
    inputs["result"] = P("unlearn", benchmark=b, model=m, method=method, seed=seed)
    return inputs


def seed_states(methods, attacked=False, run=0):
    """The analysed states of ``methods``: their checkpoints at the first seed (FIRST_SEED), unlearned or
    after draw ``run`` of the harmful attack (``layout.state_name``)."""
    return [
        layout.state_name(method, seed, attacked=attacked, run=run)
        for method in methods
        for seed in FIRST_SEED
    ]


def distribution_states():
    """{unlearned state: its attacked states, one per draw (runs 0 .. distribution_attack.runs − 1)} of the
    distributions rule (Fig. 6 reads draw 0; claim 3 resamples the examples and the draws)."""
    runs = range(int(ANALYSIS["distribution_attack"]["runs"]))
    methods = ANALYSIS["distribution_methods"]
    attacked = [seed_states(methods, attacked=True, run=r) for r in runs]
    return {state: [draws[i] for draws in attacked] for i, state in enumerate(seed_states(methods))}


def attribution_files(wildcards, states):
    return [P("attribution", benchmark=wildcards.benchmark, model=wildcards.model, state=s) for s in states]


def lens_states(wildcards):
    states = {"base": start_model(wildcards)}
    for state in seed_states(ANALYSIS["logit_lens_methods"]):
        method, seed, _ = layout.parse_state(state)
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


def card_controls(benchmark, method):
    """(model, seed) of the controls the card of ``method`` shows: the benchmark's controls at their seed, a brought
    checkpoint's own starting model in Start's place where it names one (ssiuu.card.checkpoints.start_control).
    """
    return [
        (start_control(BROUGHT, method) if c == START else c, seeds_of(c)[0]) for c in controls(benchmark)
    ]


def card_test_files(benchmark, model, shown):
    """The card test files of every (model, seed) in ``shown``."""
    return [
        P("card_test", benchmark=benchmark, model=model, method=x, seed=s, test=test)
        for x, s in shown
        for test in card_test_names(config)
    ]


def card_page_inputs(wildcards):
    """Rule card_page's inputs: the card test files of the model and of the controls its card shows."""
    shown = [(wildcards.method, wildcards.seed)] + card_controls(wildcards.benchmark, wildcards.method)
    return card_test_files(wildcards.benchmark, wildcards.model, shown)


def card_overview_inputs(wildcards):
    """Rule card_overview's inputs: the card test files of every model with a card on one benchmark and model
    (CARD_SUBJECTS, workflow/rules/card.smk) and of the controls each of their cards shows."""
    b, m = wildcards.benchmark, wildcards.model
    subjects = [(s["method"], s["seed"]) for s in CARD_SUBJECTS if (s["benchmark"], s["model"]) == (b, m)]
    shown = dict.fromkeys(c for x, _ in subjects for c in card_controls(b, x))
    return card_test_files(b, m, list(shown) + subjects)


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
    """The tables this run writes: those of TABLES whose benchmark style runs, and the calibration table where
    the calibration's draws are on disk (ssiuu.report.registry.written)."""
    return written(TABLES, {style(b) for b in BENCHMARKS}, calibration=bool(present_calibration()))


def claims_caption():
    """The claims' one caption (every entry of CLAIMS writes into claims.md)."""
    (caption,) = {entry.caption for entry in CLAIMS.values()}
    return caption


def split_targets():
    return [P("split", benchmark=b, model=m) for b in BENCHMARKS for m in MODELS]


def report_inputs(registry):
    """The result files a report rule reads for the entries of ``registry`` (their input groups,
    ssiuu.report.registry.INPUT_GROUPS), but the calibration's (report_calibration, a param)."""
    groups = input_groups(registry)
    files = split_targets() + unlearn_targets() + attack_targets() if "results" in groups else []
    return files + (analysis_targets() if "analysis" in groups else [])


def report_calibration(registry):
    """The calibration draws on disk, where an entry of ``registry`` reads them (never a dependency)."""
    return present_calibration() if "calibration" in input_groups(registry) else []


def report_targets():
    return rules.tables.output + rules.figures.output + rules.claims.output


def aside(rule):
    """The folder where the report's ``rule`` builds its outputs before they replace the published ones
    (ssiuu/aside.py), under the results root, so that each replacement is one rename."""
    return f"{R}/.aside/{rule}"


def building_report():
    """Whether this Snakemake process builds the HTML report from the results already there (`--report FILE`
    without `--report-after-run`, which runs the jobs first)."""
    asked = any(a == "--report" or a.startswith("--report=") for a in sys.argv)
    return workflow.is_main_process and asked and "--report-after-run" not in sys.argv


def report_requirements():
    """``(what, files)``: the files `--report` shows: the cards' alone where the command names the `card` target
    without `all` (`snakemake card --report FILE`), else the tables', figures' and claims' and every card of the
    run (card.methods and the brought checkpoints; rule `card`)."""
    words, cards = set(sys.argv[1:]), list(rules.card.input)
    if "card" in words and "all" not in words:
        return "card", cards
    if cards:
        return "table, figure, claims and card", report_targets() + cards
    return "table, figure and claims", report_targets()


def require_report_results():
    """A report shows this configuration's own results: with `--report`, every file it shows (report_requirements)
    under its results_dir must be there."""
    if not building_report():
        return
    what, expected = report_requirements()
    missing = [f for f in expected if not Path(f).exists()]
    if missing:
        found = len(expected) - len(missing)
        how_many = "none" if not found else f"only {found} of the {len(expected)}"
        raise WorkflowError(
            f"no report: {how_many} of the {what} files of this configuration are in {R}/ (its "
            f"results_dir; {missing[0]} is missing): run its pipeline first, or name the configuration that made "
            "them with --configfile"
        )


def built_aside(build, then=""):
    """The shell command of each of the report's rules. ``build`` writes every output into the aside folder
    ({params.aside}), and they replace the published ones only when all were built (python -m ssiuu.aside);
    ``then`` runs after. A failure removes the folder, leaves the published files as they were and shows the
    log's last line (the one-line reason) on the console."""
    publish = "python -m ssiuu.aside {params.aside} {output} >> {log} 2>&1"
    return (
        f"rm -rf {{params.aside}} && mkdir -p {{params.aside}} && {{{{ {build} ; }}}} > {{log}} 2>&1 && {publish}"
        + (f" && {{{{ {then} ; }}}} >> {{log}} 2>&1" if then else "")
        + " || {{ status=$?; rm -rf {params.aside}; tail -n 1 {log} >&2; exit $status; }}"
    )


#: when this Snakemake process read the workflow: a log written since is one of this run's jobs
RUN_STARTED = time.time()


def report_failures():
    """The one-line reason of each of the report's jobs that failed in this run: the last line of its log (written
    since the run started, so no earlier run's), where it reads `ssiuu <command>: error: ...`."""
    reasons = []
    for log in sorted(Path(W, "logs", "report").glob("*.log")):
        if log.stat().st_mtime >= RUN_STARTED:
            lines = log.read_text(errors="replace").splitlines()
            if lines and re.match(r"ssiuu [\w-]+: error: ", lines[-1]):
                reasons.append(f"{log.stem} failed ({log}): {lines[-1]}")
    return reasons


def all_targets():
    """The default run: every unlearning, attack and analysis, the report, and the cards (rule `card`)."""
    return (
        unlearn_targets() + attack_targets() + analysis_targets() + report_targets() + list(rules.card.input)
    )
