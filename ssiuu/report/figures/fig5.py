"""Fig. 5: the mean of the top-k D̃+ and D̃− per module type and layer (heatmaps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ssiuu.report.analysis_inputs import analysis_pairs, read_influence
from ssiuu.report.figures import common
from ssiuu.report.results import ResultFiles

MODULE_LABELS = {"q": "Attn Q", "k": "Attn K", "v": "Attn V", "o": "Attn O", "ffn": "FFN"}
MODULE_ORDER = ["q", "k", "v", "o", "ffn"]
#: one row of panels per direction: (sign, symbol, name, colour map)
DIRECTIONS = (
    ("plus", "D̃⁺", "D̃⁺ (positive influence removed)", "Blues"),
    ("minus", "D̃⁻", "D̃⁻ (negative influence added)", "Reds"),
)


def _heatmap(ax: Axes, d: pd.DataFrame, cmap: str, vmax: float, title: str) -> Any:
    """One method's module × layer grid; returns the image (for the colour bar)."""
    grid = d.pivot(index="module", columns="layer", values="value")
    mods = [m for m in MODULE_ORDER if m in grid.index] + sorted(
        m for m in grid.index if m not in MODULE_ORDER
    )
    grid = grid.loc[mods]
    im = ax.imshow(
        grid.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest"
    )
    ax.set_yticks(range(len(mods)), [MODULE_LABELS.get(m, m) for m in mods])
    layers = list(grid.columns)
    step = max(1, len(layers) // 14)
    ax.set_xticks(range(0, len(layers), step), [str(layers[j]) for j in range(0, len(layers), step)])
    ax.set_xlabel("Layer")
    ax.set_title(title)
    return im


def _fig5_row(
    fig: Figure,
    row: Sequence[Axes],
    heat: pd.DataFrame | None,
    direction: tuple[str, str, str, str],
    spec: Mapping[str, Any],
) -> None:
    """One direction of one (benchmark, model): a heatmap per method on a shared colour scale.
    ``spec``: methods, labels, where, top_k, unit."""
    sign, sym, name, cmap = direction
    methods, labels = spec["methods"], spec["labels"]
    if heat is None:
        for ax, method in zip(row, methods, strict=True):
            common.skip_panel(ax, f"{common._label(labels, method)}: {name}", "influence/heatmap.csv missing")
        return
    data = heat[heat["sign"] == sign].groupby(["method", "module", "layer"])["value"].mean().reset_index()
    vmax = float(data[data["method"].isin(methods)]["value"].max()) if not data.empty else 0.0
    vmax = vmax if vmax > 0 else 1.0
    im = None
    for ax, method in zip(row, methods, strict=True):
        title = f"{common._label(labels, method)}: {name}\n{spec['where']}"
        d = data[data["method"] == method]
        if d.empty:
            common.skip_panel(ax, title, f"no heatmap rows for {method}")
            continue
        im = _heatmap(ax, d, cmap, vmax, title)
    if im is not None:
        label = f"mean of top-{spec['top_k']} {sym}\n({spec['unit']})"
        fig.colorbar(im, ax=list(row), shrink=0.9, label=label)


@common._with_style
def fig5_heatmaps(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    attribution_target: str = "prob",
    methods: Sequence[str] = ("GD", "SSIUU"),
    top_k: int = 100,
    labels: Mapping[str, str] | None = None,
    stem: str = "fig5_heatmaps",
) -> list[Path]:
    """Fig. 5: mean of the top-``top_k`` D̃+ (top row) and D̃− (bottom row) per module × layer, one column per
    method, shared colour scale per direction. Two rows per analysed (benchmark, model)."""
    pairs = analysis_pairs(results) or [("", "")]
    fig = common._new_figure(5.2 * len(methods) + 1.0, 2.9 * 2 * len(pairs) + 0.4)
    axes = fig.subplots(2 * len(pairs), len(methods), squeeze=False)
    spec = {
        "methods": methods,
        "labels": labels,
        "top_k": top_k,
        "unit": common.ATTRIBUTION_UNITS[attribution_target],
    }
    for p, (bench, model) in enumerate(pairs):
        influence = results.root / bench / model / "analysis" / "influence"
        heat = read_influence(influence, "heatmap") if bench else None
        for s, direction in enumerate(DIRECTIONS):
            _fig5_row(
                fig, axes[2 * p + s], heat, direction, spec | {"where": common._where(labels, bench, model)}
            )
    fig.suptitle("Fig. 5 — Influence variation per module and layer", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
