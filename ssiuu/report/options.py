"""The report's keyword arguments from a validated config (:func:`options_from_config`).

The config must have passed :func:`ssiuu.config.validate_config`, which fills every default from the schema;
no default is written here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssiuu.layout import variant_name
from ssiuu.references import REFERENCE_LABELS
from ssiuu.report.results import AttackGrid
from ssiuu.report.stats import CellStats


def options_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`build_report_assets` from a validated config.

    Labels come from ``models.<key>.label`` and ``benchmarks.<key>.label``; λ-ablation variants are named as the
    DAG names them (:func:`ssiuu.layout.variant_name`)."""
    attacks, analysis = config["attacks"], config["analysis"]
    labels = {
        key: str(spec["label"])
        for section in ("models", "benchmarks")
        for key, spec in config[section].items()
        if spec.get("label")
    }
    lambdas = analysis["lambda_ablation"] if analysis["enabled"] else []
    return {
        "methods": list(config["methods"]),
        "grid": AttackGrid(
            attacks["harmful"]["learning_rates"],
            attacks["benign"]["learning_rates"],
            attacks["harmful"]["fractions"],
        ),
        "labels": labels | REFERENCE_LABELS,
        "lambda_variants": [variant_name("SSIUU", lambda_=x) for x in lambdas],
        "influence_methods": analysis["influence_methods"],
        "heatmap_methods": list(analysis["heatmap_methods"]),
        "logit_lens_methods": list(analysis["logit_lens_methods"]),
        "distribution_methods": analysis["distribution_methods"],
        "distribution_attack_p": float(analysis["distribution_attack"]["p"]),
        "calibration_fraction": float(analysis["attack_calibration"]["harmful"]["fraction"]),
        "calibration_tolerance": float(analysis["attack_calibration"]["damage_tolerance"]),
        "top_k": int(analysis["top_k"]),
        "attribution_target": str(analysis["attribution_target"]),
        "stats": CellStats(float(attacks["confidence_level"]), int(attacks["bootstrap_resamples"])),
    }
