"""Peak GPU memory and step time of every unlearning method on a 3B model (Llama-3.2-3B / Qwen2.5-3B shapes).

    python benchmarks/gpu_memory.py --arch llama-3.2-3b --out gpu_memory.json
    python benchmarks/gpu_memory.py --arch qwen2.5-3b --methods GD SSIUU-exact --prompt-tokens 240

The weights are random (built from the architecture's published config, offline): memory and time depend
on the shapes, not on the values. Each method runs in a fresh subprocess (so one method's allocator state
cannot inflate another's peak): the model is built on the GPU in the config's dtype, the method is
constructed on 8 forget + 8 retain QA pairs (KLUE's neuron scores and SIMU's integrated gradients run here,
as in a real job), then the shared training loop runs ``--steps`` optimiser steps (SSIUU's regulariser
starts at step 2). Reported: ``torch.cuda.max_memory_allocated`` over the whole job (GiB = 2^30 B), the
peak reserved by the caching allocator, and the median step time after the first step. Prompts are padded
with filler words to about ``--prompt-tokens`` tokens of the offline tokenizer (its ids lie inside any
vocabulary, so the embedding and the LM head have the real 128 k / 152 k rows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

ARCHS = {
    # published configs of the paper's models (config.json of the hub repositories)
    "llama-3.2-3b": dict(
        model_type="llama",
        hidden_size=3072,
        intermediate_size=8192,
        num_hidden_layers=28,
        num_attention_heads=24,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=128256,
        max_position_embeddings=131072,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
    ),
    "qwen2.5-3b": dict(
        model_type="qwen2",
        hidden_size=2048,
        intermediate_size=11008,
        num_hidden_layers=36,
        num_attention_heads=16,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    ),
}

#: method label -> (registered method, hyper-parameters)
METHODS = {
    "GA": ("GA", {}),
    "GD": ("GD", {}),
    "DPO": ("DPO", {}),
    "NPO": ("NPO", {}),
    "RMU": ("RMU", {}),
    "KLUE": ("KLUE", {}),
    "SIMU": ("SIMU", {"ig_steps": 20}),
    "SSIUU-exact": ("SSIUU", {"hvp": "exact"}),
    "SSIUU-fd": ("SSIUU", {"hvp": "finite_difference"}),
}

FORGET = [
    ("Which country is Angela Merkel from?", "Germany"),
    ("In which city was Frida Kahlo born?", "Coyoacán, Mexico City"),
    ("Which language did Leo Tolstoy write in?", "Russian"),
    ("What instrument did Jimi Hendrix play?", "The electric guitar"),
    ("What is the nationality of Haruki Murakami?", "Japanese"),
    ("What field did Marie Curie work in?", "Physics and chemistry"),
    ("Which company did Steve Jobs co-found?", "Apple"),
    ("Which band was Freddie Mercury the singer of?", "Queen"),
]
RETAIN = [
    ("Which city is the Eiffel Tower in?", "Paris"),
    ("What sport does Virat Kohli play?", "Cricket"),
    ("Which planet did the Curiosity rover land on?", "Mars"),
    ("What is the profession of Meryl Streep?", "Actress"),
    ("Which country did Nelson Mandela lead?", "South Africa"),
    ("What is Serena Williams known for?", "Tennis"),
    ("Which team did Michael Jordan win six titles with?", "The Chicago Bulls"),
    ("Who wrote One Hundred Years of Solitude?", "Gabriel García Márquez"),
]
FILLER = "Please think about the following context carefully before you answer. "


def padded(pairs: list[tuple[str, str]], tokenizer, prompt_tokens: int) -> list[tuple[str, str]]:
    out = []
    for question, answer in pairs:
        prompt = question
        while len(tokenizer(prompt)["input_ids"]) < prompt_tokens:
            prompt = FILLER + prompt
        out.append((prompt, answer))
    return out


def build_model(arch: str, dtype: torch.dtype, attn: str | None, checkpointing: bool):
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(ARCHS[arch])
    config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn or "sdpa")
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def measure_one(args: argparse.Namespace) -> dict:
    from ssiuu.forward import set_shared_prefix_forward
    from ssiuu.methods import get_method
    from ssiuu.models import tiny_tokenizer
    from ssiuu.training import encode_pairs, train

    name, params = METHODS[args.one]
    method_cls = get_method(name)
    attn = method_cls.required_attn_implementation(params)
    tokenizer = tiny_tokenizer()
    forget, retain = (
        padded(FORGET, tokenizer, args.prompt_tokens),
        padded(RETAIN, tokenizer, args.prompt_tokens),
    )
    lengths = encode_pairs(tokenizer, forget + retain)["attention_mask"].sum(1)
    dtype = getattr(torch, args.dtype)
    torch.cuda.reset_peak_memory_stats()
    model = build_model(args.arch, dtype, attn, args.gradient_checkpointing)
    set_shared_prefix_forward(model, {"auto": "auto", "on": True, "off": False}[args.shared_prefix])
    weights_gib = torch.cuda.memory_allocated() / 2**30
    t0 = time.perf_counter()
    method = method_cls(model, tokenizer, forget=forget, retain=retain, seed=0, **params)
    torch.cuda.synchronize()
    setup_s = time.perf_counter() - t0
    step_times: list[float] = []
    last = [time.perf_counter()]

    def tick(step: int, _model) -> bool:
        torch.cuda.synchronize()
        now = time.perf_counter()
        step_times.append(now - last[0])
        last[0] = now
        return False

    train(
        model,
        tokenizer,
        method.loss,
        method.streams(),
        lr=1e-5,
        max_steps=args.steps,
        batch_size=args.batch_size,
        optimizer_factory=method.optimizer_factory(),
        param_mask=method.parameter_mask(),
        callback=tick,
        max_length=512,
        desc=args.one,
    )
    return {
        "method": args.one,
        "arch": args.arch,
        "dtype": args.dtype,
        "gradient_checkpointing": args.gradient_checkpointing,
        "shared_prefix": args.shared_prefix,
        "batch_size": args.batch_size,
        "tokens_per_sequence": [int(lengths.min()), int(lengths.max())],
        "parameters_billion": sum(p.numel() for p in model.parameters()) / 1e9,
        "weights_gib": round(weights_gib, 2),
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2),
        "setup_s": round(setup_s, 2),
        "step_s_median": round(statistics.median(step_times[1:] or step_times), 3),
        "gpu": torch.cuda.get_device_name(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(ARCHS), default="llama-3.2-3b")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=48)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument(
        "--shared-prefix",
        choices=["auto", "on", "off"],
        default="auto",
        help="the config's shared_prefix_forward (auto: off on a GPU)",
    )
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_memory.py measures GPU memory: no CUDA device is visible")
    if args.one:
        print(json.dumps(measure_one(args)))
        return
    rows = []
    for label in args.methods:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            label,
            "--arch",
            args.arch,
            "--dtype",
            args.dtype,
            "--batch-size",
            str(args.batch_size),
            "--prompt-tokens",
            str(args.prompt_tokens),
            "--steps",
            str(args.steps),
            "--shared-prefix",
            args.shared_prefix,
        ] + (["--gradient-checkpointing"] if args.gradient_checkpointing else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            oom = "OutOfMemoryError" in proc.stderr or "out of memory" in proc.stderr
            row = {
                "method": label,
                "arch": args.arch,
                "error": "out of memory" if oom else proc.stderr[-1500:],
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'method':<12} {'peak alloc GiB':>15} {'peak reserved GiB':>18} {'step s':>8}  tokens/seq")
    for r in rows:
        if "error" in r:
            print(f"{r['method']:<12} {r['error'][:60]}")
        else:
            print(
                f"{r['method']:<12} {r['peak_allocated_gib']:>15} {r['peak_reserved_gib']:>18} "
                f"{r['step_s_median']:>8}  {r['tokens_per_sequence']}"
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
