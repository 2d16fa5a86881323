"""The method interface.

A method is a loss (``loss(model, batches, step)``, the :data:`ssiuu.training.LossFn`), plus an optional
parameter mask, an optional optimiser factory and optional per-step state — nothing else. Batching,
optimisation, masking of gradients and early stopping live in :func:`ssiuu.training.train`; the
log-likelihood helpers the losses share live in :mod:`ssiuu.forward`, and what they reach into a model for
in :mod:`ssiuu.model_parts`.

Conventions (shared with :mod:`ssiuu.training`): ``batches[name]`` is a :data:`ssiuu.forward.Batch`.
Losses are *minimised*; "ascent" methods return the negated NLL.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ssiuu.forward import Batch
from ssiuu.training import QAPair

LossOutput = Tensor | tuple[Tensor, dict[str, float]]


class MethodConfigError(ValueError):
    """A method got a hyper-parameter it does not know, or a value outside its range."""


class _MethodType(type):
    """Builds a method in two steps: what every method takes, then the class's own hyper-parameters.

    ``Method(model, tokenizer, forget=..., retain=..., seed=..., **hparams)`` binds the first five
    (:meth:`UnlearningMethod._bind`), then calls ``Method.__init__(**hparams)``, so a method's
    ``__init__`` declares its hyper-parameters and nothing else.
    """

    def __call__(
        cls,
        model: nn.Module,
        tokenizer: Any,
        *,
        forget: Sequence[QAPair],
        retain: Sequence[QAPair] = (),
        seed: int = 0,
        start_cache: dict[Hashable, Any] | None = None,
        **hparams: Any,
    ) -> Any:
        method = cls.__new__(cls)
        method._bind(model, tokenizer, forget, retain, seed, start_cache)
        method.__init__(**hparams)
        return method


class UnlearningMethod(metaclass=_MethodType):
    """Base class: subclasses set ``name``, declare their hyper-parameters as the keyword-only arguments of
    ``__init__`` (with the paper's defaults; a YAML ``method_params`` entry goes straight into it) and
    implement :meth:`loss`.

    ``model``, ``tokenizer``, ``forget``/``retain`` (the training pairs) and ``seed`` (for anything random
    the method draws: RMU's steering vector, KLUE's superficial variants, SIMU's sampled labels) are set
    before ``__init__`` runs (see :class:`_MethodType`).
    """

    name: ClassVar[str] = ""
    #: whether the method trains on the retain stream (GA does not)
    uses_retain: ClassVar[bool] = True

    model: nn.Module
    tokenizer: Any
    forget: list[QAPair]
    retain: list[QAPair]
    seed: int

    def __init__(self) -> None:
        """A method without hyper-parameters (GA)."""

    def _bind(
        self,
        model: nn.Module,
        tokenizer: Any,
        forget: Sequence[QAPair],
        retain: Sequence[QAPair],
        seed: int,
        start_cache: dict[Hashable, Any] | None = None,
    ) -> None:
        if not forget:
            raise MethodConfigError(f"{self.name}: the forget set is empty")
        if self.uses_retain and not retain:
            raise MethodConfigError(
                f"{self.name}: needs a non-empty retain set (GA is the method without one)"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.forget = list(forget)
        self.retain = list(retain)
        self.seed = seed
        self._start_cache = start_cache

    def from_start(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A statistic of the starting model (KLUE's and SIMU's neuron scores), computed once per unlearning job.

        Every learning-rate try of a job starts from the same weights, pairs and seed, so the statistic is the
        same for each: :mod:`ssiuu.unlearning` passes one ``start_cache`` to all of a job's tries. Without a
        cache it is computed every time. ``key`` must name everything the statistic depends on besides those."""
        if self._start_cache is None:
            return compute()
        key = (type(self).__name__, key)
        if key not in self._start_cache:
            self._start_cache[key] = compute()
        return self._start_cache[key]

    def reject_if(self, invalid: bool, problem: str) -> None:
        """Raise :class:`MethodConfigError` ``"<name>: <problem>"`` if ``invalid`` (hyper-parameter checks)."""
        if invalid:
            raise MethodConfigError(f"{self.name}: {problem}")

    # -- the interface ---------------------------------------------------------------------------
    def streams(self) -> dict[str, list[QAPair]]:
        """Named training streams; :func:`ssiuu.training.train` draws one batch of each per step."""
        return {"forget": self.forget, "retain": self.retain} if self.uses_retain else {"forget": self.forget}

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        """The :data:`ssiuu.training.LossFn`: a scalar to minimise (and scalar logs)."""
        raise NotImplementedError

    __call__ = loss

    def parameter_mask(self) -> dict[str, Tensor] | None:
        """``{param name: bool mask of trainable entries}``; names absent are fully trainable."""
        return None

    def optimizer_factory(self) -> Callable[[list[dict[str, Any]], float], torch.optim.Optimizer] | None:
        """``factory(param_groups, lr) -> Optimizer``, or None for the loop's default (AdamW)."""
        return None

    @staticmethod
    def required_attn_implementation(params: dict[str, Any] | None = None) -> str | None:
        """The attention implementation the model must be loaded with for these params (None: any)."""
        return None

    # -- hyper-parameters ------------------------------------------------------------------------
    @classmethod
    def hparams(cls) -> dict[str, Any]:
        """The method's hyper-parameters (the keyword-only ``__init__`` arguments) and their defaults."""
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @classmethod
    def check_hparams(cls, params: dict[str, Any]) -> None:
        """Raise :class:`MethodConfigError` naming unknown hyper-parameters and the valid ones."""
        unknown = sorted(set(params) - set(cls.hparams()) - {"seed"})
        if unknown:
            raise MethodConfigError(
                f"method {cls.name!r} has no hyper-parameter(s) {unknown}; valid: {sorted(cls.hparams())}"
            )
