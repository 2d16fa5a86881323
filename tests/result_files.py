"""The result files under a directory, as a report rule would receive them from Snakemake (tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssiuu import layout
from ssiuu.report.options import ReportOptions
from ssiuu.report.results import RESULT_KINDS, AttackGrid, ResultFiles
from ssiuu.report.stats import CellStats

#: The schema's defaults for the report's statistics, and a cheaper bootstrap for tests that only need an interval.
STATS = CellStats(confidence=0.95, n_resamples=9999)
FAST_STATS = CellStats(confidence=0.95, n_resamples=199)


def result_files(root: str | Path) -> ResultFiles:
    """Every file (or analysis directory) under ``root`` that the results layout names."""
    return ResultFiles(str(p) for p in sorted(Path(root).rglob("*")) if layout.kind_of(str(p), RESULT_KINDS))


def report_options(**values: Any) -> ReportOptions:
    """The report's options for the fixtures: GA, GD and SSIUU at their attack learning rates, no labels, the
    schema's statistics; ``values`` replace any of them."""
    base = {
        "methods": ("GA", "GD", "SSIUU"),
        "grid": AttackGrid([1e-5, 1e-6], [1e-5, 1e-7]),
        "stats": STATS,
        "labels": {},
    }
    return ReportOptions(**(base | values))


def card_test_result(test: str, share: float, n: int = 30) -> dict[str, Any]:
    """A synthetic card test result (``layout.TEMPLATES["card_test"]``) of ``n`` items, the first ``share`` of them
    read right; each quantization test carries its own bit width."""
    right = [i < round(share * n) for i in range(n)]
    if test == "logit_lens":  # a share of layers per item, not 0/1
        items = [{"id": f"q{i}", "readable": 0.75 if r else 0.25, "margin": 0.1} for i, r in enumerate(right)]
        extra = {"score_field": "readable", "layers": [{"layer": k} for k in range(4)], "chance": 0.5}
    else:
        items = [{"id": f"q{i}", "correct": r, "margin": float(r)} for i, r in enumerate(right)]
        extra = {"score_field": "correct", "chance": 1 / 3, "group_size": 128, "k": 3}
        extra |= {"bits": int(test[len("quantized_") : -len("bit")])} if test.startswith("quantized_") else {}
        extra |= {"layer": 1, "design": "options"} if test == "probe" else {}
    return {"test": test, "n": n, "items": items} | extra
