"""SSIUU: Suppressing Spurious Unlearning Neurons for Robust Unlearning (Algorithm 1, Eq. 3, 6–14).

Objective at step t (Eq. 6/8 with the batch aggregation of Algorithm 1, lines 4–13):

    J(φ) = L_GD(φ) + λ Σ_{i ∈ I⁻} (A_{t−1,i} − A_{t,i}(φ))²,     A_{t,i}(φ) = φ_i · ∂P/∂φ_i  (Eq. 12)

P = Σ_{(x,y) ∈ forget batch} P_φ(y|x), the answer probability exp(Σ answer-token log-probs)
(``attribution_target="logprob"`` uses Σ log P instead); every trainable scalar parameter is a
feature; I⁻ = {i : A_{t,i} < 0} and A_{t−1} (the previous step's attribution) are constants; the
term is 0 at t = 1. L_GD = −NLL(forget) + retain_weight · NLL(retain). The gradient (Eq. 14) is

    ∇J = ∇L_GD + c + H v,   c = 2λ m ⊙ Δ ⊙ g,  v = 2λ m ⊙ Δ ⊙ φ,  Δ = A_t − A_{t−1},  m = 1[A_t < 0],

with g = ∇P and H = ∇²P. ``loss()`` returns a surrogate scalar whose *value* is J and whose
*gradient* is ∇J, so the shared training loop just calls ``backward()``:

* ``hvp="exact"`` — g comes from a ``create_graph`` backward of P; the surrogate is
  ``L_GD + ⟨g, v⟩ + ⟨c, φ⟩`` (c, v detached), so the loop's single backward pass yields ∇L_GD and
  the Hessian-vector product H v (double backward) together. Double backward needs attention whose
  backward is differentiable: eager, or SDPA on its math kernel (this mode forces the math kernel
  for its forward pass; SDPA's CPU flash kernel, flash-attention-2 and flex attention on CPU have
  no double backward).
* ``hvp="finite_difference"`` — H v ≈ (∇P(φ + εv) − ∇P(φ)) / ε (``fd_scheme="forward"``, one extra
  forward+backward of the forget batch) or (∇P(φ + εv) − ∇P(φ − εv)) / 2ε (``"central"``, two);
  only first-order autograd, so any attention kernel works. ε = fd_eps / max_i |2λ m_i Δ_i|, i.e.
  no parameter moves by more than a fraction fd_eps of itself (default √u forward, ∛u central,
  u = machine epsilon of the parameter dtype, at least float32's). Use float32 parameters for this
  mode: in bf16/fp16 the perturbation is lost to rounding.

Both modes take P and the forget NLL from one forward pass of the forget batch.
With gradient accumulation, every micro-batch of step t is compared with the attribution of the last
micro-batch of step t − 1.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ssiuu.forward import Batch, activation_checkpointing, answer_nll, mean_nll, sequence_logprobs
from ssiuu.methods.base import LossOutput, MethodConfigError, UnlearningMethod

HVP_MODES = ("exact", "finite_difference")
ATTRIBUTION_TARGETS = ("prob", "logprob")
FD_SCHEMES = ("forward", "central")
#: attention implementations whose backward is itself differentiable (exact HVP); SDPA runs on its
#: math kernel inside the loss.
DOUBLE_BACKWARD_ATTN = ("eager", "sdpa")


def math_sdpa() -> contextlib.AbstractContextManager[Any]:
    """Force SDPA onto its (twice-differentiable) math kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH])


def attribution_objective(seq_logprobs: Tensor, target: str) -> Tensor:
    """P of Eq. 12 summed over the batch: Σ exp(log P(y|x)) (``prob``) or Σ log P(y|x) (``logprob``)."""
    return seq_logprobs.exp().sum() if target == "prob" else seq_logprobs.sum()


@torch.no_grad()
def negative_delta(attribution: list[Tensor], prev: list[Tensor]) -> tuple[list[Tensor], float, int]:
    """``(mΔ, ‖mΔ‖², |I⁻|)``: mΔ = 1[A_t < 0] ⊙ (A_t − A_{t−1}), one parameter tensor at a time."""
    masked_delta, squares, n_negative = [], 0.0, 0
    for a, b in zip(attribution, prev, strict=True):
        negative = a < 0  # (masked_fill/where on model-sized tensors are several times slower)
        n_negative += int(torch.count_nonzero(negative))
        c = torch.sub(a, b).mul_(negative)
        squares += float(torch.linalg.vector_norm(c)) ** 2
        masked_delta.append(c)
    return masked_delta, squares, n_negative


class _CoefDot(torch.autograd.Function):
    """Stands for ``Σ coef ⊙ φ ⊙ g`` with coef = k · c constant: backward gives (coef ⊙ g, coef ⊙ φ) and
    nothing param-sized is computed in forward (the value is irrelevant: returns 0).

    With g = ∇P built by a ``create_graph`` backward, the gradient w.r.t. φ is coef ⊙ g + H (coef ⊙ φ)."""

    @staticmethod
    def forward(ctx: Any, p: Tensor, g: Tensor, c: Tensor, k: float) -> Tensor:
        ctx.save_for_backward(p, g, c)
        ctx.k = k
        return p.new_zeros(())

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None, None]:
        p, g, c = ctx.saved_tensors
        k = ctx.k * float(grad)
        dp, dg = torch.mul(c, g), torch.mul(c, p)
        if k != 1.0:
            dp.mul_(k)
            dg.mul_(k)
        return dp, dg, None, None


class _InjectGrad(torch.autograd.Function):
    """A zero scalar whose gradient w.r.t. φ is the given tensor (times the incoming gradient)."""

    @staticmethod
    def forward(ctx: Any, p: Tensor, extra: Tensor) -> Tensor:
        ctx.save_for_backward(extra)
        return p.new_zeros(())

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (extra,) = ctx.saved_tensors
        return (extra if float(grad) == 1.0 else extra * grad), None


class SSIUU(UnlearningMethod):
    """GD + attribution regulariser; see the module docstring. ``lambda_`` is λ (FaithUn 1e-3, TOFU 1e-4)."""

    name = "ssiuu"

    def __init__(
        self,
        *,
        lambda_: float = 1e-3,
        retain_weight: float = 1.0,
        attribution_target: str = "prob",
        hvp: str = "exact",
        fd_scheme: str = "forward",
        fd_eps: float | None = None,
    ) -> None:
        self.reject_if(hvp not in HVP_MODES, f"hvp must be one of {HVP_MODES}, got {hvp!r}")
        self.reject_if(
            attribution_target not in ATTRIBUTION_TARGETS,
            f"attribution_target must be one of {ATTRIBUTION_TARGETS}, got {attribution_target!r}",
        )
        self.reject_if(
            fd_scheme not in FD_SCHEMES, f"fd_scheme must be one of {FD_SCHEMES}, got {fd_scheme!r}"
        )
        self.reject_if(
            lambda_ < 0 or (fd_eps is not None and fd_eps <= 0),
            f"lambda_ must be ≥ 0 and fd_eps > 0 (got {lambda_}, {fd_eps})",
        )
        # under activation checkpointing the recomputation of a checkpointed block inside the double
        # backward does not match the saved tensors and torch aborts the step (benchmarks/gpu_memory.py)
        self.reject_if(
            hvp == "exact" and lambda_ > 0 and activation_checkpointing(self.model),
            "hvp: exact cannot run with gradient checkpointing (its double backward re-enters the checkpointed "
            "blocks); set method_params.SSIUU.hvp: finite_difference or gradient_checkpointing: false",
        )
        self.lam = float(lambda_)
        self.retain_weight = float(retain_weight)
        self.attribution_target = attribution_target
        self.hvp = hvp
        self.fd_scheme = fd_scheme
        self.fd_eps = fd_eps
        self._step = 0
        self._prev: list[Tensor] | None = None  # A_{t−1}
        self._latest: list[Tensor] | None = None  # A of the latest call

    @staticmethod
    def required_attn_implementation(params: dict[str, Any] | None = None) -> str | None:
        """Exact HVP needs a twice-differentiable attention: SDPA (run on its math kernel) or eager."""
        return "sdpa" if (params or {}).get("hvp", "exact") == "exact" else None

    @property
    def previous_attribution(self) -> list[Tensor] | None:
        """A_{t−1}: the stored attribution the current step compares against (read-only)."""
        return self._prev

    def reset(self) -> None:
        self._step, self._prev, self._latest = 0, None, None

    def _advance(self, step: int) -> None:
        if step <= 1 or step < self._step:  # a new training run
            self.reset()
        if step != self._step:
            self._prev, self._step = self._latest, step

    def _check_attention(self, model: nn.Module) -> None:
        impl = getattr(getattr(model, "config", None), "_attn_implementation", None)
        if impl is not None and impl not in DOUBLE_BACKWARD_ATTN:
            raise MethodConfigError(
                f"ssiuu hvp='exact' needs double backward through attention, which {impl!r} lacks; load the "
                "model with attn_implementation='sdpa' (math kernel) or 'eager', or use hvp='finite_difference'"
            )

    def _fd_eps(self, dtype: torch.dtype) -> float:
        if self.fd_eps is not None:
            return self.fd_eps
        # HF models round norms and softmax to float32 whatever the parameter dtype
        u = max(torch.finfo(dtype).eps, torch.finfo(torch.float32).eps)
        return math.sqrt(u) if self.fd_scheme == "forward" else u ** (1 / 3)

    def _grad_p(
        self, model: nn.Module, names: list[str], params: list[Tensor], batch: Batch, scale: float = 1.0
    ) -> list[Tensor]:
        """scale · ∇P at the given parameter values (a functional call; the module is not modified)."""
        leaves = [p.detach().requires_grad_() for p in params]
        mapping = dict(zip(names, leaves, strict=True))

        def call(**kwargs: Any) -> Any:
            return functional_call(model, mapping, args=(), kwargs=kwargs)

        with torch.enable_grad():
            # the closure hides the model's checkpointing flag, so it is passed on explicitly
            seq, _ = sequence_logprobs(call, batch, share_prefix=not activation_checkpointing(model))  # type: ignore[arg-type]
            objective = attribution_objective(seq, self.attribution_target) * scale
            return list(torch.autograd.grad(objective, leaves, materialize_grads=True))

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        self._advance(step)
        fb, rb = batches["forget"], batches["retain"]
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        names, params = [n for n, _ in named], [p for _, p in named]
        exact = self.hvp == "exact"
        prev = self._prev
        regularise = prev is not None and self.lam > 0
        if prev is not None and [a.shape for a in prev] != [p.shape for p in params]:
            raise RuntimeError(
                "ssiuu: the trainable parameters changed between steps; build a new method object"
            )
        if exact and regularise:
            self._check_attention(model)

        # one forward pass of the forget batch gives both the GD forget term and P
        with math_sdpa() if exact else contextlib.nullcontext():
            seq_f, counts_f = sequence_logprobs(model, fb)
        nll_f = mean_nll(seq_f, counts_f)
        nll_r = answer_nll(model, rb)
        l_gd = -nll_f + self.retain_weight * nll_r
        logs = {"forget_nll": nll_f.item(), "retain_nll": nll_r.item()}
        if self.lam == 0:  # plain GD: no attribution needed
            return l_gd, logs | {"ssiuu_reg": 0.0}
        objective = attribution_objective(seq_f, self.attribution_target)
        # With the log-probability target, −NLL(forget) = P / N (N forget answer tokens), so ∇P also gives the
        # forget term's gradient and the forget graph is walked once (finite differences; the exact HVP's
        # backward walks it anyway).
        reuse = self.attribution_target == "logprob" and not (exact and regularise)
        grads = torch.autograd.grad(
            objective,
            params,
            retain_graph=not reuse,
            create_graph=exact and regularise,
            materialize_grads=True,
        )
        with torch.no_grad():
            attribution = [p.detach() * g.detach() for p, g in zip(params, grads, strict=True)]
        self._latest = attribution
        logs["attribution_objective"] = objective.item()
        forget_scale = 1.0 / float(counts_f.sum().clamp(min=1)) if reuse else 0.0
        retain_term = self.retain_weight * nll_r
        if not regularise:
            if not reuse:
                return l_gd, logs | {"ssiuu_reg": 0.0}
            injected = sum(
                _InjectGrad.apply(p, g.mul_(forget_scale)) for p, g in zip(params, grads, strict=True)
            )
            surrogate = retain_term + injected
            return surrogate - surrogate.detach() + l_gd.detach(), logs | {"ssiuu_reg": 0.0}

        assert prev is not None
        masked_delta, squares, n_negative = negative_delta(attribution, prev)
        reg = squares * self.lam
        two_lam = 2 * self.lam  # coef = 2λ mΔ of Eq. 14; the scalar is folded into the fused ops below
        # the surrogate's terms are 0-valued; their gradients carry the regulariser's gradient
        if exact:
            # ∇_φ Σ_i coef_i φ_i g_i(φ) = coef ⊙ g + H (coef ⊙ φ): the loop's backward does the HVP
            coef = [c.mul_(two_lam) for c in masked_delta]
            surrogate = l_gd + sum(
                _CoefDot.apply(p, g, c, 1.0) for p, g, c in zip(params, grads, coef, strict=True)
            )
        else:
            extra, eps = self._fd_extra(model, names, params, fb, grads, masked_delta)  # coef ⊙ g + H v
            logs["fd_eps"] = eps
            if reuse:  # + ∇(−NLL(forget)) = ∇P / N
                with torch.no_grad():
                    for e, g in zip(extra, grads, strict=True):
                        e.add_(g, alpha=forget_scale)
            base = retain_term if reuse else l_gd
            surrogate = base + sum(_InjectGrad.apply(p, e) for p, e in zip(params, extra, strict=True))
        value = (l_gd + reg).detach()
        logs |= {"ssiuu_reg": reg, "ssiuu_negative_frac": n_negative / sum(p.numel() for p in params)}
        return surrogate - surrogate.detach() + value, logs

    def _fd_extra(
        self,
        model: nn.Module,
        names: list[str],
        params: list[Tensor],
        batch: Batch,
        grads: tuple[Tensor, ...],
        masked_delta: list[Tensor],
    ) -> tuple[list[Tensor], float]:
        """``coef ⊙ g + H v`` (coef = 2λ mΔ, v = coef ⊙ φ), H v by finite differences of ∇P; returns it and ε."""
        two_lam = 2 * self.lam
        top = max(max(-float(lo), float(hi)) for lo, hi in map(torch.aminmax, masked_delta))  # max |mΔ|
        if top == 0.0:
            return [c.mul_(two_lam).mul_(g.detach()) for c, g in zip(masked_delta, grads, strict=True)], 0.0
        eps = self._fd_eps(params[0].dtype) / (two_lam * top)
        step = eps * two_lam  # φ ± εv = φ ± step · mΔ ⊙ φ
        with torch.no_grad():
            shifted = [
                torch.addcmul(p.detach(), c, p.detach(), value=step)
                for p, c in zip(params, masked_delta, strict=True)
            ]
        denom = eps if self.fd_scheme == "forward" else 2 * eps
        out = self._grad_p(model, names, shifted, batch, scale=1 / denom)  # ∇P(φ + εv) / denom
        if self.fd_scheme == "forward":
            with torch.no_grad():
                for o, g in zip(out, grads, strict=True):
                    o.sub_(g.detach(), alpha=1 / denom)
        else:
            with torch.no_grad():
                for t, p, c in zip(shifted, params, masked_delta, strict=True):
                    torch.addcmul(p.detach(), c, p.detach(), value=-step, out=t)
            minus = self._grad_p(model, names, shifted, batch, scale=1 / denom)  # ∇P(φ − εv) / denom
            with torch.no_grad():
                for o, m in zip(out, minus, strict=True):
                    o.sub_(m)
            del minus
        del shifted
        with torch.no_grad():  # + coef ⊙ g
            for o, c, g in zip(out, masked_delta, grads, strict=True):
                o.addcmul_(c, g.detach(), value=two_lam)
        return out, eps
