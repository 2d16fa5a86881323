"""Neuron attribution (Eq. 1 of the paper) on Q, K, V, O outputs and FFN activations.

``A_{i,k} = h_{i,k} × ∂P(y|x)/∂h_{i,k}`` for every neuron ``i`` (one scalar of a module's representation)
and every token position ``k``. What this module computes, exactly:

* ``P(y|x)`` (``target="prob"``, the paper's choice) is the probability of the whole answer sequence,
  ``exp(Σ_j log p(y_j | x, y_<j))``, over the answer tokens that :func:`ssiuu.training.encode_pairs` labels
  (the answer tokens plus the EOS that ends them — the same ``P`` that the SSIUU regulariser uses).
  ``target="logprob"`` uses ``log P(y|x)`` instead (better conditioned for long answers; not the paper's).
* Positions ``k``: every non-padding token of prompt + answer (chat template included) that can influence
  ``P``, i.e. up to the one that predicts the last labelled token. The last token itself (the EOS) predicts
  nothing that is labelled, so by causality its gradient is exactly 0; it is left out so that it does not put
  a spurious 0 into ``max_k`` / ``min_k``.
* Modules: ``q``, ``k``, ``v``, ``o`` are the outputs of ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``
  (bias included where the architecture has one, e.g. Qwen2); ``ffn`` is the FFN activation, i.e. the input of
  ``down_proj`` (``act(gate) * up``). With grouped-query attention ``k``/``v`` have fewer neurons than ``q``.
* Memory: per batch, a tensor hook on each module's activation reduces ``A`` to ``max_k`` and ``min_k`` as soon
  as its gradient exists; no per-token tensor is kept beyond the batch. The result per module type is a pair of
  ``[n_examples, n_layers, n_neurons]`` tensors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ssiuu.model_parts import ModuleDiscoveryError, decoder_layers, model_device
from ssiuu.progress import progress

#: Module types in the order used everywhere (tables, flattening).
MODULE_TYPES: tuple[str, ...] = ("q", "k", "v", "o", "ffn")

_ATTN_PROJ = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj"}

#: Storage dtypes of saved summaries. float16 is not offered: attributions of long answers are far below its
#: smallest subnormal (6e-8) and would be flushed to 0.
STORAGE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}

_FORMAT = "ssiuu-attribution-v1"

EncodeFn = Callable[..., dict[str, Tensor]]


# --------------------------------------------------------------------------------------------- discovery


def discover_neuron_modules(model: nn.Module) -> dict[str, list[nn.Module]]:
    """Per module type (``q``, ``k``, ``v``, ``o``, ``ffn``) the per-layer modules whose neurons Eq. 1 scores.

    For ``q``/``k``/``v``/``o`` the neurons are the module's outputs; for ``ffn`` the listed module is
    ``mlp.down_proj`` and the neurons are its *input* (the FFN activation).
    """
    layers = decoder_layers(model)
    found: dict[str, list[nn.Module]] = {t: [] for t in MODULE_TYPES}
    for idx, layer in enumerate(layers):
        attn = getattr(layer, "self_attn", None)
        mlp = getattr(layer, "mlp", None)
        if attn is None or mlp is None:
            raise ModuleDiscoveryError(
                f"decoder layer {idx} ({type(layer).__name__}) has no `self_attn` or `mlp` attribute: "
                "attribution supports Llama/Qwen2-architecture models only"
            )
        for t, name in _ATTN_PROJ.items():
            proj = getattr(attn, name, None)
            if not isinstance(proj, nn.Module):
                raise ModuleDiscoveryError(
                    f"layer {idx}: `self_attn.{name}` not found in {type(attn).__name__} (fused QKV projections "
                    "are not supported; attribution needs separate q_proj/k_proj/v_proj/o_proj)"
                )
            found[t].append(proj)
        down = getattr(mlp, "down_proj", None)
        if not isinstance(down, nn.Module):
            raise ModuleDiscoveryError(f"layer {idx}: `mlp.down_proj` not found in {type(mlp).__name__}")
        found["ffn"].append(down)
    return found


def neuron_counts(modules: dict[str, list[nn.Module]]) -> dict[str, int]:
    """Number of neurons per layer for each module type (outputs of q/k/v/o, input of down_proj)."""
    counts: dict[str, int] = {}
    for t, mods in modules.items():
        sizes = set()
        for m in mods:
            weight = getattr(m, "weight", None)
            if weight is None or weight.dim() != 2:
                raise ModuleDiscoveryError(f"module type {t!r}: {type(m).__name__} has no 2-D weight")
            sizes.add(int(weight.shape[1] if t == "ffn" else weight.shape[0]))
        if len(sizes) != 1:
            raise ModuleDiscoveryError(
                f"module type {t!r} has different widths across layers: {sorted(sizes)}"
            )
        counts[t] = sizes.pop()
    return counts


def final_norm_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """``(model.model.norm, lm_head)``: the final norm and the unembedding the logit lens applies."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        head = getattr(model, "lm_head", None)
    base = getattr(model, "model", None)
    norm = getattr(base, "norm", None) if base is not None else None
    if norm is None and hasattr(model, "get_decoder"):
        norm = getattr(model.get_decoder(), "norm", None)
    if not isinstance(norm, nn.Module) or not isinstance(head, nn.Module):
        raise ModuleDiscoveryError(
            f"{type(model).__name__}: expected a final norm at `model.model.norm` and an unembedding `lm_head` "
            "(Llama/Qwen2 layout)"
        )
    return norm, head


# ------------------------------------------------------------------------------------------ the summary


@dataclass
class AttributionSummary:
    """Per-example ``max_k A`` and ``min_k A`` (Eq. 1) per module type: ``[n_examples, n_layers, n_neurons]``."""

    max: dict[str, Tensor]
    min: dict[str, Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.max) != set(self.min):
            raise ValueError(
                f"max and min cover different module types: {sorted(self.max)} vs {sorted(self.min)}"
            )
        for t in self.max:
            if self.max[t].shape != self.min[t].shape or self.max[t].dim() != 3:
                raise ValueError(
                    f"module {t!r}: max {tuple(self.max[t].shape)} and min {tuple(self.min[t].shape)} must be equal "
                    "3-D shapes [n_examples, n_layers, n_neurons]"
                )

    @property
    def module_types(self) -> list[str]:
        return [t for t in MODULE_TYPES if t in self.max] + sorted(
            t for t in self.max if t not in MODULE_TYPES
        )

    @property
    def n_examples(self) -> int:
        return int(next(iter(self.max.values())).shape[0])

    def to(self, dtype: torch.dtype) -> AttributionSummary:
        return AttributionSummary(
            {t: v.to(dtype) for t, v in self.max.items()},
            {t: v.to(dtype) for t, v in self.min.items()},
            dict(self.meta),
        )

    def save(self, path: str | Path, *, storage_dtype: str = "float32") -> Path:
        """Write ``{format, max, min, meta}`` with ``torch.save`` (atomically)."""
        from ssiuu.io import atomic_path

        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype {storage_dtype!r} is not one of {sorted(STORAGE_DTYPES)}")
        dtype = STORAGE_DTYPES[storage_dtype]
        payload = {
            "format": _FORMAT,
            "max": {t: v.detach().to("cpu", dtype).contiguous() for t, v in self.max.items()},
            "min": {t: v.detach().to("cpu", dtype).contiguous() for t, v in self.min.items()},
            "meta": json.loads(json.dumps(self.meta | {"storage_dtype": storage_dtype})),
        }
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> AttributionSummary:
        """Read a file written by :meth:`save`; tensors come back as float32."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: run the attribution rule first")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} is not an attribution summary ({_FORMAT})")
        return cls(
            {t: v.float() for t, v in payload["max"].items()},
            {t: v.float() for t, v in payload["min"].items()},
            dict(payload["meta"]),
        )


def pairs_fingerprint(pairs: Sequence[tuple[str, str]]) -> str:
    """sha256 of the (question, answer) pairs: summaries are only comparable on the same examples."""
    return hashlib.sha256(json.dumps([list(p) for p in pairs], ensure_ascii=False).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ attribution


def _default_encode() -> EncodeFn:
    try:
        from ssiuu.training import encode_pairs
    except ImportError as err:  # pragma: no cover - only before training.py exists
        raise ImportError("ssiuu.training.encode_pairs is not available: pass encode_fn=...") from err
    return encode_pairs


def attribution_positions(attention_mask: Tensor, labels: Tensor) -> Tensor:
    """Bool ``[B, T]``: positions ``k`` of Eq. 1 — non-padding tokens up to the one predicting the last label.

    Position ``k`` predicts token ``k+1``; tokens after the last labelled one's predecessor cannot influence
    ``P(y|x)`` (causal attention), so they are excluded.
    """
    labelled = labels != -100
    if not bool(labelled.any(dim=1).all()):
        bad = (~labelled.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(
            f"rows {bad} of the batch have no answer tokens (all labels are -100): the answer was truncated "
            "away; raise max_length"
        )
    t = labels.shape[1]
    idx = torch.arange(t, device=labels.device).expand_as(labels)
    last_label = torch.where(labelled, idx, torch.full_like(idx, -1)).amax(dim=1, keepdim=True)
    return attention_mask.bool() & (idx < last_label)


def answer_objective(logits: Tensor, labels: Tensor, target: str = "prob") -> Tensor:
    """Per example ``P(y|x)`` (``prob``) or ``log P(y|x)`` (``logprob``) from causal-LM logits: ``[B]``."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    mask = shift_labels != -100
    logp = torch.log_softmax(shift_logits, dim=-1)
    tok = logp.gather(-1, shift_labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    seq = (tok * mask).sum(dim=1)
    if target == "prob":
        return seq.exp()
    if target == "logprob":
        return seq
    raise ValueError(f"target {target!r} is not 'prob' or 'logprob'")


class _Reducer:
    """Tensor hooks that turn ``h × ∂P/∂h`` into ``max_k`` / ``min_k`` per (module type, layer)."""

    def __init__(self) -> None:
        self.positions: Tensor | None = None
        self.max: dict[tuple[str, int], Tensor] = {}
        self.min: dict[tuple[str, int], Tensor] = {}

    def grad_hook(self, key: tuple[str, int], h: Tensor) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            assert self.positions is not None
            a = h.detach().float() * grad.float()  # [B, T, N]
            keep = self.positions.unsqueeze(-1)
            self.max[key] = a.masked_fill(~keep, float("-inf")).amax(dim=1).cpu()
            self.min[key] = a.masked_fill(~keep, float("inf")).amin(dim=1).cpu()

        return hook

    def forward_hook(self, key: tuple[str, int]) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            if torch.is_tensor(output) and output.requires_grad:
                output.register_hook(self.grad_hook(key, output))

        return hook

    def pre_hook(self, key: tuple[str, int]) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            if torch.is_tensor(x) and x.requires_grad:
                x.register_hook(self.grad_hook(key, x))

        return hook

    def attach(self, modules: dict[str, list[nn.Module]]) -> list[Any]:
        """Hook every module (``ffn``: its input, else its output); returns the handles to remove."""
        handles = []
        for t, mods in modules.items():
            for layer, mod in enumerate(mods):
                if t == "ffn":
                    handles.append(mod.register_forward_pre_hook(self.pre_hook((t, layer))))
                else:
                    handles.append(mod.register_forward_hook(self.forward_hook((t, layer))))
        return handles

    def run(
        self, model: nn.Module, embed: nn.Module, enc: dict[str, Tensor], device: torch.device, target: str
    ) -> None:
        """One forward and backward pass of an encoded batch; fills :attr:`max` / :attr:`min`."""
        input_ids = enc["input_ids"].to(device)
        attention_mask = enc["attention_mask"].to(device)
        labels = enc["labels"].to(device)
        self.positions = attribution_positions(attention_mask, labels)
        self.max.clear()
        self.min.clear()
        # A leaf input: gradients flow to every activation, but no parameter .grad is touched.
        inputs_embeds = embed(input_ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, use_cache=False).logits
        objective = answer_objective(logits, labels, target).sum()
        torch.autograd.grad(objective, inputs_embeds)

    def take(self, key: tuple[str, int]) -> tuple[Tensor, Tensor]:
        """``(max_k A, min_k A)`` of one (module type, layer) for the last batch."""
        if key not in self.max:
            raise RuntimeError(
                f"no gradient reached module {key[0]!r} of layer {key[1]}: its activation does not "
                "influence the answer probability (is the module used in the forward pass?)"
            )
        return self.max[key], self.min[key]


def neuron_attribution(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = 8,
    target: str = "prob",
    max_length: int = 256,
    encode_fn: EncodeFn | None = None,
    module_types: Sequence[str] = MODULE_TYPES,
    desc: str = "attribution",
) -> AttributionSummary:
    """Eq. 1 for every neuron of ``module_types``, reduced per example to ``max_k A`` and ``min_k A``.

    ``pairs`` are (user message, answer) QA pairs, encoded with ``encode_fn`` (default
    :func:`ssiuu.training.encode_pairs`: chat-wrapped prompt, labels = answer tokens + EOS). Returns float32
    CPU tensors ``[len(pairs), n_layers, n_neurons]`` per module type, in the order of ``pairs``.
    """
    if not pairs:
        raise ValueError("neuron_attribution needs at least one (question, answer) pair")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    answer_objective(torch.zeros(1, 2, 1), torch.zeros(1, 2, dtype=torch.long), target)  # validates target
    unknown = [t for t in module_types if t not in MODULE_TYPES]
    if unknown:
        raise ValueError(f"unknown module type(s) {unknown}; choose from {MODULE_TYPES}")
    encode = encode_fn or _default_encode()
    modules = {t: m for t, m in discover_neuron_modules(model).items() if t in module_types}
    counts = neuron_counts(modules)
    n_layers = len(next(iter(modules.values())))
    n = len(pairs)
    out_max = {t: torch.empty(n, n_layers, counts[t]) for t in modules}
    out_min = {t: torch.empty(n, n_layers, counts[t]) for t in modules}

    reducer = _Reducer()
    handles = reducer.attach(modules)
    device = model_device(model)
    was_training = model.training
    model.eval()
    embed = model.get_input_embeddings()
    try:
        with torch.enable_grad():
            for start in progress(range(0, n, batch_size), desc=desc):
                batch_pairs = list(pairs[start : start + batch_size])
                reducer.run(
                    model, embed, encode(tokenizer, batch_pairs, max_length=max_length), device, target
                )
                end = start + len(batch_pairs)
                for t in modules:
                    for layer in range(n_layers):
                        out_max[t][start:end, layer], out_min[t][start:end, layer] = reducer.take((t, layer))
    finally:
        for h in handles:
            h.remove()
        reducer.max.clear()
        reducer.min.clear()
        model.train(was_training)
    meta = {
        "n_examples": n,
        "n_layers": n_layers,
        "neurons": counts,
        "target": target,
        "max_length": max_length,
        "pairs_sha": pairs_fingerprint(pairs),
        "model": str(getattr(getattr(model, "config", None), "_name_or_path", "")),
    }
    return AttributionSummary(out_max, out_min, meta)


def compute_attribution_summary(
    model: nn.Module,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    label: str = "",
    path: str | Path | None = None,
    storage_dtype: str = "float32",
    **options: Any,
) -> AttributionSummary:
    """Command-level wrapper: :func:`neuron_attribution` plus a ``label`` in meta; saved to ``path`` if given.

    ``options``: the keyword arguments of :func:`neuron_attribution` (``batch_size``, ``target``,
    ``max_length``, ``encode_fn``, ...). The saved file is ``torch.save({"format", "max", "min", "meta"})``
    with ``storage_dtype`` tensors (load it with :meth:`AttributionSummary.load`).
    """
    summary = neuron_attribution(model, tokenizer, pairs, **options)
    summary.meta["label"] = label
    if path is not None:
        summary.save(path, storage_dtype=storage_dtype)
    return summary
