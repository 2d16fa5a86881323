"""The card's fake quantization (ssiuu/card/quantize.py) against torch's own quantize and dequantize."""

from __future__ import annotations

import warnings

import pytest
import torch

from ssiuu.card.quantize import (
    fake_quantize,
    quantization_levels,
    quantized_copy,
    quantized_linear_names,
)


def torch_per_group(weight: torch.Tensor, bits: int, group_size: int) -> torch.Tensor:
    """Symmetric absmax per-group quantization by torch.quantize_per_channel: each group is a channel of the
    [rows * groups, group_size] view, with scale absmax / (2^(bits-1) - 1) and zero point 0."""
    rows, cols = weight.shape
    groups = weight.reshape(rows * cols // group_size, group_size)
    scales = groups.abs().amax(dim=1).double() / (2 ** (bits - 1) - 1)
    zero_points = torch.zeros(len(scales), dtype=torch.long)
    with warnings.catch_warnings():  # torch deprecates its quantized tensors; their values are the reference
        warnings.simplefilter("ignore")
        quantized = torch.quantize_per_channel(groups, scales, zero_points, 0, torch.qint8)
        return quantized.dequantize().reshape(rows, cols)


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group_size", [4, 8])
def test_fake_quantization_equals_torch_quantize_and_dequantize(bits, group_size):
    weight = torch.randn(6, 16, generator=torch.Generator().manual_seed(bits + group_size))
    expected = torch_per_group(weight, bits, group_size)
    assert torch.allclose(fake_quantize(weight, bits, group_size), expected, atol=1e-6)


@pytest.mark.parametrize("bits", [8, 4])
def test_fake_quantization_equals_torch_fake_quantize_op(bits):
    weight = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    q_max = 2 ** (bits - 1) - 1
    scales = weight.abs().amax(dim=1) / q_max  # one group per row (group_size = columns)
    expected = torch.fake_quantize_per_channel_affine(
        weight, scales, torch.zeros(5, dtype=torch.int32), 0, -q_max, q_max
    )
    assert torch.allclose(fake_quantize(weight, bits, group_size=12), expected, atol=1e-6)


def test_a_short_last_group_and_an_all_zero_group():
    weight = torch.tensor([[1.0, -2.0, 0.5, 3.0, 0.7], [0.0, 0.0, 0.0, 0.0, 0.0]])
    out = fake_quantize(weight, bits=4, group_size=4)
    scale = 3.0 / 7  # the first row's first group: absmax 3 over q_max 7
    assert torch.allclose(out[0, :4], torch.round(weight[0, :4] / scale) * scale)
    assert out[0, 4] == pytest.approx(0.7)  # a group of one weight keeps it exactly (round(7) * 0.1)
    assert torch.equal(out[1], weight[1])
    assert quantization_levels(8) == 127 and quantization_levels(4) == 7


def test_fewer_bits_move_the_weights_more():
    weight = torch.randn(8, 64, generator=torch.Generator().manual_seed(2))
    errors = [(fake_quantize(weight, bits, 32) - weight).abs().max().item() for bits in (8, 4)]
    assert 0 < errors[0] < errors[1]


def test_the_copy_quantizes_every_linear_weight_but_the_head(tiny):
    model, _ = tiny
    low = quantized_copy(model, bits=4, group_size=32)
    names = set(quantized_linear_names(model))
    assert "lm_head" not in names and any(n.endswith("mlp.down_proj") for n in names)
    modules, copied = dict(model.named_modules()), dict(low.named_modules())
    for name in names:
        assert torch.equal(copied[name].weight, fake_quantize(modules[name].weight, 4, 32)), name
        assert not torch.equal(copied[name].weight, modules[name].weight), name
    assert torch.equal(low.lm_head.weight, model.lm_head.weight)
    assert torch.equal(low.model.embed_tokens.weight, model.model.embed_tokens.weight)
