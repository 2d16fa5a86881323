"""Fig. 4: logit-lens accuracy P(gold) > P(distractor) by layer, before and after unlearning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from ssiuu.report.analysis_inputs import analysis_pairs, read_logit_lens
from ssiuu.report.figures import common
from ssiuu.report.results import ResultFiles


def _lens_n(df: pd.DataFrame) -> str:
    """The number of items behind each point: ``n = 10``, ``n = 9–10`` or ``n not recorded``."""
    ns = sorted({int(v) for v in df["n"].dropna()})
    if not ns:
        return "n not recorded"
    n = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
    return n + " forget items" + (f" (1 item = {100 / ns[0]:.3g} %)" if len(ns) == 1 else "")


def _lens_curve(ax: Axes, df: pd.DataFrame, name: str, color: str, seeded: bool) -> None:
    """One model's accuracy by layer; mean ± std band over seeds only where there are ≥ 2 of them."""
    g = df.groupby("layer")["accuracy"].agg(["mean", "std", "count"]).reset_index()
    seeds = int(g["count"].max())
    if seeded:
        name += f", mean ± std over {seeds} seeds" if seeds > 1 else ", one seed"
    ax.plot(g["layer"], 100 * g["mean"], color=color, marker="o", ms=3, lw=1.6, label=name)
    if seeds > 1:
        ax.fill_between(
            g["layer"],
            100 * (g["mean"] - g["std"].fillna(0)),
            100 * (g["mean"] + g["std"].fillna(0)),
            color=color,
            alpha=0.15,
            lw=0,
        )


def _lens_panel(
    ax: Axes, lens: pd.DataFrame | None, method: str, title: str, where: str, labels: Mapping[str, str] | None
) -> None:
    """One method: the original model's and the unlearned model's curves, chance at 50 %."""
    if lens is None:
        common.skip_panel(ax, f"{title}\n{where}", "logit_lens.csv missing")
        return
    sel, base = lens[lens["method"] == method], lens[lens["method"] == "base"]
    if sel.empty:
        common.skip_panel(ax, f"{title}\n{where}", f"no logit-lens rows for {method}")
        return
    if not base.empty:
        _lens_curve(ax, base, "Original model", "0.35", seeded=False)
    color = common.SSIUU_COLOR if method.upper() == "SSIUU" else "#ff7f0e"
    _lens_curve(ax, sel, f"Unlearned ({common._label(labels, method)})", color, seeded=True)
    ax.axhline(50, color="#1f77b4", ls=":", lw=1.5, label="Chance (50 %)")
    ax.set_ylim(0, 100)
    ax.set_xlabel("Layer (0 = embeddings)")
    ax.set_ylabel("Logit-lens accuracy (%)\nP(gold) > P(distractor)")
    ax.set_title(f"{title}: {_lens_n(pd.concat([base, sel]))}\n{where}")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="best")


@common._with_style
def fig4_logit_lens(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    methods: Sequence[str] = ("GD", "SSIUU"),
    labels: Mapping[str, str] | None = None,
    stem: str = "fig4_logit_lens",
) -> list[Path]:
    """Fig. 4: logit-lens accuracy P(gold) > P(distractor) by layer; one panel per method (base model and
    unlearned model, mean over seeds), chance = 50 %, the number n of forget items in each panel's title.
    One row per analysed (benchmark, model); panels lettered (a), (b), … across the figure."""
    pairs = analysis_pairs(results) or [("", "")]
    fig = common._new_figure(4.6 * len(methods) + 0.4, 3.4 * len(pairs) + 0.4)
    axes = fig.subplots(len(pairs), len(methods), squeeze=False)
    for r, (row, (bench, model)) in enumerate(zip(axes, pairs, strict=True)):
        where = common._where(labels, bench, model)
        lens = (
            read_logit_lens(results.root / bench / model / "analysis" / "logit_lens.csv") if bench else None
        )
        for i, (ax, method) in enumerate(zip(row, methods, strict=True)):
            title = f"({chr(97 + r * len(methods) + i)}) {common._label(labels, method)}"
            _lens_panel(ax, lens, method, title, where, labels)
    fig.suptitle("Fig. 4 — Knowledge in intermediate layers (logit lens)", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
