"""Log-likelihood forward passes of a causal LM over tokenised QA batches.

A :data:`Batch` holds ``input_ids``, ``attention_mask`` and ``labels`` (HF style, unshifted; -100 outside the
answer), as :func:`ssiuu.training.encode_pairs` makes them, and ``pairs``, the raw (question, answer) pairs,
where :func:`ssiuu.training.encode` adds them. Only the positions that predict an answer token go through
the LM head, and the prefix every row shares can run once (:func:`answer_logits`); the methods' losses,
the training loop's NLL and the evaluation's answer log-probabilities all come from here.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssiuu.model_parts import decoder_layers

#: a tokenised batch (see the module docstring)
Batch = dict[str, Any]


def upcast(t: Tensor) -> Tensor:
    """At least float32 (bf16/fp16 logits are upcast for the softmax; float64 stays float64)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def model_inputs(batch: Batch) -> dict[str, Tensor]:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def answer_columns(labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Positions whose *next* token is an answer token: (columns, targets [B, C], valid [B, C])."""
    target = labels[:, 1:]
    valid = target != -100
    cols = valid.any(0).nonzero().squeeze(1)
    return cols, target[:, cols], valid[:, cols]


def activation_checkpointing(model: nn.Module) -> bool:
    """Whether gradient (activation) checkpointing is on; such a model runs without a KV cache."""
    flag = getattr(model, "is_activation_checkpointing", None)
    if flag is None:  # transformers versions that name it is_gradient_checkpointing
        flag = getattr(model, "is_gradient_checkpointing", False)
    return bool(flag)


def shared_prefix_length(batch: Batch, first_answer_column: int) -> int:
    """Leading tokens identical in every row (the chat template's system prompt and user header).

    Capped at the first position that predicts an answer token, so the prefix never holds a position
    whose logits are needed, and at one token short of the shortest row. 0 for a single-row batch.
    """
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if ids.shape[0] < 2:
        return 0
    same = (ids == ids[:1]).all(0) & mask.bool().all(0)
    differs = (~same).nonzero()
    length = int(differs[0]) if len(differs) else ids.shape[1]
    return max(0, min(length, first_answer_column, int(mask.sum(1).min()) - 1))


#: model attribute holding the config's ``shared_prefix_forward`` (set by :func:`set_shared_prefix_forward`)
SHARED_PREFIX_ATTR = "ssiuu_shared_prefix_forward"


def set_shared_prefix_forward(model: nn.Module, setting: bool | str = "auto") -> None:
    """Record on ``model`` whether its training forwards share the prefix (config ``shared_prefix_forward``).

    ``"auto"`` leaves the choice to :func:`shares_prefix`: on for CPU tensors, off on accelerators.
    """
    if setting not in ("auto", True, False):
        raise ValueError(f"shared_prefix_forward must be auto, true or false, not {setting!r}")
    setattr(model, SHARED_PREFIX_ATTR, setting)


def shares_prefix(model: nn.Module, input_ids: Tensor) -> bool:
    """Whether :func:`answer_logits` runs the shared prefix once for this model and batch.

    On by default on the CPU, where a step is compute bound and fewer tokens is less time. Off by default
    on a GPU: a 3B step there is bound by kernel launches, and the extra prefix pass makes steps 1.4-1.9x
    slower on an H100-class GPU (compare with ``benchmarks/gpu_memory.py --shared-prefix on|off``). Always off under activation
    checkpointing, where HF models run without a KV cache.
    """
    if activation_checkpointing(model):
        return False
    setting = getattr(model, SHARED_PREFIX_ATTR, "auto")
    return input_ids.device.type == "cpu" if setting == "auto" else bool(setting)


def output_cache(output: Any) -> tuple[str, Any]:
    """``(keyword, cache)``: the KV cache a model output holds (None without one), and the keyword that
    passes it back to ``forward`` or ``generate``.

    The keyword is ``cache`` since transformers 5.24, which deprecates ``past_key_values`` (to be removed
    in 5.40); an output of transformers < 5.24 holds ``past_key_values``.
    """
    key = "past_key_values" if "past_key_values" in output.keys() else "cache"
    return key, output.get(key)


def answer_logits(
    model: nn.Module, batch: Batch, *, share_prefix: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """``(logits [N, V], targets [N], sample index [N])`` at the N answer tokens of a batch.

    Only the positions that predict an answer token go through the LM head (``logits_to_keep``), which
    skips most of the vocabulary projection for QA data. With ``share_prefix``, the leading tokens every
    row shares (:func:`shared_prefix_length`: the chat template's system prompt) run through the model
    once, and their key/value cache is repeated across the rows. Gradients flow back through that cache
    into the one prefix pass, summed over rows, so logits and gradients equal the full-batch forward
    (tests/test_training.py); on SmolLM2 QA batches this removes about a third of the tokens. The
    model's ``shared_prefix_forward`` setting (:func:`shares_prefix`) can turn it off.
    """
    cols, target, valid = answer_columns(batch["labels"])
    ids = batch["input_ids"]
    prefix = (
        shared_prefix_length(batch, int(cols[0]))
        if share_prefix and len(cols) and shares_prefix(model, ids)
        else 0
    )
    if prefix > 0:
        key, cache = output_cache(model(input_ids=ids[:1, :prefix], use_cache=True, logits_to_keep=1))
        if cache is not None:  # None: a model that runs without a cache
            cache.batch_repeat_interleave(ids.shape[0])
            logits = model(
                input_ids=ids[:, prefix:],
                attention_mask=batch["attention_mask"],
                use_cache=True,
                logits_to_keep=cols - prefix,
                **{key: cache},
            ).logits
            return logits[valid], target[valid], valid.nonzero()[:, 0]
    try:
        logits = model(**model_inputs(batch), logits_to_keep=cols).logits
    except TypeError:  # a model without logits_to_keep: project every position, keep the answer columns
        logits = model(**model_inputs(batch)).logits[:, :-1][:, cols]
    return logits[valid], target[valid], valid.nonzero()[:, 0]


def answer_token_logprobs(
    model: nn.Module, batch: Batch, *, share_prefix: bool = True
) -> tuple[Tensor, Tensor]:
    """``(logp [N], sample index [N])`` for the N answer tokens of a batch, from one forward pass
    (equal to a full log-softmax over every position, at the answer tokens: tests/reference.py).
    Callers whose hooks need every position in a single pass set ``share_prefix=False``."""
    logits, target, rows = answer_logits(model, batch, share_prefix=share_prefix)
    return -F.cross_entropy(upcast(logits), target, reduction="none"), rows


def sequence_logprobs(model: nn.Module, batch: Batch, *, share_prefix: bool = True) -> tuple[Tensor, Tensor]:
    """``(log π(y|x) [B], answer-token counts [B])``: sums of answer-token log-probabilities."""
    logp, rows = answer_token_logprobs(model, batch, share_prefix=share_prefix)
    batch_size = batch["input_ids"].shape[0]
    seq = torch.zeros(batch_size, dtype=logp.dtype, device=logp.device).index_add(0, rows, logp)
    counts = torch.bincount(rows, minlength=batch_size)
    return seq, counts


def mean_nll(seq_logprobs: Tensor, counts: Tensor) -> Tensor:
    """Mean token NLL over every answer token of the batch (the HF causal-LM loss)."""
    return -seq_logprobs.sum() / counts.sum().clamp(min=1)


def answer_nll(model: nn.Module, batch: Batch) -> Tensor:
    """Mean answer-token NLL of a batch (the HF causal-LM loss; checked in tests/test_training.py)."""
    return mean_nll(*sequence_logprobs(model, batch))


class _StopForward(Exception):
    pass


def hidden_at(model: nn.Module, batch: Batch, layer: int) -> Tensor:
    """Residual stream after decoder block ``layer`` ([B, T, H]); the blocks above are not run."""
    captured: list[Tensor] = []

    def hook(_module: nn.Module, _args: Any, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output)
        raise _StopForward

    handle = decoder_layers(model)[layer].register_forward_hook(hook)
    try:
        model(**model_inputs(batch))
    except _StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"decoder layer {layer} did not run")
    return captured[0]
