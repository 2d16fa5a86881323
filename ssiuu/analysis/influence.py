"""Influence variations D̃+ and D̃− (Eqs. 2, 4, 5 and App. A) and the tables behind Figures 3 and 5.

With ``A_θ`` the attributions of the model before unlearning and ``A_θ′`` after, per neuron ``i``::

    D+_i = (1/n) Σ_x [ max_k A_θ − max_k max(A_θ′, 0) ]      (Eq. 4 with the over-unlearning correction)
    D−_i = (1/n) Σ_x [ min_k A_θ − min_k A_θ′ ]              (Eq. 5)
    D̃±_i = max(D±_i, 0)                                       (contradictory behaviour clipped)

``max_k max(A, 0) = max(max_k A, 0)``, so the per-example ``max_k``/``min_k`` of
:class:`ssiuu.attribution.AttributionSummary` suffice. ``D̃+`` measures the *decrease of positive influence*
(erasing), ``D̃−`` the *increase of negative influence* (spurious unlearning neurons, hiding).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from ssiuu.attribution import MODULE_TYPES, AttributionSummary

DIRECTIONS = ("positive", "negative")


def _check_comparable(base: AttributionSummary, other: AttributionSummary) -> None:
    if base.module_types != other.module_types:
        raise ValueError(
            f"summaries cover different module types: {base.module_types} vs {other.module_types}"
        )
    for t in base.module_types:
        if base.max[t].shape != other.max[t].shape:
            raise ValueError(
                f"module {t!r}: shapes differ ({tuple(base.max[t].shape)} vs {tuple(other.max[t].shape)}); "
                "attributions must come from the same architecture on the same examples"
            )
    target_a, target_b = base.meta.get("target"), other.meta.get("target")
    if target_a and target_b and target_a != target_b:
        raise ValueError(
            f"one summary differentiates {target_a!r} and the other {target_b!r} (config analysis.attribution_target): "
            "recompute both with the same target"
        )
    sha_a, sha_b = base.meta.get("pairs_sha"), other.meta.get("pairs_sha")
    if sha_a and sha_b and sha_a != sha_b:
        raise ValueError(
            f"the summaries were computed on different (question, answer) pairs ({sha_a} vs {sha_b}): "
            "compute both on the same forget set"
        )


def influence_variation(
    base_attr: AttributionSummary,
    unlearned_attr: AttributionSummary,
    *,
    clip: bool = True,
    over_unlearning_correction: bool = True,
) -> dict[str, dict[str, Tensor]]:
    """``{"positive": {module: D̃+ [n_layers, n_neurons]}, "negative": {module: D̃− [...]}}`` (Eqs. 4, 5, App. A).

    ``clip=False`` / ``over_unlearning_correction=False`` give the uncorrected Eqs. 4 and 5.
    """
    _check_comparable(base_attr, unlearned_attr)
    pos: dict[str, Tensor] = {}
    neg: dict[str, Tensor] = {}
    for t in base_attr.module_types:
        unl_max = unlearned_attr.max[t].float()
        if over_unlearning_correction:
            unl_max = unl_max.clamp_min(0.0)
        d_pos = (base_attr.max[t].float() - unl_max).mean(dim=0)
        d_neg = (base_attr.min[t].float() - unlearned_attr.min[t].float()).mean(dim=0)
        pos[t] = d_pos.clamp_min(0.0) if clip else d_pos
        neg[t] = d_neg.clamp_min(0.0) if clip else d_neg
    return {"positive": pos, "negative": neg}


def _flatten(D: Mapping[str, Tensor] | Tensor) -> Tensor:
    if isinstance(D, Tensor):
        return D.detach().float().flatten()
    ordered = [t for t in MODULE_TYPES if t in D] + sorted(t for t in D if t not in MODULE_TYPES)
    return torch.cat([D[t].detach().float().flatten() for t in ordered])


def cumulative_curve(D: Mapping[str, Tensor] | Tensor, m_max: int) -> pd.DataFrame:
    """Fig. 3b: neurons of all modules and layers sorted by score (descending), cumulative sum of the top m.

    Columns ``m`` (1..min(m_max, n_neurons)) and ``cumulative``.
    """
    if m_max < 1:
        raise ValueError(f"m_max must be >= 1, got {m_max}")
    flat = _flatten(D)
    m = min(m_max, flat.numel())
    top = torch.topk(flat.double(), m, sorted=True).values
    return pd.DataFrame({"m": range(1, m + 1), "cumulative": top.cumsum(0).numpy()})


def top_k_heatmap(D_by_module: Mapping[str, Tensor], k: int = 100) -> pd.DataFrame:
    """Fig. 5: mean of the top-``k`` scores per (module type, layer); all neurons when a layer has fewer than k.

    Columns ``module``, ``layer`` (0-based), ``value``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows = []
    ordered = [t for t in MODULE_TYPES if t in D_by_module] + sorted(
        t for t in D_by_module if t not in MODULE_TYPES
    )
    for t in ordered:
        scores = D_by_module[t].detach().double()
        if scores.dim() != 2:
            raise ValueError(f"module {t!r}: expected [n_layers, n_neurons], got {tuple(scores.shape)}")
        kk = min(k, scores.shape[1])
        means = torch.topk(scores, kk, dim=1).values.mean(dim=1)
        rows += [{"module": t, "layer": layer, "value": float(v)} for layer, v in enumerate(means)]
    return pd.DataFrame(rows, columns=["module", "layer", "value"])


def influence_totals(variation: Mapping[str, Mapping[str, Tensor]], top_m: int = 100) -> pd.DataFrame:
    """Per direction and module (plus ``all``): neuron count, count > 0, total ΣD̃, and the top-``top_m`` sum
    (Fig. 3c uses the top-100 sum over all modules). Columns ``direction, module, n_neurons, n_nonzero, total,
    top_m, top_m_sum``."""
    rows: list[dict[str, Any]] = []
    for direction, by_module in variation.items():
        ordered = [t for t in MODULE_TYPES if t in by_module] + sorted(
            t for t in by_module if t not in MODULE_TYPES
        )
        for name, flat in [(t, _flatten(by_module[t])) for t in ordered] + [("all", _flatten(by_module))]:
            flat = flat.double()
            rows.append(
                {
                    "direction": direction,
                    "module": name,
                    "n_neurons": flat.numel(),
                    "n_nonzero": int((flat > 0).sum()),
                    "total": float(flat.sum()),
                    "top_m": min(top_m, flat.numel()),
                    "top_m_sum": float(torch.topk(flat, min(top_m, flat.numel())).values.sum()),
                }
            )
    return pd.DataFrame(rows)


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    from ssiuu.io import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.9g")
    return path


def save_influence_tables(
    base_summary: AttributionSummary,
    unlearned_summary: AttributionSummary,
    out_dir: str | Path,
    *,
    m_max: int = 10_000,
    k: int = 100,
) -> dict[str, Path]:
    """Write ``cumulative.csv`` (direction, m, cumulative), ``heatmap.csv`` (direction, module, layer, value)
    and ``totals.csv`` (see :func:`influence_totals`, top_m = ``k``) for one base/unlearned pair."""
    out_dir = Path(out_dir)
    variation = influence_variation(base_summary, unlearned_summary)
    curves, maps = [], []
    for direction in DIRECTIONS:
        curve = cumulative_curve(variation[direction], m_max)
        curve.insert(0, "direction", direction)
        curves.append(curve)
        heat = top_k_heatmap(variation[direction], k)
        heat.insert(0, "direction", direction)
        maps.append(heat)
    return {
        "cumulative": _write_csv(pd.concat(curves, ignore_index=True), out_dir / "cumulative.csv"),
        "heatmap": _write_csv(pd.concat(maps, ignore_index=True), out_dir / "heatmap.csv"),
        "totals": _write_csv(influence_totals(variation, top_m=k), out_dir / "totals.csv"),
    }
