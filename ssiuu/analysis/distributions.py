"""Attribution distributions and pre/post-attack correlation (Fig. 6).

The per-neuron quantity (``neuron_scores``), exactly: for every neuron ``i`` of every module type and layer,
the mean over the examples ``x`` of its per-example extreme attributions from Eq. 1,

* ``quantity="max"``:      s_i = (1/n) Σ_x max_k A_{i,k}^{(x,y)}   (salient positive influence)
* ``quantity="min"``:      s_i = (1/n) Σ_x min_k A_{i,k}^{(x,y)}   (salient negative influence)
* ``quantity="extremes"`` (default): both of the above, concatenated — every neuron contributes one positive-side
  and one negative-side value, so the distribution shows both directions of influence (the paper's Fig. 6a shows
  strong negative and positive attributions side by side).

The vector is ordered module type (q, k, v, o, ffn) → layer → neuron (then max block before min block), so
two summaries of the same architecture on the same examples align element by element; Pearson ρ (Fig. 6b) is
computed between those two vectors.

Per example (:func:`per_example_correlation`, ``per_example.csv``): for every forget example ``x``, module type
and quantity (``max`` or ``min``, each on its own — correlating the concatenated [max; min] vectors inflates ρ
by the gap between the blocks), Pearson's and Spearman's ρ over the neurons between ``max_k A^{(x)}`` before
and after the attack. These are claim 3's resampling units: examples and attack draws vary between
repetitions of the experiment, neurons do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ssiuu.analysis.influence import _check_comparable, _write_csv
from ssiuu.attribution import AttributionSummary

QUANTITIES = ("extremes", "max", "min")


def neuron_scores(
    summary: AttributionSummary, quantity: str = "extremes", modules: Sequence[str] | None = None
) -> np.ndarray:
    """Flattened per-neuron mean (over examples) of ``max_k A`` / ``min_k A`` / both (see module docstring)."""
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity {quantity!r} is not one of {QUANTITIES}")
    types = [t for t in summary.module_types if modules is None or t in modules]
    if not types:
        raise ValueError(f"no module of {modules} in the summary ({summary.module_types})")
    parts = []
    if quantity in ("extremes", "max"):
        parts += [summary.max[t].double().mean(dim=0).flatten().numpy() for t in types]
    if quantity in ("extremes", "min"):
        parts += [summary.min[t].double().mean(dim=0).flatten().numpy() for t in types]
    return np.concatenate(parts)


def attribution_correlation(
    pre: AttributionSummary,
    post: AttributionSummary,
    *,
    quantity: str = "extremes",
    modules: Sequence[str] | None = None,
) -> float:
    """Pearson ρ between the :func:`neuron_scores` of a pre-attack and a post-attack model (Fig. 6b)."""
    _check_comparable(pre, post)
    a, b = neuron_scores(pre, quantity, modules), neuron_scores(post, quantity, modules)
    if a.std() == 0 or b.std() == 0:
        raise ValueError("Pearson correlation is undefined: one of the score vectors is constant")
    return float(np.corrcoef(a, b)[0, 1])


#: the quantities :func:`per_example_correlation` correlates, each on its own
PER_EXAMPLE_QUANTITIES = ("max", "min")
#: examples whose vectors are ranked at once (bounds the memory of the per-example ρ)
_CHUNK = 16


def rowwise_rho(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Pearson, Spearman) ρ of every row of ``a`` with the same row of ``b`` (``scipy.stats.pearsonr`` on the
    values and on their mid-ranks, ``scipy.stats.rankdata``, which is Spearman's ρ); NaN where a row is
    constant."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"rows of different shapes: {a.shape} and {b.shape}")

    def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        constant = (x.max(axis=1) == x.min(axis=1)) | (y.max(axis=1) == y.min(axis=1))
        out = np.full(x.shape[0], np.nan)
        if (~constant).any():
            out[~constant] = stats.pearsonr(x[~constant], y[~constant], axis=1).statistic
        return out

    return pearson(a, b), pearson(stats.rankdata(a, axis=1), stats.rankdata(b, axis=1))


def per_example_correlation(pre: AttributionSummary, post: AttributionSummary) -> pd.DataFrame:
    """Per example, module type and quantity (``max``, ``min``): Pearson and Spearman ρ over the neurons
    (every layer of the module type) between ``pre`` and ``post`` (module docstring). Columns ``item`` (the
    example's index in the forget set), ``module, quantity, n_values, pearson_r, spearman_r``."""
    _check_comparable(pre, post)
    if pre.n_examples != post.n_examples:
        raise ValueError(f"pre has {pre.n_examples} examples, post {post.n_examples}: not the same examples")
    frames = []
    for module in pre.module_types:
        for quantity in PER_EXAMPLE_QUANTITIES:
            a_all, b_all = getattr(pre, quantity)[module], getattr(post, quantity)[module]
            n = a_all.shape[0]
            for start in range(0, n, _CHUNK):
                a = a_all[start : start + _CHUNK].double().flatten(1).numpy()
                b = b_all[start : start + _CHUNK].double().flatten(1).numpy()
                pearson, spearman = rowwise_rho(a, b)
                frames.append(
                    pd.DataFrame(
                        {
                            "item": np.arange(start, start + a.shape[0]),
                            "module": module,
                            "quantity": quantity,
                            "n_values": a.shape[1],
                            "pearson_r": pearson,
                            "spearman_r": spearman,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def save_per_example_table(frame: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``per_example.csv``: ``method, seed, draw, item, module, quantity, n_values, pearson_r,
    spearman_r`` (:func:`per_example_correlation` of every method, seed and attack draw)."""
    columns = ["method", "seed", "draw", "item", "module", "quantity", "n_values", "pearson_r", "spearman_r"]
    return _write_csv(frame[columns], Path(out_dir) / "per_example.csv")


def attribution_histograms(
    summaries: Mapping[str, AttributionSummary],
    *,
    bins: int = 101,
    quantity: str = "extremes",
    value_range: tuple[float, float] | None = None,
    range_quantile: float = 0.999,
) -> pd.DataFrame:
    """Fig. 6a: histograms of :func:`neuron_scores` per model on shared bin edges.

    The default range is symmetric, ``±`` the ``range_quantile`` quantile of ``|score|`` pooled over all models.
    Values outside it are in no bin (piling them into the edge bins would draw spikes there): ``n_below`` and
    ``n_above`` count them, so ``count`` + ``n_below`` + ``n_above`` sum to a model's number of values.
    Columns ``model, bin, bin_left, bin_right, count, density, n_below, n_above`` (density = count / total /
    bin width, so the densities of a model integrate to its in-range fraction).
    """
    if not summaries:
        raise ValueError("attribution_histograms needs at least one summary")
    scores = {name: neuron_scores(s, quantity) for name, s in summaries.items()}
    if value_range is None:
        r = float(np.quantile(np.abs(np.concatenate(list(scores.values()))), range_quantile))
        r = r if r > 0 else 1.0
        value_range = (-r, r)
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"value_range must have hi > lo, got {value_range}")
    edges = np.linspace(lo, hi, bins + 1)
    width = edges[1] - edges[0]
    frames = []
    for name, vals in scores.items():
        counts, _ = np.histogram(vals, bins=edges)
        frames.append(
            pd.DataFrame(
                {
                    "model": name,
                    "bin": np.arange(bins),
                    "bin_left": edges[:-1],
                    "bin_right": edges[1:],
                    "count": counts,
                    "density": counts / max(len(vals), 1) / width,
                    "n_below": int((vals < lo).sum()),
                    "n_above": int((vals > hi).sum()),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def attribution_stats(
    summaries: Mapping[str, AttributionSummary], *, quantity: str = "extremes"
) -> pd.DataFrame:
    """Summary statistics of :func:`neuron_scores` per model. Columns ``model, n, mean, std, min, q01, q25,
    median, q75, q99, max, frac_negative``."""
    rows = []
    for name, s in summaries.items():
        v = neuron_scores(s, quantity)
        q = np.quantile(v, [0.01, 0.25, 0.5, 0.75, 0.99])
        rows.append(
            {
                "model": name,
                "n": v.size,
                "mean": v.mean(),
                "std": v.std(),
                "min": v.min(),
                "q01": q[0],
                "q25": q[1],
                "median": q[2],
                "q75": q[3],
                "q99": q[4],
                "max": v.max(),
                "frac_negative": float((v < 0).mean()),
            }
        )
    return pd.DataFrame(rows)


def save_distribution_tables(
    summaries: Mapping[str, AttributionSummary],
    correlations: Sequence[tuple[str, str]],
    out_dir: str | Path,
    *,
    bins: int = 101,
    quantity: str = "extremes",
) -> dict[str, Path]:
    """Write ``histogram.csv`` and ``stats.csv`` for all ``summaries`` (keyed by a model label such as
    ``base``, ``GD``, ``GD+attack``) and ``correlation.csv`` with columns ``pre, post, module, quantity,
    n_values, pearson_r`` for each (pre, post) label pair, over all modules (``module = all``) and per module."""
    out_dir = Path(out_dir)
    rows = []
    for pre, post in correlations:
        for name in (pre, post):
            if name not in summaries:
                raise KeyError(f"correlation pair ({pre!r}, {post!r}): no summary labelled {name!r}")
        a, b = summaries[pre], summaries[post]
        for module in ["all", *a.module_types]:
            mods = None if module == "all" else [module]
            rows.append(
                {
                    "pre": pre,
                    "post": post,
                    "module": module,
                    "quantity": quantity,
                    "n_values": neuron_scores(a, quantity, mods).size,
                    "pearson_r": attribution_correlation(a, b, quantity=quantity, modules=mods),
                }
            )
    return {
        "histogram": _write_csv(
            attribution_histograms(summaries, bins=bins, quantity=quantity), out_dir / "histogram.csv"
        ),
        "stats": _write_csv(attribution_stats(summaries, quantity=quantity), out_dir / "stats.csv"),
        "correlation": _write_csv(
            pd.DataFrame(rows, columns=["pre", "post", "module", "quantity", "n_values", "pearson_r"]),
            out_dir / "correlation.csv",
        ),
    }
