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

import torch

from ssiuu.config import load_config
from ssiuu.data.records import BenchmarkSplit
from ssiuu.models import load_for
from ssiuu.unlearning import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--benchmark", default="worldfacts")
    ap.add_argument("--model", default="smollm2", help="model key of the config")
    ap.add_argument("--model-dir", required=True, help="prepared model directory (rule prepare_model)")
    ap.add_argument("--split", required=True, help="split.json of the benchmark")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    config = load_config(args.config)
    configs = {}
    for name, kinds in (("all kinds", None), ("base only", ["base"])):
        configs[name] = copy.deepcopy(config)
        configs[name]["benchmarks"][args.benchmark]["forget_question_kinds"] = kinds
    split = BenchmarkSplit.load(args.split)
    model, tok = load_for(config, args.model, args.model_dir)
    names = list(configs)
    times: dict[str, list[float]] = {n: [] for n in names}
    results: dict[str, dict] = {}
    for rep in range(args.repeats):
        for name in names[rep % 2 :] + names[: rep % 2]:
            t0 = time.perf_counter()
            with torch.no_grad():
                results[name] = evaluate(configs[name], args.benchmark, model, tok, split)
            times[name].append(time.perf_counter() - t0)
            print(f"repeat {rep + 1} {name}: {times[name][-1]:.1f}s", flush=True)

    full, base = results["all kinds"], results["base only"]
    base_ids = {item["id"] for item in base["per_item"]["forget"]}
    same = (
        all(full[k] == base[k] for k in ("forget_score", "retain_score", "test_score", "US"))
        and [i for i in full["per_item"]["forget"] if i["id"] in base_ids] == base["per_item"]["forget"]
        and full["per_item"]["retain"] == base["per_item"]["retain"]
        and full["per_item"]["test"] == base["per_item"]["test"]
    )
    seconds = {n: statistics.median(t) for n, t in times.items()}
    print(
        f"forget questions scored: {len(full['per_item']['forget'])} (all kinds) vs {len(base_ids)} (base only)"
    )
    for name in names:
        print(f"{name}: {seconds[name]:.1f}s")
    print(f"all kinds / base only: {seconds['all kinds'] / seconds['base only']:.2f}x")
    print(f"FS, RS, test, US and every base, retain and test item identical: {same}")


if __name__ == "__main__":
    main()
