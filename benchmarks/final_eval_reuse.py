"""Cost of an unlearning job's final evaluation with and without the last FS check's answers.

    .venv/bin/python benchmarks/final_eval_reuse.py --split results/worldfacts/smollm2/split.json \
        --model-dir work/checkpoints/worldfacts/smollm2/GD/seed0    # after `make run`

The unlearning job checks FS every few steps and always at its final weights; the final evaluation then
scores the forget records again. This loads one model (an unlearned checkpoint, or the prepared base model),
answers the FS records as the job's last check does (not timed: the job does it in either case), then runs
``ssiuu.unlearning.evaluate`` (forget, retain and test generations, lm-eval utility, the forget answers'
log-probabilities) once generating the forget answers again and once reusing them, interleaved within every
repeat in rotating order. Printed: seconds per variant (median over repeats), their ratio, and whether the two
results are identical.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ssiuu.config import benchmark_config, load_config
from ssiuu.data.records import BenchmarkSplit
from ssiuu.evaluation import answer_items
from ssiuu.models import load_for
from ssiuu.unlearning import evaluate, forget_eval_records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--benchmark", default="worldfacts")
    ap.add_argument("--model", default="smollm2", help="model key of the config")
    ap.add_argument("--model-dir", required=True, help="unlearned checkpoint or prepared model directory")
    ap.add_argument("--split", required=True, help="split.json of the benchmark")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    config = load_config(args.config)
    split = BenchmarkSplit.load(args.split)
    model, tok = load_for(config, args.model, args.model_dir)
    with torch.no_grad():
        checked = answer_items(
            model,
            tok,
            forget_eval_records(split),
            split.style,
            max_new_tokens=benchmark_config(config, args.benchmark)["max_new_tokens"],
            batch_size=config["eval_batch_size"],
        )
    variants = {"generate again": None, "reuse": {it["id"]: it["generation"] for it in checked}}
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    results: dict[str, dict] = {}
    for rep in range(args.repeats):
        for name in names[rep % 2 :] + names[: rep % 2]:
            t0 = time.perf_counter()
            with torch.no_grad():
                results[name] = evaluate(config, args.benchmark, model, tok, split, variants[name])
            times[name].append(time.perf_counter() - t0)
            print(f"repeat {rep + 1} {name}: {times[name][-1]:.1f}s", flush=True)

    seconds = {n: statistics.median(t) for n, t in times.items()}
    print(f"forget records answered by the check: {len(checked)}")
    for name in names:
        print(f"{name}: {seconds[name]:.1f}s")
    print(f"generate again / reuse: {seconds['generate again'] / seconds['reuse']:.2f}x")
    print(f"results identical: {results['generate again'] == results['reuse']}")


if __name__ == "__main__":
    main()
