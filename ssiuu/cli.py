"""Command line: one sub-command per Snakemake rule, each a thin call into one package function.

    python -m ssiuu --config config.yaml <command> [options]

``--config`` may be given several times (later files win); the result is validated against the schema.
Without ``--config`` the file named by the environment variable ``SSIUU_CONFIG`` is read: the Snakefile
sets it to the resolved config of the run (``work/configs/config-<hash>.yaml``), so a rule's command line
stays the same when the config changes and only the rules whose config sections changed rerun.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ssiuu")


def _common(p: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        p.add_argument(f"--{name.replace('_', '-')}", required=True)


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "prepare-model": ("Convert a model spec (GGUF, dir, hub id, tiny) to a safetensors directory.",
                      lambda p: _common(p, "model", "out")),
    "build-benchmark": ("Load or generate a benchmark's records.", lambda p: _common(p, "benchmark", "out")),
    "split": ("Probe the base model and split the benchmark into forget/retain/test.",
              lambda p: _common(p, "benchmark", "model", "records", "model_dir", "out")),
    "pretrain": ("TOFU-style pre-finetuning of the base model on a ROUGE benchmark.", lambda p: (
        _common(p, "benchmark", "model", "model_dir", "split", "out", "metrics"),
        p.add_argument("--retain-only", action="store_true", help="train on the retain set only (the control)"))),
    "reference-eval": ("Evaluate an attack reference model (Start / NeverLearned) like an unlearned one.",
                       lambda p: _common(p, "benchmark", "model", "method", "seed", "model_dir", "split", "out")),
    "base-eval": ("FS/RS/US of the model unlearning starts from.",
                  lambda p: _common(p, "benchmark", "model", "model_dir", "split", "out")),
    "unlearn": ("Unlearn with one method and seed (learning-rate search, early stopping).",
                lambda p: _common(p, "benchmark", "model", "method", "seed", "model_dir", "split", "base", "out",
                                  "checkpoint")),
    "attack": ("Harmful or benign retraining attack on an unlearned checkpoint.", lambda p: (
        _common(p, "kind", "lr", "run", "benchmark", "model", "method", "seed", "checkpoint", "split",
                "unlearn_result", "base_result", "out"),
        p.add_argument("--p", type=float, default=None, help="harmful attack: fraction of the forget set"))),
    "attribution": ("Neuron attribution (Eq. 1) of one model state on the forget set.", lambda p: (
        _common(p, "benchmark", "model", "model_dir", "split", "out"),
        p.add_argument("--attack-p", type=float, default=None),
        p.add_argument("--attack-lr", type=float, default=None),
        p.add_argument("--unlearn-result", default=None))),
    "influence": ("Influence variation D+/D- of unlearned models against the base model.", lambda p: (
        _common(p, "base", "out_dir"), p.add_argument("--unlearned", nargs="+", required=True,
                                                       help="METHOD=path pairs"))),
    "distributions": ("Attribution distributions and Pearson rho before/after the harmful attack.", lambda p: (
        _common(p, "base", "out"), p.add_argument("--pairs", nargs="+", required=True,
                                                   help="METHOD=unlearned.pt,attacked.pt"))),
    "logit-lens": ("Logit-lens accuracy by layer (Fig. 4).", lambda p: (
        _common(p, "benchmark", "model", "split", "out"),
        p.add_argument("--states", nargs="+", required=True, help="NAME=model_dir pairs"))),
    "tables": ("Tables 1-2 (CSV, Markdown, LaTeX) from cached results.", lambda p: _common(p, "out_dir")),
    "figures": ("Figures 2-7 (PNG, PDF) from cached results.", lambda p: _common(p, "out_dir")),
    "claims": ("The paper's three claims stated from cached results (Markdown + JSON).",
               lambda p: _common(p, "out")),
    "check-config": ("Validate the config (YAML syntax, schema, method names and parameters) and exit.",
                     lambda p: None),
}


#: Environment variable naming the config file when ``--config`` is not given (set by the Snakefile).
CONFIG_ENV = "SSIUU_CONFIG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssiuu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[], help="config YAML (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add_args) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def dispatch(config: dict[str, Any], args: argparse.Namespace) -> None:
    """Call the package function behind ``args.command``; imports are lazy so --help stays fast."""
    cmd = args.command
    if cmd == "prepare-model":
        from ssiuu.config import model_config
        from ssiuu.models import prepare_model

        prepare_model(model_config(config, args.model)["source"], args.out)
    elif cmd == "build-benchmark":
        from ssiuu.data.build import build_benchmark

        build_benchmark(config, args.benchmark, args.out)
    elif cmd == "split":
        from ssiuu.data.build import make_split

        make_split(config, args.benchmark, args.model, records=args.records, model_dir=args.model_dir, out=args.out)
    elif cmd == "pretrain":
        from ssiuu.pretrain import pretrain

        pretrain(config, args.benchmark, args.model, model_dir=args.model_dir, split=args.split, out=args.out,
                 metrics=args.metrics, retain_only=args.retain_only)
    elif cmd == "reference-eval":
        from ssiuu.references import reference_eval

        reference_eval(config, args.benchmark, args.model, args.method, int(args.seed), model_dir=args.model_dir,
                       split=args.split, out=args.out)
    elif cmd == "base-eval":
        from ssiuu.unlearning import base_eval

        base_eval(config, args.benchmark, args.model, model_dir=args.model_dir, split=args.split, out=args.out)
    elif cmd == "unlearn":
        from ssiuu.unlearning import run_unlearning

        run_unlearning(config, args.benchmark, args.model, args.method, int(args.seed), model_dir=args.model_dir,
                       split=args.split, base=args.base, out=args.out, checkpoint=args.checkpoint)
    elif cmd == "attack":
        from ssiuu.attacks import run_attack

        run_attack(config, kind=args.kind, p=args.p, lr=float(args.lr), run=int(args.run), benchmark=args.benchmark,
                   model=args.model, method=args.method, seed=int(args.seed), checkpoint=args.checkpoint,
                   split=args.split, unlearn_result=args.unlearn_result, base_result=args.base_result, out=args.out)
    elif cmd == "attribution":
        from ssiuu.analysis.pipeline import attribution

        attribution(config, benchmark=args.benchmark, model=args.model, model_dir=args.model_dir, split=args.split,
                    out=args.out, unlearn_result=args.unlearn_result, attack_p=args.attack_p, attack_lr=args.attack_lr)
    elif cmd == "influence":
        from ssiuu.analysis.pipeline import influence

        influence(config, base=args.base, unlearned=args.unlearned, out_dir=args.out_dir)
    elif cmd == "distributions":
        from ssiuu.analysis.pipeline import distributions

        distributions(config, base=args.base, pairs=args.pairs, out=args.out)
    elif cmd == "logit-lens":
        from ssiuu.analysis.pipeline import logit_lens

        logit_lens(config, benchmark=args.benchmark, model=args.model, split=args.split, states=args.states,
                   out=args.out)
    elif cmd == "tables":
        from ssiuu.report import build_tables, options_from_config

        opts = options_from_config(config)
        build_tables(config["results_dir"], args.out_dir, opts["labels"], methods=opts["methods"],
                     harmful_lrs=opts["harmful_lrs"], benign_lrs=opts["benign_lrs"], harmful_ps=opts["harmful_ps"],
                     confidence=opts["confidence"], n_resamples=opts["n_resamples"],
                     min_logprob_drop=opts["min_logprob_drop"])
    elif cmd == "figures":
        from ssiuu.report import build_figures, options_from_config

        build_figures(config["results_dir"], args.out_dir, **options_from_config(config))
    elif cmd == "claims":
        from ssiuu.report.claims import claims_options, write_claims

        write_claims(config["results_dir"], args.out, **claims_options(config))
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(f"unknown command {cmd}")


def meant_for_user(err: BaseException) -> bool:
    """Whether an error's message names the problem for the user: the package's own errors (bad config,
    records, results, a non-finite loss), bad values and files (ValueError, OSError)."""
    return isinstance(err, (ValueError, OSError)) or type(err).__module__.split(".")[0] == "ssiuu"


def report_error(command: str, err: Exception, verbose: bool = False) -> int:
    """Print the traceback, then one summary line last, on stderr (a rule's log); return the exit status.

    On an interactive terminal an error meant for the user shows the summary alone (``-v`` adds the
    traceback); in a job's log, where the rules send stderr, the traceback is always there.
    """
    expected = meant_for_user(err)
    sys.stdout.flush()
    if verbose or not expected or not sys.stderr.isatty():
        traceback.print_exception(err, file=sys.stderr)
    summary = (str(err) or type(err).__name__) if expected else f"{type(err).__name__}: {err}"
    print(f"ssiuu {command}: error: {summary}", file=sys.stderr, flush=True)
    return 2 if expected else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ssiuu.config import ConfigError, load_config

    try:
        paths = args.config or [p for p in [os.environ.get(CONFIG_ENV)] if p]
        if not paths:
            raise ConfigError(f"no config: pass --config FILE (e.g. --config config.yaml) or set {CONFIG_ENV}")
        logging.getLogger(__name__).info("config: %s", ", ".join(map(str, paths)))
        config = load_config(*paths)
        if args.command == "check-config":
            print(f"{', '.join(map(str, paths))}: valid")
            return 0
        import torch

        torch.set_num_threads(int(config["threads"]))
        dispatch(config, args)
    except Exception as err:  # noqa: BLE001 - every failure gets its traceback and one summary line
        return report_error(args.command, err, verbose=args.verbose)
    return 0
