"""Cost of a worldfacts final evaluation with every forget question kind against the base questions only.

    .venv/bin/python benchmarks/final_eval_kinds.py --split results/worldfacts/smollm2/split.json \
        --model-dir work/models/smollm2/base          # after `make run` (or its split and prepare_model jobs)

Runs ``ssiuu.unlearning.evaluate`` (the final evaluation of every unlearning job and of ``base_eval``: the
forget, retain and test generations, lm-eval utility, the forget answers' log-probabilities) on the same model
and split, once with ``benchmarks.<b>.forget_question_kinds: null`` (base, paraphrase, multi-hop and
same-answer questions) and once with ``[base]``, interleaved within every repeat in rotating order. Printed:
seconds per variant (median over repeats), their ratio, and whether everything that the base-only variant
reports (FS, RS, test score, US, the base questions' answers and log-probabilities) is identical.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch

from ssiuu.config import load_config
from ssiuu.data.records import BenchmarkSplit
from ssiuu.models import load_for
from ssiuu.unlearning import evaluate


def eval_parser(description: str | None, *, split: bool = True) -> argparse.ArgumentParser:
    """The options of a benchmark that times final evaluations of one model (on one split with ``split``)."""
    ap = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--benchmark", default="worldfacts")
    ap.add_argument("--model", default="smollm2", help="model key of the config")
    ap.add_argument("--model-dir", required=True, help="prepared model or unlearned checkpoint directory")
    if split:
        ap.add_argument("--split", required=True, help="split.json of the benchmark")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    return ap


def interleaved(
    variants: dict[str, Callable[[], dict]], repeats: int
) -> tuple[dict[str, float], dict[str, dict]]:
    """Run every variant once per repeat, in rotating order: median seconds and last result of each."""
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    results: dict[str, dict] = {}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            with torch.no_grad():
                results[name] = variants[name]()
            times[name].append(time.perf_counter() - t0)
            print(f"repeat {rep + 1} {name}: {times[name][-1]:.1f}s", flush=True)
    return {n: statistics.median(t) for n, t in times.items()}, results


def print_timings(seconds: dict[str, float], slower: str, faster: str) -> None:
    """Each variant's median seconds (from :func:`interleaved`), then the ratio ``slower / faster``."""
    for name, value in seconds.items():
        print(f"{name}: {value:.2f}s")
    print(f"{slower} / {faster}: {seconds[slower] / seconds[faster]:.2f}x")


def main() -> None:
    args = eval_parser(__doc__).parse_args()
    torch.set_num_threads(args.threads)

    config = load_config(args.config)
    configs = {}
    for name, kinds in (("all kinds", None), ("base only", ["base"])):
        configs[name] = copy.deepcopy(config)
        configs[name]["benchmarks"][args.benchmark]["forget_question_kinds"] = kinds
    split = BenchmarkSplit.load(args.split)
    model, tok = load_for(config, args.model, args.model_dir)
    seconds, results = interleaved(
        {name: lambda c=c: evaluate(c, args.benchmark, model, tok, split) for name, c in configs.items()},
        args.repeats,
    )

    full, base = results["all kinds"], results["base only"]
    base_ids = {item["id"] for item in base["per_item"]["forget"]}
    same = (
        all(full[k] == base[k] for k in ("forget_score", "retain_score", "test_score", "US"))
        and [i for i in full["per_item"]["forget"] if i["id"] in base_ids] == base["per_item"]["forget"]
        and full["per_item"]["retain"] == base["per_item"]["retain"]
        and full["per_item"]["test"] == base["per_item"]["test"]
    )
    print(
        f"forget questions scored: {len(full['per_item']['forget'])} (all kinds) vs {len(base_ids)} (base only)"
    )
    print_timings(seconds, "all kinds", "base only")
    print(f"FS, RS, test, US and every base, retain and test item identical: {same}")


if __name__ == "__main__":
    main()
