"""Matrix-product throughput of float32 against bfloat16 on this CPU, for the default model's shapes.

    .venv/bin/python benchmarks/matmul_dtypes.py --threads 1

Whether bfloat16 can speed a CPU job up depends on the instructions the CPU exposes (AVX512-BF16 or AMX) and on
torch using them. Printed: the CPU's vector flags, torch's CPU capability, and GFLOP/s of each product of a
SmolLM2-135M training step (a batch of 512 tokens: the 576→1536 MLP projection forward, its weight gradient,
the 576→49152 LM head), in float32 and in bfloat16, measured side by side, with their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

SHAPES = {  # name: (rows of a, inner dimension, columns of b, b transposed as F.linear passes it)
    "MLP projection x @ W.T": (512, 576, 1536, True),
    "weight gradient g.T @ x": (1536, 512, 576, False),
    "LM head x @ E.T": (512, 576, 49152, True),
}


def cpu_flags() -> str:
    """The vector-extension flags of the first CPU in /proc/cpuinfo (Linux), or a note that there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return "(no /proc/cpuinfo)"
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            wanted = ("avx", "fma", "amx")
            return " ".join(f for f in line.split(":", 1)[1].split() if f.startswith(wanted))
    return "(no flags line)"


def gflops(rows: int, inner: int, cols: int, transposed: bool, dtype: torch.dtype, repeats: int) -> float:
    a = torch.randn(rows, inner, dtype=dtype)
    b = torch.randn(cols, inner, dtype=dtype).T if transposed else torch.randn(inner, cols, dtype=dtype)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * rows * inner * cols / statistics.median(times) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU vector flags: {cpu_flags()}")
    print(f"torch {torch.__version__}, CPU capability: {torch.backends.cpu.get_cpu_capability()}")
    for name, shape in SHAPES.items():
        fp32 = gflops(*shape, torch.float32, args.repeats)
        bf16 = gflops(*shape, torch.bfloat16, args.repeats)
        print(
            f"{name}: float32 {fp32:.1f} GFLOP/s, bfloat16 {bf16:.1f} GFLOP/s, bf16 / fp32 {bf16 / fp32:.2f}x"
        )


if __name__ == "__main__":
    main()
