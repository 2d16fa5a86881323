"""The report's settings, resolved once from a validated config (:func:`options_from_config`) into one typed
object, :class:`ReportOptions`; a registry entry names the fields its builder takes (``Output.options``).

The config must have passed :func:`ssiuu.config.validate_config`, which fills every default from the schema;
no default is written here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssiuu.layout import variant_name
from ssiuu.references import REFERENCE_LABELS
from ssiuu.report.results import AttackGrid
from ssiuu.report.stats import CellStats


@dataclass(frozen=True)
class ReportOptions:
    """What the tables, figures and claims are built with.

    ``methods``: the main methods (config ``methods``: table rows, Fig. 2 bars, claim 2's family). ``grid``: the
    configured attack learning rates and fractions, the only ones aggregated (the calibration sweep is read on
    its own). ``labels``: display names of benchmark, model and reference keys. ``lambda_variants``: the SSIUU
    ablation's method dirs (Fig. 7a). ``stats``: the intervals' level and resamples (:class:`CellStats`)."""

    methods: tuple[str, ...]
    grid: AttackGrid
    stats: CellStats
    labels: Mapping[str, str]
    lambda_variants: tuple[str, ...] = ()
    influence_methods: tuple[str, ...] = ()
    heatmap_methods: tuple[str, ...] = ("GD", "SSIUU")
    logit_lens_methods: tuple[str, ...] = ("GD", "SSIUU")
    distribution_methods: tuple[str, ...] = ()
    distribution_attack_p: float = 0.1
    calibration_fraction: float = 0.1
    calibration_tolerance: float | None = None
    top_k: int = 100
    attribution_target: str = "prob"


def options_from_config(config: Mapping[str, Any]) -> ReportOptions:
    """:class:`ReportOptions` from a validated config.

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
    methods = tuple(config["methods"])
    return ReportOptions(
        methods=methods,
        grid=AttackGrid(
            attacks["harmful"]["learning_rates"],
            attacks["benign"]["learning_rates"],
            attacks["harmful"]["fractions"],
        ),
        stats=CellStats(float(attacks["confidence_level"]), int(attacks["bootstrap_resamples"])),
        labels=labels | REFERENCE_LABELS,
        lambda_variants=tuple(variant_name("SSIUU", lambda_=x) for x in lambdas),
        influence_methods=tuple(analysis["influence_methods"]) or methods,
        heatmap_methods=tuple(analysis["heatmap_methods"]),
        logit_lens_methods=tuple(analysis["logit_lens_methods"]),
        distribution_methods=tuple(analysis["distribution_methods"]) or methods,
        distribution_attack_p=float(analysis["distribution_attack"]["p"]),
        calibration_fraction=float(analysis["attack_calibration"]["harmful"]["fraction"]),
        calibration_tolerance=float(analysis["attack_calibration"]["damage_tolerance"]),
        top_k=int(analysis["top_k"]),
        attribution_target=str(analysis["attribution_target"]),
    )
