"""Guards against a destroyed model: a NaN or inf in a loss, a weight or the logits stops the job.

Every guard raises :class:`NonFiniteLossError` with the same advice, before anything is written, so a
broken model is never saved, scored or reported as converged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

ADVICE = "lower the learning rate or check the data. No result file was written."


class NonFiniteLossError(FloatingPointError):
    """The loss, a weight or the logits became NaN or inf: the job stops and writes no result file."""


def non_finite(where: str, what: str) -> NonFiniteLossError:
    """The error every guard raises: ``"{where}: {what}; <advice>"``."""
    return NonFiniteLossError(f"{where}: {what}; {ADVICE}")


def first_non_finite(named: Iterable[tuple[str, Tensor]]) -> str | None:
    """The name of the first tensor that holds a NaN or inf, or None.

    Fast path: one sum per tensor and one device sync for all of them (a NaN or inf makes the sum
    non-finite). Only a tensor whose sum is not finite is checked element-wise, since a sum of huge
    finite values can overflow too.
    """
    named = list(named)
    if not named:
        return None
    device = named[0][1].device
    sums = torch.stack([t.detach().sum().to(device) for _, t in named])
    suspects = (~torch.isfinite(sums)).nonzero().flatten().tolist()
    return next((named[i][0] for i in suspects if not torch.isfinite(named[i][1].detach()).all()), None)


def require_finite(named: Iterable[tuple[str, Tensor]], where: str, when: str = "") -> None:
    """Raise :func:`non_finite` ``"{where}: NaN or inf in {name}{when}"`` for the first bad tensor of ``named``."""
    bad = first_non_finite(named)
    if bad is not None:
        raise non_finite(where, f"NaN or inf in {bad}{when}")


def require_finite_model(model: nn.Module, where: str) -> None:
    """Raise :class:`NonFiniteLossError` when any parameter of ``model`` holds a NaN or inf."""
    require_finite(((f"parameter {n}", p) for n, p in model.named_parameters()), where)


@contextmanager
def finite_logits(model: nn.Module, where: str) -> Iterator[None]:
    """Check the logits of every forward pass of ``model`` inside the block (generation, scoring)."""

    def hook(_module: nn.Module, _args: Any, output: Any) -> None:
        logits = output if isinstance(output, Tensor) else getattr(output, "logits", None)
        if logits is not None:
            require_finite([("the logits", logits)], where)

    handle = model.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
