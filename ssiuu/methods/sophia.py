"""SophiaG (Liu et al., 2023) with SIMU's triple masking (arXiv 2510.07822, Stage 2).

Per parameter, with gradient g, mask M (True = trainable entry) and its complement M̄:

    m_t = M ⊙ (β₁ m_{t−1} + (1 − β₁) g) + M̄ ⊙ m_{t−1}                   (masked momentum)
    h_t = M ⊙ (β₂ h_{t−1} + (1 − β₂) ĥ) + M̄ ⊙ h_{t−1}   every k steps   (masked curvature)
    θ_t = M ⊙ (θ_{t−1}(1 − η·wd) − η · sign(m_t) · min(|m_t| / (ρ h_t + ε), 1)) + M̄ ⊙ θ_{t−1}

ĥ = B · ĝ ⊙ ĝ is the Gauss–Newton–Bartlett estimate: ĝ is the gradient of the mean cross-entropy of
labels sampled from the model's own distribution over B tokens (the caller computes ĝ and calls
:meth:`MaskedSophiaG.update_hessian`). Same defaults as the reference implementation
(``sophia-opt`` 0.2.2: betas (0.965, 0.99), ρ = 0.04, ε = 1e-15); that package has no masking.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor


class MaskedSophiaG(torch.optim.Optimizer):
    """Clipped diagonal-Newton steps; ``masks[param]`` (bool, same shape) limits every state update."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.965, 0.99),
        rho: float = 0.04,
        weight_decay: float = 0.0,
        eps: float = 1e-15,
        masks: dict[Tensor, Tensor] | None = None,
    ) -> None:
        if lr < 0 or rho < 0 or weight_decay < 0:
            raise ValueError(
                f"MaskedSophiaG: lr, rho and weight_decay must be ≥ 0 (got {lr}, {rho}, {weight_decay})"
            )
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"MaskedSophiaG: betas must be in [0, 1), got {betas}")
        super().__init__(
            params, {"lr": lr, "betas": tuple(betas), "rho": rho, "weight_decay": weight_decay, "eps": eps}
        )
        self.masks = {p: m.to(device=p.device, dtype=torch.bool) for p, m in (masks or {}).items()}
        for p, m in self.masks.items():
            if m.shape != p.shape:
                raise ValueError(
                    f"MaskedSophiaG: mask shape {tuple(m.shape)} != parameter shape {tuple(p.shape)}"
                )

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["hessian"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def update_hessian(self, grads: dict[Tensor, Tensor], scale: float = 1.0) -> None:
        """h ← β₂ h + (1 − β₂) · scale · ĝ², inside the mask; ``grads`` maps parameter → ĝ."""
        for group in self.param_groups:
            beta2 = group["betas"][1]
            for p in group["params"]:
                g = grads.get(p)
                if g is None:
                    continue
                h = self._state(p)["hessian"]
                new = h * beta2 + (1 - beta2) * scale * g * g
                mask = self.masks.get(p)
                h.copy_(new if mask is None else torch.where(mask, new, h))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1 = group["betas"][0]
            lr, rho, wd, eps = group["lr"], group["rho"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state(p)
                state["step"] += 1
                m, h, mask = state["exp_avg"], state["hessian"], self.masks.get(p)
                m_new = m * beta1 + (1 - beta1) * p.grad
                m.copy_(m_new if mask is None else torch.where(mask, m_new, m))
                ratio = (m.abs() / (rho * h + eps)).clamp(max=1.0)
                p_new = p * (1 - lr * wd) if wd else p.clone()
                p_new.addcmul_(m.sign(), ratio, value=-lr)
                p.copy_(p_new if mask is None else torch.where(mask, p_new, p))
        return loss
