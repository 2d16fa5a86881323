"""The parts of a loaded causal LM that methods and analyses reach into.

Its device, its decoder blocks and their MLP projections, parameter names and whole-model parameter masks,
and a frozen copy. Loading a model is :mod:`ssiuu.models`; running it for log-likelihoods is
:mod:`ssiuu.forward`. This module imports torch only, so both can use it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

#: where causal LMs keep their decoder blocks, tried in order: Llama/Qwen2/Mistral/SmolLM ``*ForCausalLM``,
#: OPT, GPT-2, GPT-NeoX, a bare decoder, a wrapped or multimodal one
DECODER_LAYER_PATHS = (
    "model.layers",
    "model.decoder.layers",
    "transformer.h",
    "gpt_neox.layers",
    "layers",
    "model.model.layers",
    "language_model.layers",
)


class ModuleDiscoveryError(RuntimeError, TypeError):
    """The model lacks the Llama/Qwen2 layout asked for: no decoder blocks, or blocks without the module.

    A ``RuntimeError`` (as attribution raised it) and a ``TypeError`` (as the methods raised it)."""


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's (first) parameter."""
    return next(model.parameters()).device


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a causal LM (``model.model.layers`` for Llama/Qwen/SmolLM).

    The first non-empty ``nn.ModuleList`` at one of :data:`DECODER_LAYER_PATHS`, else the first one among
    the model's modules whose every child has ``self_attn`` and ``mlp``.
    """
    for path in DECODER_LAYER_PATHS:
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    for _, module in model.named_modules():
        if (
            isinstance(module, nn.ModuleList)
            and len(module) > 0
            and all(hasattr(m, "self_attn") and hasattr(m, "mlp") for m in module)
        ):
            return module
    raise ModuleDiscoveryError(
        f"cannot find the decoder layers of {type(model).__name__}: expected `model.model.layers` (Llama, Qwen2, "
        "Mistral layout) or an nn.ModuleList of blocks with `self_attn` and `mlp` attributes. ssiuu supports "
        "Llama/Qwen2-architecture causal LMs only."
    )


def mlp_projections(layer: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """(gate_proj, up_proj, down_proj) of a gated (Llama-style) MLP block."""
    mlp = getattr(layer, "mlp", None)
    try:
        return mlp.gate_proj, mlp.up_proj, mlp.down_proj  # type: ignore[union-attr]
    except AttributeError as err:
        raise ModuleDiscoveryError(
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
