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

import torch
from final_eval_kinds import eval_parser, interleaved, print_timings

from ssiuu.config import benchmark_config, load_config
from ssiuu.data.records import BenchmarkSplit
from ssiuu.evaluation import answer_items
from ssiuu.models import load_for
from ssiuu.unlearning import evaluate, forget_eval_records


def main() -> None:
    args = eval_parser(__doc__).parse_args()
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
    answers = {it["id"]: it["generation"] for it in checked}
    seconds, results = interleaved(
        {
            "generate again": lambda: evaluate(config, args.benchmark, model, tok, split),
            "reuse": lambda: evaluate(config, args.benchmark, model, tok, split, answers),
        },
        args.repeats,
    )
    print(f"forget records answered by the check: {len(checked)}")
    print_timings(seconds, "generate again", "reuse")
    print(f"results identical: {results['generate again'] == results['reuse']}")


if __name__ == "__main__":
    main()
