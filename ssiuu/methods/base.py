"""The method interface and the helpers every method shares.

A method is a loss (``loss(model, batches, step)``, the :data:`ssiuu.training.LossFn`), plus an optional
parameter mask, an optional optimiser factory and optional per-step state — nothing else. Batching,
optimisation, masking of gradients and early stopping live in :func:`ssiuu.training.train`.

Conventions (shared with :mod:`ssiuu.training`): ``batches[name]`` holds ``input_ids``,
``attention_mask`` and ``labels`` (HF style, unshifted; -100 outside the answer) plus ``pairs``, the raw
(question, answer) pairs. Losses are *minimised*; "ascent" methods return the negated NLL.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: (user message, answer), as in :mod:`ssiuu.training`.
QAPair = tuple[str, str]
Batch = dict[str, Any]
LossOutput = Tensor | tuple[Tensor, dict[str, float]]


class MethodConfigError(ValueError):
    """A method got a hyper-parameter it does not know, or a value outside its range."""


class UnlearningMethod:
    """Base class: subclasses set ``name``, declare their hyper-parameters as keyword-only arguments of
    ``__init__`` (with the paper's defaults) and implement :meth:`loss`.

    ``forget``/``retain`` are the training pairs; ``seed`` seeds anything random the method draws (RMU's
    steering vector, KLUE's superficial variants, SIMU's sampled labels).
    """

    name: ClassVar[str] = ""
    #: whether the method trains on the retain stream (GA does not)
    uses_retain: ClassVar[bool] = True

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        forget: Sequence[QAPair],
        retain: Sequence[QAPair] = (),
        seed: int = 0,
    ) -> None:
        if not forget:
            raise MethodConfigError(f"{self.name}: the forget set is empty")
        if self.uses_retain and not retain:
            raise MethodConfigError(f"{self.name}: needs a non-empty retain set (GA is the method without one)")
        self.model = model
        self.tokenizer = tokenizer
        self.forget = list(forget)
        self.retain = list(retain)
        self.seed = seed

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
        """The method's hyper-parameters (keyword-only ``__init__`` arguments) and their defaults."""
        sig = inspect.signature(cls.__init__)
        skip = {"self", "model", "tokenizer", "forget", "retain", "seed"}
        return {
            n: p.default
            for n, p in sig.parameters.items()
            if n not in skip and p.kind is inspect.Parameter.KEYWORD_ONLY
        }

    @classmethod
    def check_hparams(cls, params: dict[str, Any]) -> None:
        """Raise :class:`MethodConfigError` naming unknown hyper-parameters and the valid ones."""
        unknown = sorted(set(params) - set(cls.hparams()) - {"seed"})
        if unknown:
            raise MethodConfigError(
                f"method {cls.name!r} has no hyper-parameter(s) {unknown}; valid: {sorted(cls.hparams())}"
            )


# ---------------------------------------------------------------------------------------------------
# log-likelihood helpers
# ---------------------------------------------------------------------------------------------------
def upcast(t: Tensor) -> Tensor:
    """At least float32 (bf16/fp16 logits are upcast for the softmax; float64 stays float64)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def model_inputs(batch: Batch) -> dict[str, Tensor]:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def _answer_columns(labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Positions whose *next* token is an answer token: (columns, targets [B, C], valid [B, C])."""
    target = labels[:, 1:]
    valid = target != -100
    cols = valid.any(0).nonzero().squeeze(1)
    return cols, target[:, cols], valid[:, cols]


def activation_checkpointing(model: nn.Module) -> bool:
    """Whether gradient (activation) checkpointing is on; such a model runs without a KV cache."""
    flag = getattr(model, "is_activation_checkpointing", None)
    if flag is None:  # transformers before the rename
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
    on a GPU: a 3B step there is bound by kernel launches, and the extra prefix pass made steps 1.4-1.9x
    slower on an H100 (``benchmarks/gpu_memory.py --shared-prefix on|off``). Always off under activation
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
    in 5.40); an output of an earlier version holds ``past_key_values``.
    """
    key = "past_key_values" if "past_key_values" in output.keys() else "cache"
    return key, output.get(key)


def answer_logits(model: nn.Module, batch: Batch, *, share_prefix: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """``(logits [N, V], targets [N], sample index [N])`` at the N answer tokens of a batch.

    Only the positions that predict an answer token go through the LM head (``logits_to_keep``), which
    skips most of the vocabulary projection for QA data. With ``share_prefix``, the leading tokens every
    row shares (:func:`shared_prefix_length`: the chat template's system prompt) run through the model
    once, and their key/value cache is repeated across the rows. Gradients flow back through that cache
    into the one prefix pass, summed over rows, so logits and gradients equal the full-batch forward
    (tests/test_training.py); on SmolLM2 QA batches this removes about a third of the tokens. The
    model's ``shared_prefix_forward`` setting (:func:`shares_prefix`) can turn it off.
    """
    cols, target, valid = _answer_columns(batch["labels"])
    ids = batch["input_ids"]
    prefix = shared_prefix_length(batch, int(cols[0])) if share_prefix and len(cols) and shares_prefix(model, ids) else 0
    if prefix > 0:
        key, cache = output_cache(model(input_ids=ids[:1, :prefix], use_cache=True, logits_to_keep=1))
        if cache is not None:  # None: a model that runs without a cache
            cache.batch_repeat_interleave(ids.shape[0])
            logits = model(input_ids=ids[:, prefix:], attention_mask=batch["attention_mask"], use_cache=True,
                           logits_to_keep=cols - prefix, **{key: cache}).logits
            return logits[valid], target[valid], valid.nonzero()[:, 0]
    try:
        logits = model(**model_inputs(batch), logits_to_keep=cols).logits
    except TypeError:  # a model without logits_to_keep: project every position, keep the answer columns
        logits = model(**model_inputs(batch)).logits[:, :-1][:, cols]
    return logits[valid], target[valid], valid.nonzero()[:, 0]


def answer_token_logprobs(model: nn.Module, batch: Batch, *, share_prefix: bool = True) -> tuple[Tensor, Tensor]:
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


# ---------------------------------------------------------------------------------------------------
# model plumbing
# ---------------------------------------------------------------------------------------------------
def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def to_device(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}


def encode(tokenizer: Any, pairs: Sequence[QAPair], device: torch.device, max_length: int = 256) -> Batch:
    """Encode pairs exactly as the training loop does (:func:`ssiuu.training.encode_pairs`)."""
    from ssiuu.training import encode_pairs

    return to_device(encode_pairs(tokenizer, list(pairs), max_length), device) | {"pairs": list(pairs)}


def batched(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a causal LM (``model.model.layers`` for Llama/Qwen/SmolLM)."""
    for path in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers"):
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise TypeError(f"cannot find the decoder layers of {type(model).__name__}: expected model.model.layers")


def mlp_projections(layer: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """(gate_proj, up_proj, down_proj) of a gated (Llama-style) MLP block."""
    mlp = getattr(layer, "mlp", None)
    try:
        return mlp.gate_proj, mlp.up_proj, mlp.down_proj  # type: ignore[union-attr]
    except AttributeError as err:
        raise TypeError(
            f"{type(layer).__name__} has no Llama-style mlp.gate_proj/up_proj/down_proj; "
            "KLUE, SIMU and RMU support Llama-family models (Llama, Qwen2, SmolLM2)"
        ) from err


def param_names(model: nn.Module) -> dict[int, str]:
    """``id(parameter) -> name`` (tied parameters appear once, under their first name)."""
    return {id(p): n for n, p in model.named_parameters()}


def full_mask(model: nn.Module, trainable: dict[str, Tensor | bool]) -> dict[str, Tensor]:
    """A mask for *every* parameter: ``trainable[name]`` (a bool tensor, or True for all entries);
    parameters not named are frozen (all-False mask)."""
    masks: dict[str, Tensor] = {}
    for n, p in model.named_parameters():
        m = trainable.get(n, False)
        if isinstance(m, Tensor):
            if m.shape != p.shape:
                raise ValueError(f"mask for {n} has shape {tuple(m.shape)}, parameter has {tuple(p.shape)}")
            masks[n] = m.to(device=p.device, dtype=torch.bool)
        else:
            masks[n] = torch.full_like(p, bool(m), dtype=torch.bool)
    return masks


def frozen_copy(model: nn.Module) -> nn.Module:
    """A frozen, eval-mode deep copy (the reference / starting model)."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


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
