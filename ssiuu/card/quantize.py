"""Weight-only round-to-nearest (RTN) fake quantization: the quantization test of the card.

Zhang et al. (ICLR 2025, "Catastrophic failure of LLM unlearning via quantization") quantized unlearned models
to 4 bits and saw "forgotten" knowledge come back: unlearning moves the weights so little that rounding them to
a coarse grid moves many back to where the starting model had them. This module applies that quantization in
torch, on any device, without a quantization library:

* **weight-only**: the weights of every ``nn.Linear`` of the model are replaced by their quantized values;
  activations, embeddings, norms and the output head (``get_output_embeddings``) keep full precision, as
  bitsandbytes and GPTQ/AWQ checkpoints keep the head;
* **symmetric per-group absmax**: each row of a weight matrix is cut into groups of ``group_size`` consecutive
  input weights (the last group of a row may be shorter); a group's scale is ``absmax / q_max`` with
  ``q_max = 2^(bits-1) - 1`` (127 at 8 bits, 7 at 4 bits), and each weight becomes
  ``scale * clamp(round(w / scale), -q_max, q_max)``: zero stays exactly zero and the grid is symmetric
  (the restricted range, as in LLM.int8's absmax quantization);
* **round to nearest**, ties to even (``torch.round``, as ``torch.quantize_per_channel`` rounds).

The default group size, 128, is the common one of 4-bit GPTQ/AWQ checkpoints; the dequantized weights are
what a quantized kernel computes with, so the model's outputs are those of the quantized model up to the
kernel's float rounding (tests/test_card_quantize.py checks the values against torch's own quantize and
dequantize).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

#: the group size of the card's quantization test unless the config says otherwise (``card.group_size``)
DEFAULT_GROUP_SIZE = 128


def quantization_levels(bits: int) -> int:
    """``q_max = 2^(bits-1) - 1``: the largest integer of the symmetric ``bits``-bit grid (127 at 8 bits)."""
    if not 2 <= bits <= 16:
        raise ValueError(f"quantization bits must be between 2 and 16, got {bits}")
    return 2 ** (bits - 1) - 1


def group_scales(weight: Tensor, bits: int, group_size: int) -> Tensor:
    """``[rows, groups]``: each group's scale ``absmax / q_max`` (1 for an all-zero group, which stays zero)."""
    groups = _grouped(weight, group_size)
    scale = groups.abs().amax(dim=-1) / quantization_levels(bits)
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def _grouped(weight: Tensor, group_size: int) -> Tensor:
    """``weight`` [rows, cols] as [rows, groups, group_size] in float32, the last group zero-padded."""
    if weight.dim() != 2:
        raise ValueError(f"fake quantization takes a 2-D weight matrix, got shape {tuple(weight.shape)}")
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    rows, cols = weight.shape
    pad = (-cols) % group_size
    padded = nn.functional.pad(weight.float(), (0, pad))
    return padded.view(rows, (cols + pad) // group_size, group_size)


@torch.no_grad()
def fake_quantize(weight: Tensor, bits: int, group_size: int = DEFAULT_GROUP_SIZE) -> Tensor:
    """``weight`` quantized to ``bits`` bits and dequantized (module docstring), same shape and dtype."""
    q_max = quantization_levels(bits)
    groups = _grouped(weight, group_size)
    scale = group_scales(weight, bits, group_size).unsqueeze(-1)
    quantized = torch.round(groups / scale).clamp(-q_max, q_max) * scale
    return quantized.flatten(1)[:, : weight.shape[1]].to(weight.dtype)


def quantized_linear_names(model: nn.Module) -> list[str]:
    """The ``nn.Linear`` modules :func:`quantize_weights` quantizes: all but the output head."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [
        name for name, module in model.named_modules() if isinstance(module, nn.Linear) and module is not head
    ]


@torch.no_grad()
def quantize_weights(model: nn.Module, bits: int, group_size: int = DEFAULT_GROUP_SIZE) -> list[str]:
    """Fake-quantize every linear weight of ``model`` in place (:func:`quantized_linear_names`); returns the
    names of the modules quantized."""
    names = quantized_linear_names(model)
    if not names:
        raise ValueError(f"{type(model).__name__} has no linear layer to quantize")
    modules = dict(model.named_modules())
    for name in names:
        weight = modules[name].weight
        weight.copy_(fake_quantize(weight, bits, group_size))
    return names


def quantized_copy(model: nn.Module, bits: int, group_size: int = DEFAULT_GROUP_SIZE) -> nn.Module:
    """A deep copy of ``model`` whose linear weights are fake-quantized to ``bits`` bits (the original is
    left as it is)."""
    copied = copy.deepcopy(model)
    quantize_weights(copied, bits, group_size)
    return copied.eval()
