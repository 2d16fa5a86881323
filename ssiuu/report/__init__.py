"""Tables 1-2 and Figures 2-7 from cached results (pandas + matplotlib only; never imports torch or a model).

Entry point for the ``report`` rules: :func:`build_report_assets` (or :func:`build_tables` /
:func:`build_figures` separately); :func:`options_from_config` turns a validated config dict into their
keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ssiuu.references import REFERENCE_LABELS
from ssiuu.report.figures import build_figures
from ssiuu.report.tables import ResultError, build_tables, collect_attacks, collect_results

__all__ = [
    "ResultError",
    "build_figures",
    "build_report_assets",
    "build_tables",
    "collect_attacks",
    "collect_results",
    "options_from_config",
]


def options_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`build_report_assets` from a validated config (defaults where keys are absent).

    Labels come from ``models.<key>.label`` and ``benchmarks.<key>.label``; λ-ablation variants are named like
    the DAG names them (``SSIUU-lambda<λ:g>``)."""
    attacks = config.get("attacks", {})
    analysis = config.get("analysis", {})
    labels: dict[str, str] = {}
    for section in ("models", "benchmarks"):
        for key, spec in (config.get(section) or {}).items():
            if isinstance(spec, Mapping) and spec.get("label"):
                labels[key] = str(spec["label"])
    labels |= REFERENCE_LABELS
    enabled = analysis.get("enabled", True)
    return {
        "methods": list(config["methods"]),
        "harmful_lrs": [
            float(x) for x in attacks.get("harmful", {}).get("learning_rates", [1e-5, 5e-6, 1e-6])
        ],
        "benign_lrs": [float(x) for x in attacks.get("benign", {}).get("learning_rates", [1e-5, 1e-6, 1e-7])],
        "harmful_ps": [float(x) for x in attacks.get("harmful", {}).get("fractions", [0.1, 0.3])],
        "labels": labels,
        "lambda_variants": [f"SSIUU-lambda{float(x):g}" for x in analysis.get("lambda_ablation", [])]
        if enabled
        else [],
        "influence_methods": analysis.get("influence_methods"),
        "heatmap_methods": list(analysis.get("heatmap_methods", ["GD", "SSIUU"])),
        "logit_lens_methods": list(analysis.get("logit_lens_methods", ["GD", "SSIUU"])),
        "distribution_methods": analysis.get("distribution_methods"),
        "distribution_attack_p": float(analysis.get("distribution_attack", {}).get("p", 0.1)),
        "lr_sweep_methods": list(analysis.get("lr_sweep_methods", ["GA", "GD"])),
        "top_k": int(analysis.get("top_k", 100)),
        "attribution_target": str(analysis.get("attribution_target", "prob")),
        "confidence": float(attacks.get("confidence_level", 0.95)),
        "n_resamples": int(attacks.get("bootstrap_resamples", 9999)),
        "min_logprob_drop": float(attacks.get("min_logprob_drop", 0.1)),
    }


def build_report_assets(
    results_dir: str | Path,
    out_dir_tables: str | Path,
    out_dir_figures: str | Path,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    lambda_variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    **figure_options: Any,
) -> dict[str, list[Path]]:
    """Write every table (``table1``, ``table2``, ``*_vs_paper``; CSV/MD/TeX) and figure (PNG/PDF).

    ``methods``: main methods (config ``methods``; table rows and Fig. 2 bars). ``harmful_lrs`` /
    ``benign_lrs``: configured attack learning rates — the only ones aggregated into attack scores (sweep
    extras appear only in Fig. 7b, c). ``lambda_variants``: SSIUU ablation method dirs for Fig. 7a (``None``:
    every ``SSIUU-lambda*`` found). ``labels``: display names for benchmark / model / method keys. Remaining
    keyword arguments go to :func:`ssiuu.report.figures.build_figures`. Returns ``{name: [paths]}``."""
    tables = build_tables(
        results_dir,
        out_dir_tables,
        labels,
        methods=methods,
        harmful_lrs=harmful_lrs,
        benign_lrs=benign_lrs,
        harmful_ps=harmful_ps,
    )
    figures = build_figures(
        results_dir,
        out_dir_figures,
        methods=methods,
        harmful_lrs=harmful_lrs,
        benign_lrs=benign_lrs,
        harmful_ps=harmful_ps,
        labels=labels,
        lambda_variants=lambda_variants,
        **figure_options,
    )
    return {name: [path] for name, path in tables.items()} | figures
