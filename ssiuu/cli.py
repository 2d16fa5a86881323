"""Command line: one sub-command per Snakemake rule, each a thin call into one package function.

    python -m ssiuu --config config.yaml <command> [options]

``--config`` may be given several times (later files win); the result is validated against the schema.
Without ``--config`` the file named by the environment variable ``SSIUU_CONFIG`` is read: the Snakefile
sets it to the resolved config of the run (``work/configs/config-<hash>.yaml``), so a rule's command line
stays the same when the config changes and only the rules whose config sections changed rerun.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("ssiuu")


@dataclass(frozen=True)
class Arg:
    """One command-line parameter: ``--name`` on the command line, keyword ``name`` of the function."""

    name: str
    type: Callable[[str], Any] = str
    help: str = ""
    required: bool = True
    nargs: str | None = None
    choices: tuple[str, ...] | None = None
    flag: bool = False  # a store-true switch

    def value(self, namespace: argparse.Namespace) -> Any:
        return getattr(namespace, self.name)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        option = f"--{self.name.replace('_', '-')}"
        if self.flag:
            parser.add_argument(option, action="store_true", help=self.help)
            return
        parser.add_argument(
            option,
            type=self.type,
            required=self.required,
            nargs=self.nargs,
            choices=self.choices,
            default=None,
            help=self.help,
        )


@dataclass(frozen=True)
class ArgGroup:
    """Parameters that reach the function as one object: ``--benchmark … --split …`` become keyword ``name``,
    an instance of ``cls`` (:mod:`ssiuu.jobs`) built from them."""

    name: str
    cls: str
    args: tuple[Arg, ...]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        for arg in self.args:
            arg.add_to(parser)

    def value(self, namespace: argparse.Namespace) -> Any:
        return _resolve(self.cls)(**{arg.name: getattr(namespace, arg.name) for arg in self.args})


def _resolve(target: str) -> Any:
    """``module:name`` → the object."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Command:
    """A sub-command: the package function it calls (``module:function``, called as ``function(config, **args)``)
    and its parameters."""

    function: str
    help: str
    args: tuple[Arg | ArgGroup, ...] = ()

    def resolve(self) -> Callable[..., Any]:
        return _resolve(self.function)


BENCHMARK, MODEL, METHOD = (
    Arg("benchmark", help="benchmark key of the config"),
    Arg("model", help="model key"),
    Arg("method", help="method name (a variant: SSIUU-lambda0.0001)"),
)
SEED, OUT, SPLIT = (
    Arg("seed", int, "unlearning seed"),
    Arg("out", help="file to write"),
    Arg("split", help="split.json"),
)
MODEL_DIR = Arg("model_dir", help="model directory to start from")
RESULTS = Arg("results", nargs="+", help="the result files to read (the rule's inputs)")
#: one model on one benchmark split (base-eval, pretrain, attribution): keyword ``target``
TARGET = ArgGroup("target", "ssiuu.jobs:ModelOnSplit", (BENCHMARK, MODEL, MODEL_DIR, SPLIT))
#: one method and seed on one benchmark split (unlearn, reference-eval): keyword ``run``
RUN = ArgGroup("run", "ssiuu.jobs:MethodRun", (BENCHMARK, MODEL, MODEL_DIR, SPLIT, METHOD, SEED))

COMMANDS: dict[str, Command] = {
    "prepare-model": Command(
        "ssiuu.models:prepare_configured_model",
        "Convert a model spec (GGUF, dir, hub id, tiny) to a safetensors directory.",
        (MODEL, OUT),
    ),
    "build-benchmark": Command(
        "ssiuu.data.build:build_benchmark", "Load or generate a benchmark's records.", (BENCHMARK, OUT)
    ),
    "split": Command(
        "ssiuu.data.build:make_split",
        "Probe the base model and split the benchmark into forget/retain/test.",
        (BENCHMARK, MODEL, Arg("records", help="records.json"), MODEL_DIR, OUT),
    ),
    "pretrain": Command(
        "ssiuu.pretrain:pretrain",
        "TOFU-style pre-finetuning of the base model on a ROUGE benchmark.",
        (
            TARGET,
            OUT,
            Arg("metrics", help="pretrain.json to write"),
            Arg("retain_only", flag=True, help="train on the retain set only (the never-learned control)"),
        ),
    ),
    "reference-eval": Command(
        "ssiuu.references:reference_eval",
        "Evaluate an attack reference model (Start / NeverLearned) like an unlearned one.",
        (
            RUN,
            OUT,
            Arg("base", help="base.json of the starting model (Start reuses its scores)", required=False),
        ),
    ),
    "base-eval": Command(
        "ssiuu.unlearning:base_eval",
        "FS/RS/US of the model unlearning starts from.",
        (TARGET, OUT),
    ),
    "unlearn": Command(
        "ssiuu.unlearning:run_unlearning",
        "Unlearn with one method and seed (learning-rate search, early stopping).",
        (
            RUN,
            Arg("base", help="base.json"),
            OUT,
            Arg("checkpoint", help="checkpoint directory to write"),
        ),
    ),
    "attack": Command(
        "ssiuu.attacks:run_attacks",
        "Harmful and benign retraining attacks on an unlearned checkpoint, one result file per draw.",
        (
            BENCHMARK,
            MODEL,
            METHOD,
            SEED,
            Arg("checkpoint", help="weights to attack"),
            SPLIT,
            Arg("unlearn_result", help="unlearn.json of those weights"),
            Arg("base_result", help="base.json of the starting model"),
            Arg(
                "out",
                nargs="+",
                help="result files to write; each names its draw: harmful or benign, attack or calibration "
                "sweep (Fig. 7b, c), p, lr and run (ssiuu/layout.py)",
            ),
        ),
    ),
    "attribution": Command(
        "ssiuu.analysis.pipeline:attribution",
        "Neuron attribution (Eq. 1) of one model state.",
        (
            TARGET,
            OUT,
            Arg("attack_p", float, "attack the state first: fraction", required=False),
            Arg("attack_lr", float, "attack the state first: learning rate", required=False),
            Arg("unlearn_result", help="unlearn.json of the state", required=False),
        ),
    ),
    "influence": Command(
        "ssiuu.analysis.pipeline:influence",
        "Influence variation D+/D- against the base model.",
        (
            Arg("base", help="base attribution (.pt)"),
            Arg("out_dir", help="directory to write"),
            Arg("unlearned", nargs="+", help="STATE=attribution.pt pairs"),
        ),
    ),
    "distributions": Command(
        "ssiuu.analysis.pipeline:distributions",
        "Attribution distributions and Pearson rho before/after the harmful attack; per-example rho per draw.",
        (
            Arg("base", help="base attribution (.pt)"),
            OUT,
            Arg("pairs", nargs="+", help="STATE=unlearned.pt,attacked_run0.pt[,attacked_run1.pt ...]"),
        ),
    ),
    "logit-lens": Command(
        "ssiuu.analysis.pipeline:logit_lens",
        "Logit-lens accuracy by layer (Fig. 4).",
        (BENCHMARK, MODEL, SPLIT, OUT, Arg("states", nargs="+", help="NAME=model_dir pairs")),
    ),
    "tables": Command(
        "ssiuu.report.tables.build:make_tables",
        "Tables 1-2 (CSV, Markdown, LaTeX) from result files.",
        (RESULTS, Arg("out_dir", help="directory to write")),
    ),
    "figures": Command(
        "ssiuu.report.figures.build:make_figures",
        "Figures 2-7 (PNG, PDF) from result files.",
        (RESULTS, Arg("out_dir", help="directory to write")),
    ),
    "claims": Command(
        "ssiuu.report.claims.build:make_claims",
        "The paper's three claims stated from result files (Markdown + JSON).",
        (RESULTS, Arg("out", help="claims.md to write (claims.json beside it)")),
    ),
    "readme": Command(
        "ssiuu.report.claims.readme:update_readme",
        "README.md's results block from result files and the run's claims.md (no README: nothing to do).",
        (RESULTS, Arg("claims_md", help="the run's claims.md"), Arg("readme", help="the README to refresh")),
    ),
    "card-tests": Command(
        "ssiuu.card.run:card_tests",
        "The erase-or-hide card's tests on one model, one per-item result file per test (docs/card.md).",
        (
            RUN,
            Arg("start_dir", help="the starting model (a brought checkpoint's tokenizer must be its)"),
            Arg("out", nargs="+", help="the result files to write; each names its test (ssiuu/layout.py)"),
        ),
    ),
    "card": Command(
        "ssiuu.card.render:make_card",
        "The erase-or-hide card of one model (Markdown and a figure) from its and the controls' card test results.",
        (
            BENCHMARK,
            MODEL,
            METHOD,
            SEED,
            RESULTS,
            OUT,
            Arg("figure", required=False, help="the card's figure (PNG) to write beside it"),
        ),
    ),
    "card-overview": Command(
        "ssiuu.card.overview:make_card_overview",
        "Every erase-or-hide card of one benchmark and model at a glance (a Markdown table and a figure) from the "
        "card test results of the controls and of every model with a card.",
        (
            BENCHMARK,
            MODEL,
            RESULTS,
            OUT,
            Arg("figure", required=False, help="the overview's figure (PNG) to write beside it"),
        ),
    ),
    "check-config": Command(
        "ssiuu.config:check_config",
        "Validate the config (YAML syntax, schema, method names and parameters) and exit.",
    ),
}


#: Environment variable naming the config file when ``--config`` is not given (set by the Snakefile).
CONFIG_ENV = "SSIUU_CONFIG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssiuu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", action="append", default=[], help="config YAML (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=command.help, description=command.help)
        for arg in command.args:
            arg.add_to(sub_parser)
    return parser


def dispatch(config: dict[str, Any], args: argparse.Namespace) -> None:
    """Call the package function behind ``args.command`` with the command's parameters as keywords."""
    command = COMMANDS[args.command]
    command.resolve()(config, **{param.name: param.value(args) for param in command.args})


def meant_for_user(err: BaseException) -> bool:
    """Whether an error's message names the problem for the user: the package's own errors (bad config,
    records, results, a non-finite loss), bad values and files (ValueError, OSError)."""
    return isinstance(err, (ValueError, OSError)) or type(err).__module__.split(".")[0] == "ssiuu"


#: Commands a person runs rather than a rule: their stderr is no job log, so an error meant for the user is its
#: message alone there whatever stderr is (``-v`` adds the traceback), and the log shows warnings only.
USER_COMMANDS = frozenset({"check-config"})


def report_error(command: str, err: Exception, verbose: bool = False) -> int:
    """Print the traceback, then one summary line last, on stderr (a rule's log); return the exit status.

    An error meant for the user shows the summary alone on an interactive terminal and from a
    :data:`USER_COMMANDS` command whatever its stderr is (``-v`` adds the traceback); in a job's log, where the
    rules send stderr, the traceback is always there. An unexpected error (a bug) always shows it.
    """
    expected = meant_for_user(err)
    sys.stdout.flush()
    job_log = command not in USER_COMMANDS and not sys.stderr.isatty()
    if verbose or not expected or job_log:
        traceback.print_exception(err, file=sys.stderr)
    summary = (str(err) or type(err).__name__) if expected else f"{type(err).__name__}: {err}"
    print(f"ssiuu {command}: error: {summary}", file=sys.stderr, flush=True)
    return 2 if expected else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = args.command in USER_COMMANDS
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from ssiuu.config import ConfigError, load_config

    try:
        paths = args.config or [p for p in [os.environ.get(CONFIG_ENV)] if p]
        if not paths:
            raise ConfigError(
                f"no config: pass --config FILE (e.g. --config config.yaml) or set {CONFIG_ENV}"
            )
        logging.getLogger(__name__).info("config: %s", ", ".join(map(str, paths)))
        config = load_config(*paths)
        if args.command == "check-config":
            dispatch(config, args)
            print(f"{', '.join(map(str, paths))}: valid")
            return 0
        logging.getLogger(__name__).info("ssiuu package: %s", Path(__file__).parent)
        if config["keep_freed_memory"]:
            from ssiuu.allocator import keep_freed_memory

            keep_freed_memory()
        import torch

        torch.set_num_threads(int(config["threads"]))
        dispatch(config, args)
    except Exception as err:  # noqa: BLE001 - every failure gets its traceback and one summary line
        return report_error(args.command, err, verbose=args.verbose)
    return 0
