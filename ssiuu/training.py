"""The one optimisation loop, shared by pre-finetuning, unlearning and the retraining attacks.

A step draws one batch from every named stream (``forget``, ``retain``, ``attack``, ...), calls the
plugged-in loss, and takes one optimiser step every ``grad_accum`` micro-steps. The loop knows nothing
about any method: methods bring a loss, and optionally a parameter mask and an optimiser.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ssiuu.data.templates import chat_prompt
from ssiuu.finite import NonFiniteLossError as NonFiniteLossError  # re-exported: callers catch it here
from ssiuu.finite import require_finite
from ssiuu.forward import Batch, answer_nll
from ssiuu.model_parts import model_device
from ssiuu.progress import progress

#: (user message, answer). The loop wraps the user message in the chat template.
QAPair = tuple[str, str]
LossFn = Callable[[nn.Module, dict[str, Batch], int], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]
OptimizerFactory = Callable[[list[dict[str, Any]], float], torch.optim.Optimizer]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def encode_pairs(tokenizer: Any, pairs: Sequence[QAPair], max_length: int = 256) -> Batch:
    """Tokenise (prompt, answer) pairs, right padded; ``labels`` cover only the answer tokens and EOS.

    The prompt is the user message wrapped in the chat template (raw when the tokenizer has none);
    its tokens and the padding get label -100, so the loss sees the answer only. Over-long examples are
    cut from the left of the prompt, so the answer is never truncated.
    """
    if not pairs:
        raise ValueError("encode_pairs got no pairs")
    eos = tokenizer.eos_token_id
    rows: list[tuple[list[int], list[int]]] = []
    for prompt, answer in pairs:
        prompt_ids = tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        if eos is not None:
            answer_ids = answer_ids + [eos]
        if not answer_ids:
            raise ValueError(f"empty answer for prompt {prompt[:60]!r}")
        keep = max_length - len(answer_ids)
        if keep < 1:
            raise ValueError(f"answer of {len(answer_ids)} tokens does not fit max_length={max_length}")
        prompt_ids = prompt_ids[-keep:]
        rows.append((prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        attention_mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch with its tensors moved to ``device``."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def encode(tokenizer: Any, pairs: Sequence[QAPair], device: torch.device, max_length: int = 256) -> Batch:
    """A batch exactly as the training loop feeds it to a loss: :func:`encode_pairs` on ``device``, plus
    ``pairs``, the raw pairs."""
    return to_device(encode_pairs(tokenizer, list(pairs), max_length), device) | {"pairs": list(pairs)}


def batched(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in consecutive lists of ``size`` (the last one shorter)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def nll_loss(model: nn.Module, batches: dict[str, Batch], step: int) -> torch.Tensor:
    """The plain fine-tuning loss on every stream (pre-finetuning and attacks use it).

    Uses the methods' answer-only NLL (:func:`ssiuu.forward.answer_nll`), which sends only answer positions
    through the LM head.
    """
    return sum(answer_nll(model, batch) for batch in batches.values())  # type: ignore[return-value]


@dataclass
class TrainResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    logs: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    wall_time_s: float = 0.0


class _Stream:
    """Cycles a list of pairs in seeded random order, one epoch at a time."""

    def __init__(self, name: str, pairs: Sequence[QAPair], batch_size: int, seed: int):
        if not pairs:
            raise ValueError(f"training stream {name!r} is empty")
        self.name, self.pairs, self.batch_size = name, list(pairs), min(batch_size, len(pairs))
        self.rng = random.Random(seed)
        self.order: list[int] = []
        self.epoch = 0

    def next(self) -> list[QAPair]:
        if len(self.order) < self.batch_size:
            fresh = list(range(len(self.pairs)))
            self.rng.shuffle(fresh)
            self.order += fresh
            self.epoch += 1
        idx, self.order = self.order[: self.batch_size], self.order[self.batch_size :]
        return [self.pairs[i] for i in idx]


def _micro_steps(
    model: nn.Module,
    loss_fn: LossFn,
    draw: Callable[[], dict[str, Batch]],
    step: int,
    grad_accum: int,
    desc: str,
) -> tuple[float, dict[str, float]]:
    """The ``grad_accum`` micro-steps of optimiser step ``step``: ``draw()`` (a batch of every stream), the
    loss, its backward. Returns the step's mean loss and the last micro-step's logs."""
    step_loss, logs = 0.0, {}
    for _ in range(grad_accum):
        batches = draw()
        out = loss_fn(model, batches, step)
        loss, extra = out if isinstance(out, tuple) else (out, {})
        require_finite([("the loss", loss)], desc, f" at step {step} (streams {list(batches)})")
        (loss / grad_accum).backward()
        step_loss += loss.item() / grad_accum
        logs = {k: float(v) for k, v in extra.items()}
    return step_loss, logs


def _param_groups(
    model: nn.Module, param_mask: dict[str, torch.Tensor] | None, weight_decay: float
) -> tuple[list[dict[str, Any]], dict[nn.Parameter, torch.Tensor]]:
    """Trainable parameter groups; masked parameters get weight decay 0 so frozen entries stay exact."""
    free, masked, masks = [], [], {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if param_mask is not None and name in param_mask:
            mask = param_mask[name].to(p.device)
            if mask.shape != p.shape:
                raise ValueError(
                    f"mask for {name} has shape {tuple(mask.shape)}, parameter has {tuple(p.shape)}"
                )
            if not mask.any():
                continue
            if not mask.all():
                masks[p] = mask.to(p.dtype)
                masked.append(p)
                continue
        free.append(p)
    groups = [{"params": free, "weight_decay": weight_decay}] if free else []
    if masked:
        groups.append({"params": masked, "weight_decay": 0.0})
    if not groups:
        raise ValueError("no trainable parameters: the parameter mask freezes everything")
    return groups, masks


def _freeze_untrained(
    model: nn.Module, groups: list[dict[str, Any]]
) -> tuple[list[nn.Parameter], list[tuple[str, nn.Parameter]]]:
    """Turn off the gradients of the parameters outside ``groups``; returns the trained ones, plain and
    as ``("parameter <name>", p)`` for :func:`ssiuu.finite.require_finite`."""
    params = [p for g in groups for p in g["params"]]
    trainable = set(params)
    named_trainable = [(f"parameter {n}", p) for n, p in model.named_parameters() if p in trainable]
    for p in model.parameters():  # frozen parameters need no gradient at all
        if p not in trainable:
            p.requires_grad_(False)
    return params, named_trainable


def train(
    model: nn.Module,
    tokenizer: Any,
    loss_fn: LossFn,
    streams: dict[str, Sequence[QAPair]],
    *,
    lr: float,
    max_steps: int,
    batch_size: int = 8,
    grad_accum: int = 1,
    seed: int = 0,
    weight_decay: float = 0.0,
    optimizer_factory: OptimizerFactory | None = None,
    param_mask: dict[str, torch.Tensor] | None = None,
    callback: Callable[[int, nn.Module], bool] | None = None,
    max_length: int = 256,
    desc: str = "train",
    max_grad_norm: float | None = None,
) -> TrainResult:
    """Run up to ``max_steps`` optimiser steps of ``loss_fn`` over ``streams``.

    ``callback(step, model)`` runs after every optimiser step (evaluation, early stopping); returning
    True stops training. A NaN/inf loss raises :class:`NonFiniteLossError` before its update is applied,
    and so does a NaN/inf trained parameter after the last update (at ``max_steps`` or an early stop),
    so a returned model is always finite.
    """
    if max_steps < 0 or grad_accum < 1 or batch_size < 1:
        raise ValueError("max_steps must be ≥ 0, grad_accum and batch_size ≥ 1")
    seed_everything(seed)
    device = model_device(model)
    stream_objs = {
        name: _Stream(name, pairs, batch_size, seed + i) for i, (name, pairs) in enumerate(streams.items())
    }
    groups, masks = _param_groups(model, param_mask, weight_decay)
    params, named_trainable = _freeze_untrained(model, groups)

    def draw() -> dict[str, Batch]:  # one batch of every stream
        return {name: encode(tokenizer, s.next(), device, max_length) for name, s in stream_objs.items()}

    optimizer = (optimizer_factory or (lambda g, lr: torch.optim.AdamW(g, lr=lr)))(groups, lr)
    result = TrainResult(steps=0)
    start = time.perf_counter()
    model.train()
    bar = progress(total=max_steps, desc=desc)
    try:
        for step in range(1, max_steps + 1):
            optimizer.zero_grad(set_to_none=True)
            step_loss, logs = _micro_steps(model, loss_fn, draw, step, grad_accum, desc)
            for p, mask in masks.items():
                if p.grad is not None:
                    p.grad.mul_(mask)
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            result.steps = step
            result.losses.append(step_loss)
            result.logs.append(logs)
            bar.set_postfix(loss=f"{step_loss:.4f}", refresh=False)
            bar.update(1)
            if callback is not None:
                model.eval()
                stop = callback(step, model)
                model.train()
                if stop:
                    result.stopped_early = True
                    break
        if result.steps:  # the next step's loss checked every earlier update
            require_finite(named_trainable, desc, f" after step {result.steps}")
    finally:
        bar.close()
        model.eval()
        for p in model.parameters():
            p.requires_grad_(True)
        result.wall_time_s = time.perf_counter() - start
    return result
