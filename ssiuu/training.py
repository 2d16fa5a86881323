"""The one optimisation loop, shared by pre-finetuning, unlearning and the retraining attacks.

A step draws one batch from every named stream (``forget``, ``retain``, ``attack``, ...), calls the
plugged-in loss, and takes one optimiser step every ``grad_accum`` micro-steps. The loop knows nothing
about any method: methods bring a loss, and optionally a parameter mask and an optimiser.

An expensive stopping test (unlearning's forget score) runs every ``check_every`` steps; when it first
passes, the loop goes back to its state at the previous check and replays the steps one at a time, testing
each, so training stops at the first step that passes whatever the interval (see :func:`train`).
"""

from __future__ import annotations

import copy
import random
import statistics
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
    #: per step: the loss (mean over its micro-steps)
    losses: list[float] = field(default_factory=list)
    #: per step: each term the loss logged, averaged over the micro-steps that logged it
    logs: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    wall_time_s: float = 0.0
    #: the steps ``check`` ran at, in the order it ran (after a rewind the steps go back)
    checks: list[int] = field(default_factory=list)
    #: the step whose periodic check passed when the loop went back to the previous check, else None
    rewound_from: int | None = None

    def loss_terms(self) -> list[dict[str, float]]:
        """Per step: ``step`` and the terms the loss logged (empty when it logged none)."""
        return [{"step": i, **logs} for i, logs in enumerate(self.logs, start=1)] if any(self.logs) else []

    def regulariser_ratio(self) -> dict[str, float | int | None] | None:
        """The regulariser against the rest of the loss, for losses that log their regularisers: per step,
        r = R / |loss − R| with R the sum of the logged terms named ``*_reg`` (SSIUU's ``ssiuu_reg``), so
        loss − R is the loss without them (SSIUU's GD loss); ``{median, max, steps}`` over the steps whose R
        is not 0 (SSIUU's first step has none). None when the loss logs no regulariser."""
        if not any(k.endswith("_reg") for logs in self.logs for k in logs):
            return None
        ratios = []
        for loss, logs in zip(self.losses, self.logs, strict=True):
            reg = sum(v for k, v in logs.items() if k.endswith("_reg"))
            if reg != 0 and loss != reg:
                ratios.append(abs(reg / (loss - reg)))
        if not ratios:
            return {"median": None, "max": None, "steps": 0}
        return {"median": statistics.median(ratios), "max": max(ratios), "steps": len(ratios)}


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
    loss, its backward. Returns the step's mean loss and each logged term's mean over the micro-steps that
    logged it (so a term and the loss average over the same micro-batches)."""
    step_loss, sums, counts = 0.0, {}, {}
    for _ in range(grad_accum):
        batches = draw()
        out = loss_fn(model, batches, step)
        loss, extra = out if isinstance(out, tuple) else (out, {})
        require_finite([("the loss", loss)], desc, f" at step {step} (streams {list(batches)})")
        (loss / grad_accum).backward()
        step_loss += loss.item() / grad_accum
        for k, v in extra.items():
            sums[k] = sums.get(k, 0.0) + float(v)
            counts[k] = counts.get(k, 0) + 1
    return step_loss, {k: sums[k] / counts[k] for k in sums}


def _update(
    optimizer: torch.optim.Optimizer,
    masks: dict[nn.Parameter, torch.Tensor],
    params: list[nn.Parameter],
    max_grad_norm: float | None,
) -> None:
    """The optimiser step on the masked (and, with ``max_grad_norm``, clipped) gradients."""
    for p, mask in masks.items():
        if p.grad is not None:
            p.grad.mul_(mask)
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


def _stops(callback: Callable[[int, nn.Module], bool] | None, step: int, model: nn.Module) -> bool:
    """Whether ``callback(step, model)``, run in eval mode, stops training."""
    if callback is None:
        return False
    model.eval()
    try:
        return bool(callback(step, model))
    finally:
        model.train()


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


RngState = tuple[Any, torch.Tensor, "list[torch.Tensor] | None"]


def _rng_state() -> RngState:
    """The global random states a loss may draw from: Python's, torch's CPU and (once initialised) CUDA's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return random.getstate(), torch.get_rng_state(), cuda


def _set_rng_state(state: RngState) -> None:
    py, cpu, cuda = state
    random.setstate(py)
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _to_cpu(value: Any) -> Any:
    """A copy of ``value`` (an optimiser's state dict) with every tensor copied to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return copy.deepcopy(value)


def _is_step_state(value: Any) -> bool:
    """Whether a rewind restores an attribute of a ``step_state`` object holding ``value``.

    Per-step state is an attribute holding a scalar (int, float, bool, str, None), a tensor, a list or tuple of
    tensors (SSIUU's attributions) or a ``torch.Generator`` (SIMU's label sampler, restored in place). Modules,
    optimisers (restored by the loop), data and caches are left as they are."""
    return (
        value is None
        or isinstance(value, (bool, int, float, str, torch.Tensor, torch.Generator))
        or (isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value))
    )


def _capture(value: Any) -> Any:
    """A copy of one per-step state attribute (see :func:`_is_step_state`), tensors on the CPU."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.detach().to("cpu", copy=True), value.device)
    if isinstance(value, torch.Generator):
        return ("generator", value, value.get_state())
    if isinstance(value, (list, tuple)):
        return ("tensors", type(value), [(v.detach().to("cpu", copy=True), v.device) for v in value])
    return ("value", value)


def _rebuild(saved: tuple[Any, ...]) -> Any:
    kind = saved[0]
    if kind == "value":
        return saved[1]
    if kind == "tensor":
        return saved[1].to(saved[2])
    if kind == "generator":
        saved[1].set_state(saved[2])
        return saved[1]
    return saved[1](t.to(device) for t, device in saved[2])


@dataclass
class _Snapshot:
    """The loop's state after optimiser step ``step``, on the CPU: trained weights, optimiser state, stream
    order, global RNG and the per-step state of the ``step_state`` objects."""

    step: int
    params: list[torch.Tensor]
    optimizer: dict[str, Any]
    streams: list[tuple[Any, list[int], int]]
    rng: RngState
    objects: list[dict[str, Any]]

    @classmethod
    def take(
        cls,
        step: int,
        params: list[nn.Parameter],
        optimizer: torch.optim.Optimizer,
        streams: Sequence[_Stream],
        objects: Sequence[Any],
    ) -> _Snapshot:
        with torch.no_grad():
            weights = [p.detach().to("cpu", copy=True) for p in params]
        state = [{k: _capture(v) for k, v in vars(o).items() if _is_step_state(v)} for o in objects]
        return cls(
            step,
            weights,
            _to_cpu(optimizer.state_dict()),
            [(s.rng.getstate(), list(s.order), s.epoch) for s in streams],
            _rng_state(),
            state,
        )

    def restore(
        self,
        params: list[nn.Parameter],
        optimizer: torch.optim.Optimizer,
        streams: Sequence[_Stream],
        objects: Sequence[Any],
    ) -> int:
        """Put the state back (the snapshot's tensors may be reused: restore once) and return its step."""
        with torch.no_grad():
            for p, saved in zip(params, self.params, strict=True):
                p.copy_(saved)
        optimizer.load_state_dict(self.optimizer)
        for s, (rng, order, epoch) in zip(streams, self.streams, strict=True):
            s.rng.setstate(rng)
            s.order, s.epoch = list(order), epoch
        _set_rng_state(self.rng)
        for obj, state in zip(objects, self.objects, strict=True):
            for name in [n for n, v in vars(obj).items() if n not in state and _is_step_state(v)]:
                delattr(obj, name)  # per-step state created after the snapshot
            for name, saved in state.items():
                setattr(obj, name, _rebuild(saved))
        return self.step


class _Checks:
    """The periodic stopping check of :func:`train` and its rewind to the first step that passes.

    ``check(step, model)`` runs in eval mode and cannot change the random state training draws from. It runs
    every ``every`` steps and after step ``max_steps``. When a periodic check passes, the loop goes back to its
    state after the previous check (step 0 before the first): trained weights, optimiser state, the streams'
    order, the global RNG and the per-step state of the ``step_state`` objects (:func:`_is_step_state`); it
    then replays the steps one at a time, checking each, up to the step whose check passed, which is not
    checked again. The replayed steps are the steps the straight run took (bit for bit where the kernels are
    deterministic), so the model, ``steps``, ``losses`` and ``logs`` end as those of the first step that
    passes; ``result.checks`` lists every check in the order made (``train``'s ``callback`` sees replayed steps
    again). The state is kept on the CPU, one copy at a time.
    """

    def __init__(
        self,
        check: Callable[[int, nn.Module], bool],
        every: int,
        max_steps: int,
        model: nn.Module,
        loop_state: tuple[list[nn.Parameter], torch.optim.Optimizer, list[_Stream], list[Any]],
        result: TrainResult,
    ) -> None:
        self.check, self.every, self.max_steps, self.model = check, every, max_steps, model
        self.loop_state, self.result = loop_state, result
        self.rewinds = every > 1
        #: the state after the latest check that did not pass (step 0 before the first)
        self.last = _Snapshot.take(0, *loop_state) if self.rewinds and max_steps > 0 else None
        self.crossed: int | None = None  # the step whose periodic check passed, while replaying up to it

    def passes(self, step: int) -> bool:
        self.model.eval()
        rng = _rng_state()
        try:
            return self.check(step, self.model)
        finally:
            _set_rng_state(rng)
            self.result.checks.append(step)
            self.model.train()

    def after(self, step: int) -> int | None:
        """After optimiser step ``step``: None to stop there, else the step training goes on from (``step``,
        or after a rewind the previous check's, whose state is back and whose later steps are forgotten)."""
        if self.crossed is None and step % self.every and step != self.max_steps:
            return step
        if step == self.crossed or self.passes(step):
            last = self.last
            if self.crossed is not None or last is None or last.step == step - 1:
                return None
            self.crossed = self.result.rewound_from = step  # go back and find the first step that passes
            back = self.result.steps = last.restore(*self.loop_state)
            del self.result.losses[back:], self.result.logs[back:]
            self.last = None
            return back
        if self.rewinds and self.crossed is None and step < self.max_steps:
            self.last = None  # one copy at a time
            self.last = _Snapshot.take(step, *self.loop_state)
        return step


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
    check: Callable[[int, nn.Module], bool] | None = None,
    check_every: int = 1,
    step_state: Sequence[Any] = (),
) -> TrainResult:
    """Run up to ``max_steps`` optimiser steps of ``loss_fn`` over ``streams``.

    ``callback(step, model)`` runs after every optimiser step (evaluation, early stopping); returning
    True stops training. A NaN/inf loss raises :class:`NonFiniteLossError` before its update is applied,
    and so does a NaN/inf trained parameter after the last update (at ``max_steps`` or an early stop),
    so a returned model is always finite.

    ``check(step, model)``, a test too costly for every step, runs every ``check_every`` steps and after the
    last; training stops at the first step at which it returns True, replaying single steps from the previous
    check when needed (:class:`_Checks`), with the per-step state of the ``step_state`` objects (a method's).
    """
    if max_steps < 0 or grad_accum < 1 or batch_size < 1 or check_every < 1:
        raise ValueError("max_steps must be ≥ 0, grad_accum, batch_size and check_every ≥ 1")
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
    loop_state = (params, optimizer, list(stream_objs.values()), list(step_state))
    checks = None if check is None else _Checks(check, check_every, max_steps, model, loop_state, result)
    start = time.perf_counter()
    model.train()
    bar = progress(total=max_steps, desc=desc)
    try:
        step = 0
        while step < max_steps:
            step += 1
            optimizer.zero_grad(set_to_none=True)
            step_loss, logs = _micro_steps(model, loss_fn, draw, step, grad_accum, desc)
            _update(optimizer, masks, params, max_grad_norm)
            result.steps = step
            result.losses.append(step_loss)
            result.logs.append(logs)
            bar.set_postfix(loss=f"{step_loss:.4f}", refresh=False)
            bar.update(1)
            resume = None if _stops(callback, step, model) else step if checks is None else checks.after(step)
            if resume is None:
                result.stopped_early = True
                break
            bar.update(resume - step)
            step = resume
        if result.steps:  # the next step's loss checked every earlier update
            require_finite(named_trainable, desc, f" after step {result.steps}")
    finally:
        bar.close()
        model.eval()
        for p in model.parameters():
            p.requires_grad_(True)
        result.wall_time_s = time.perf_counter() - start
    return result
