"""Batched greedy generation with a shared-prefix KV cache.

Every evaluation in the paper reads greedy generations (App. C: FaithUn MCQA answers, TOFU ROUGE-L
recall). Evaluating one prompt at a time is dominated on a CPU by per-step overhead during decoding and
by re-encoding the long, identical instruction prefix of the MCQA template (Table 3) for every question.

:func:`greedy_generate` therefore

1. wraps each user message with :func:`ssiuu.data.templates.chat_prompt` and tokenizes it exactly as a
   one-at-a-time evaluation would;
2. finds the longest token prefix common to *all* prompts (chat header + MCQA instruction) and encodes it
   once into a :class:`~transformers.DynamicCache`;
3. sorts the prompts by the length of their remaining suffix (less padding), and for each batch copies
   the prefix cache across the batch and calls ``model.generate`` once on ``[prefix | pad | suffix]``
   with an attention mask that hides the pads. ``generate`` derives position ids from the mask
   (``cumsum - 1``), so every suffix token gets the same position as in an unpadded prompt, and only the
   suffixes are prefilled (the cache already holds the prefix);
4. strips the prompt, cuts at the first EOS and decodes.

The result is mathematically identical to one-at-a-time greedy decoding: the same token ids at the same
positions attend to the same keys. Floating-point results can differ in the last bits (different matmul
shapes), which can only change an answer at an exact arg-max tie; ``benchmarks/eval_throughput.py`` and
the tests check that the answers agree.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from typing import Any

import torch

from ssiuu.data.templates import chat_prompt
from ssiuu.finite import finite_logits
from ssiuu.forward import output_cache
from ssiuu.model_parts import model_device
from ssiuu.progress import progress


def encode_prompt(tokenizer: Any, user_text: str) -> list[int]:
    """Token ids of the chat-wrapped user message, as generation sees them.

    ``add_special_tokens=False``, exactly as :func:`ssiuu.training.encode_pairs` encodes the prompt of a
    training pair (a chat template writes its own special tokens).
    """
    return list(tokenizer(chat_prompt(tokenizer, user_text), add_special_tokens=False)["input_ids"])


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if value is None:
            continue
        for v in value if isinstance(value, list | tuple) else [value]:
            if int(v) not in ids:
                ids.append(int(v))
    if not ids:
        raise ValueError("neither the model's generation config nor the tokenizer defines an EOS token")
    return ids


def _pad_id(model: Any, tokenizer: Any, eos_ids: list[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    pad = getattr(model.generation_config, "pad_token_id", None)
    return int(pad) if pad is not None else eos_ids[0]


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by all ``sequences``."""
    if not sequences:
        return 0
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in sequences):
            return i
    return n


def _decode(tokenizer: Any, new_tokens: list[int], eos_ids: list[int]) -> str:
    cut = len(new_tokens)
    for i, t in enumerate(new_tokens):
        if t in eos_ids:
            cut = i
            break
    return tokenizer.decode(new_tokens[:cut], skip_special_tokens=True).strip()


@torch.no_grad()
def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    share_prefix: bool = True,
    sort_by_length: bool = True,
    desc: str = "generate",
) -> list[str]:
    """Greedy (``do_sample=False``) answers to chat-wrapped user messages, in the order of ``prompts``.

    ``batch_size=1, share_prefix=False`` is the plain one-at-a-time reference. Each answer is the text
    generated after the prompt up to (excluding) the first EOS token, decoded without special tokens and
    stripped of surrounding whitespace. The model runs in eval mode (no dropout; gradient checkpointing
    off, so the KV cache is used) and gets its previous train/eval mode back afterwards, so this can be
    called from a training callback. NaN or inf logits raise :class:`ssiuu.finite.NonFiniteLossError`.
    """
    was_training = model.training
    model.eval()
    try:
        with finite_logits(model, desc):
            return _greedy_generate(
                model,
                tokenizer,
                prompts,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                share_prefix=share_prefix,
                sort_by_length=sort_by_length,
                desc=desc,
            )
    finally:
        model.train(was_training)


def _greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    share_prefix: bool,
    sort_by_length: bool,
    desc: str,
) -> list[str]:
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    prompts = list(prompts)
    if not prompts:
        return []
    device = model_device(model)
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = _pad_id(model, tokenizer, eos_ids)
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    if any(len(e) == 0 for e in encoded):
        raise ValueError("a prompt encoded to zero tokens")

    # Shared prefix: leave at least one token in every suffix, so each row has a last real position.
    prefix_len = 0
    prefix_cache = None
    if share_prefix and len(encoded) > 1:
        prefix_len = min(common_prefix_length(encoded), min(len(e) for e in encoded) - 1)
    if prefix_len > 0:
        prefix_ids = torch.tensor([encoded[0][:prefix_len]], dtype=torch.long, device=device)
        extra = (
            {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        )
        out = model(input_ids=prefix_ids, use_cache=True, **extra)
        cache_key, prefix_cache = output_cache(out)
        del out

    order = list(range(len(prompts)))
    if sort_by_length:
        # Longest first: the largest batch runs first, so an out-of-memory error shows up at once.
        order.sort(key=lambda i: -len(encoded[i]))
    answers: list[str | None] = [None] * len(prompts)
    gen_kwargs = {
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "num_beams": 1,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "use_cache": True,
        "eos_token_id": eos_ids,
        "pad_token_id": pad_id,
    }
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in progress(batches, desc=desc, leave=False):
        suffixes = [encoded[i][prefix_len:] for i in batch]
        width = max(len(s) for s in suffixes)
        rows, masks = [], []
        for s in suffixes:
            pad = width - len(s)
            rows.append(encoded[batch[0]][:prefix_len] + [pad_id] * pad + s)
            masks.append([1] * prefix_len + [0] * pad + [1] * len(s))
        input_ids = torch.tensor(rows, dtype=torch.long, device=device)
        attention_mask = torch.tensor(masks, dtype=torch.long, device=device)
        kwargs = dict(gen_kwargs)
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(batch))
            kwargs[cache_key] = cache
        out_ids = model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        new = out_ids[:, input_ids.shape[1] :].tolist()
        for row, i in enumerate(batch):
            answers[i] = _decode(tokenizer, new[row], eos_ids)
    return [a if a is not None else "" for a in answers]
