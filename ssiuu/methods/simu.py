"""SIMU, Selective Influence Machine Unlearning (arXiv 2510.07822; code not released).

Stage 1 — critical neurons. Neuron k of block l is the k-th input of ``mlp.down_proj``. Its score is
the integrated gradient of the forget answers' log-likelihood along the path that scales the block's
down-projection input from 0 to its value β in ``ig_steps`` (m) steps:

    Att(w_l^k) = Σ_{(x,y) ∈ forget} Σ_tokens β_k · (1/m) Σ_{s=1..m} ∂F/∂h_k |_{h = (s/m) β},
    F = Σ_{answer tokens t} log p(y_t | x, y_<t)

(each answer token is one next-token prediction sample; all positions of block l are scaled together
and the other blocks keep their clean activations). A neuron is critical if Att > t · max_k Att of
its block (t = ``threshold``; the paper does not state its value in the summary we have — 0.2 is the
ratio of Dai et al.'s knowledge-neuron detector that SIMU's Privacy-Neuron-Detector lineage uses).
We attribute the log-likelihood (= −loss), so that a positive score means "supports the forget
answer"; the summary's "loss change" has the opposite sign.

Stage 2 — GradDiff with Sophia. Loss ``−NLL(forget) + retain_weight · NLL(retain)``. Trainable: every
attention projection (q, k, v, o) fully, and the ``down_proj`` columns of the critical neurons; every
other parameter is frozen. :class:`~ssiuu.methods.sophia.MaskedSophiaG` applies the mask to the
momentum, the curvature and the update. The Gauss–Newton–Bartlett curvature is refreshed every
``hessian_interval`` steps from the current step's forward pass: labels are sampled from the model's
own distribution at every answer position of the forget and retain batches (seeded generator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssiuu.forward import Batch, answer_columns, answer_logits, model_inputs, upcast
from ssiuu.methods.base import LossOutput, UnlearningMethod
from ssiuu.methods.sophia import MaskedSophiaG
from ssiuu.model_parts import decoder_layers, full_mask, mlp_projections, model_device, param_names
from ssiuu.progress import progress
from ssiuu.training import batched, encode


def capture_block_inputs(model: nn.Module, batch: Batch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """One clean no-grad forward; the (args, kwargs) every decoder block was called with."""
    layers = decoder_layers(model)
    store: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def make(i: int) -> Callable[..., None]:
        def hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            store[i] = (args, dict(kwargs))

        return hook

    handles = [layer.register_forward_pre_hook(make(i), with_kwargs=True) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            model(**model_inputs(batch), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return [store[i] for i in range(len(layers))]


def logits_from_block(
    model: nn.Module, start: int, inputs: list[tuple[tuple[Any, ...], dict[str, Any]]], cols: Tensor
) -> Tensor:
    """Re-run blocks ``start..L−1`` from block ``start``'s captured input, then the final norm and the
    LM head at sequence positions ``cols``: logits ``[B, C, V]``."""
    layers = decoder_layers(model)
    args, _ = inputs[start]
    h = args[0]
    for j in range(start, len(layers)):
        a, kw = inputs[j]
        out = layers[j](h, *a[1:], **kw)
        h = out[0] if isinstance(out, tuple) else out
    h = model.get_decoder().norm(h)
    return model.get_output_embeddings()(h[:, cols])


def clean_gradient_times_input(model: nn.Module, batch: Batch) -> Tensor:
    """``[L, I]``: β_k · ∂F/∂h_k at the clean activations h = β of every block, summed over the batch
    and positions: the ``s = m`` term of every block's Riemann sum, from one forward and one backward
    (at α = 1 nothing is scaled, so each block's gradient is ordinary backpropagation)."""
    held: list[Tensor] = []

    def keep_input(_m: nn.Module, args: tuple[Any, ...]) -> None:
        held.append(args[0])

    def graph_from_embeddings(_m: nn.Module, _args: tuple[Any, ...], out: Tensor) -> Tensor:
        return out.detach().requires_grad_()  # every activation enters the graph, frozen weights or not

    handles = [
        mlp_projections(layer)[2].register_forward_pre_hook(keep_input) for layer in decoder_layers(model)
    ]
    handles.append(model.get_input_embeddings().register_forward_hook(graph_from_embeddings))
    try:
        with torch.enable_grad():
            logits, target, _ = answer_logits(model, batch, share_prefix=False)
            objective = -F.cross_entropy(upcast(logits), target, reduction="sum")
            grads = torch.autograd.grad(objective, held)
    finally:
        for h in handles:
            h.remove()
    return torch.stack([upcast(x.detach() * g).sum(dim=(0, 1)) for x, g in zip(held, grads, strict=True)])


def integrated_gradients(
    model: nn.Module, batch: Batch, steps: int, *, clean_point_by_backprop: bool = True
) -> Tensor:
    """``[L, I]``: per block, the integrated gradient of Σ answer-token log-probs w.r.t. the
    down-projection inputs (all positions scaled together, 0 → β, right Riemann sum), summed over
    the batch and positions. Each point α < 1 re-runs the blocks from the scaled one onwards; with
    ``clean_point_by_backprop`` the last point (α = 1) of every block comes from one clean backward
    (the same value, ``benchmarks/simu_attribution.py`` times both)."""
    layers = decoder_layers(model)
    if clean_point_by_backprop:
        total, last = clean_gradient_times_input(model, batch), steps - 1
    else:
        weight = mlp_projections(layers[0])[2].weight
        shape, dtype = (len(layers), weight.shape[1]), upcast(weight.detach()).dtype
        total, last = torch.zeros(shape, dtype=dtype, device=weight.device), steps
    if last == 0:
        return total
    inputs = capture_block_inputs(model, batch)
    cols, target, valid = answer_columns(batch["labels"])
    for li, layer in enumerate(layers):
        down = mlp_projections(layer)[2]
        for s in range(1, last + 1):
            alpha = s / steps
            held: list[Tensor] = []

            def pre_hook(
                _m: nn.Module, args: tuple[Any, ...], alpha: float = alpha, held: list = held
            ) -> Any:
                x = args[0].detach()
                z = (alpha * x).requires_grad_()
                held.extend([x, z])
                return (z, *args[1:])

            handle = down.register_forward_pre_hook(pre_hook)
            try:
                with torch.enable_grad():
                    logits = logits_from_block(model, li, inputs, cols)
                    objective = -F.cross_entropy(upcast(logits[valid]), target[valid], reduction="sum")
                    (grad,) = torch.autograd.grad(objective, held[1])
            finally:
                handle.remove()
            total[li] += upcast(held[0] * grad).sum(dim=(0, 1))
    return total / steps


def critical_neurons(scores: Tensor, threshold: float) -> Tensor:
    """Per block: ``Att > t · max_k Att`` (no neuron of a block whose maximum is ≤ 0)."""
    top = scores.amax(dim=1, keepdim=True)
    return (scores > threshold * top) & (top > 0)


class SIMU(UnlearningMethod):
    """Critical-neuron localisation + masked Sophia GradDiff (see the module docstring)."""

    name = "simu"

    def __init__(
        self,
        *,
        ig_steps: int = 20,
        threshold: float = 0.2,
        retain_weight: float = 1.0,
        rho: float = 0.04,
        beta1: float = 0.965,
        beta2: float = 0.99,
        hessian_interval: int = 10,
        attribution_batch_size: int = 8,
        max_length: int = 256,
    ) -> None:
        self.reject_if(
            ig_steps < 1 or hessian_interval < 1,
            f"ig_steps and hessian_interval must be ≥ 1 (got {ig_steps}, {hessian_interval})",
        )
        self.reject_if(not 0 < threshold <= 1, f"threshold t must be in (0, 1], got {threshold}")
        self.ig_steps, self.threshold = int(ig_steps), float(threshold)
        self.retain_weight = float(retain_weight)
        self.rho, self.betas = float(rho), (float(beta1), float(beta2))
        self.hessian_interval = int(hessian_interval)
        self.optimizer: MaskedSophiaG | None = None
        self._hessian_step = 0
        self._generator: torch.Generator | None = None
        key = (self.ig_steps, attribution_batch_size, max_length)
        #: [L, I] integrated-gradient scores and the critical-neuron selection
        self.scores = self.from_start(key, lambda: self._ig_scores(attribution_batch_size, max_length))
        self.critical = critical_neurons(self.scores, self.threshold)

    def _ig_scores(self, batch_size: int, max_length: int) -> Tensor:
        """Integrated-gradient neuron scores of the model, summed over the forget pairs."""
        model = self.model
        device = model_device(model)
        was_training = model.training
        model.eval()
        total: Tensor | None = None
        for chunk in progress(batched(self.forget, batch_size), desc="SIMU attribution"):
            s = integrated_gradients(
                model, encode(self.tokenizer, chunk, device, max_length), self.ig_steps
            ).cpu()
            total = s if total is None else total + s
        model.train(was_training)
        assert total is not None
        return total

    def parameter_mask(self) -> dict[str, Tensor]:
        names = param_names(self.model)
        trainable: dict[str, Tensor | bool] = {}
        for layer, crit in zip(decoder_layers(self.model), self.critical, strict=True):
            for p in layer.self_attn.parameters():
                trainable[names[id(p)]] = True
            down = mlp_projections(layer)[2]
            trainable[names[id(down.weight)]] = crit.unsqueeze(0).expand_as(down.weight)
        return full_mask(self.model, trainable)

    def optimizer_factory(self) -> Callable[[list[dict[str, Any]], float], torch.optim.Optimizer]:
        by_name = dict(self.model.named_parameters())
        masks = {by_name[n]: m for n, m in self.parameter_mask().items()}

        def factory(groups: list[dict[str, Any]], lr: float) -> torch.optim.Optimizer:
            params = [p for g in groups for p in (g["params"] if isinstance(g, dict) else [g])]
            self.optimizer = MaskedSophiaG(
                groups,
                lr=lr,
                betas=self.betas,
                rho=self.rho,
                masks={p: masks[p] for p in params if p in masks},
            )
            self._hessian_step = 0
            return self.optimizer

        return factory

    def _sampled_labels(self, logits: Tensor) -> Tensor:
        if self._generator is None or self._generator.device != logits.device:
            self._generator = torch.Generator(device=logits.device).manual_seed(self.seed)
        probs = torch.softmax(upcast(logits.detach()), dim=-1)
        return torch.multinomial(probs, 1, generator=self._generator).squeeze(1)

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        logits_f, tgt_f, _ = answer_logits(model, batches["forget"])
        logits_r, tgt_r, _ = answer_logits(model, batches["retain"])
        nll_f = F.cross_entropy(upcast(logits_f), tgt_f)
        nll_r = F.cross_entropy(upcast(logits_r), tgt_r)
        logs = {"forget_nll": nll_f.item(), "retain_nll": nll_r.item()}
        opt = self.optimizer
        if opt is not None and step != self._hessian_step and (step - 1) % self.hessian_interval == 0:
            # Gauss–Newton–Bartlett: gradient of the CE of labels sampled from the model itself
            self._hessian_step = step
            logits = upcast(torch.cat([logits_f, logits_r]))
            sampled_ce = F.cross_entropy(logits, self._sampled_labels(logits))
            params = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
            grads = torch.autograd.grad(sampled_ce, params, retain_graph=True, allow_unused=True)
            opt.update_hessian(
                {p: g for p, g in zip(params, grads, strict=True) if g is not None}, scale=len(logits)
            )
            logs["sampled_ce"] = sampled_ce.item()
        return -nll_f + self.retain_weight * nll_r, logs
