"""The ``figures`` command: every entry of :data:`ssiuu.report.figures.FIGURES` drawn from the rule's result
files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssiuu.report.figures import FIGURES
from ssiuu.report.options import ReportOptions, options_from_config
from ssiuu.report.results import ResultFiles


def build_figures(results: ResultFiles, out_dir: str | Path, options: ReportOptions) -> dict[str, list[Path]]:
    """Write every figure of :data:`FIGURES` (``.png`` + ``.pdf``) under ``out_dir``; ``{name: [paths]}``."""
    return {
        name: entry.function()(results, out_dir, **entry.kwargs(options)) for name, entry in FIGURES.items()
    }


def make_figures(config: dict[str, Any], results: Sequence[str], out_dir: str) -> dict[str, list[Path]]:
    """Rule ``figures``: every figure from the given result files."""
    return build_figures(ResultFiles(results), out_dir, options_from_config(config))
