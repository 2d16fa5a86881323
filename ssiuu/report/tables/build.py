"""The ``tables`` command: every entry of :data:`ssiuu.report.tables.TABLES` built from the rule's result files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssiuu.report.options import ReportOptions, options_from_config
from ssiuu.report.results import STYLES, ResultError, ResultFiles
from ssiuu.report.tables import TABLES
from ssiuu.report.tables.data import TableData


def build_tables(results: ResultFiles, out_dir: str | Path, options: ReportOptions) -> dict[str, Path]:
    """Write every table of :data:`TABLES` under ``out_dir`` (a table whose benchmark style, or calibration draws,
    the results lack writes nothing). Returns ``{"table1.csv": path, ...}``; :class:`ResultError` where no
    benchmark has results."""
    data, out_dir = TableData(results, options), Path(out_dir)
    if not any(data.of(style) for style in STYLES):
        raise ResultError(f"no benchmark results under {results}: nothing to tabulate")
    written: dict[str, Path] = {}
    for entry in TABLES.values():
        written |= entry.function()(data, out_dir, **entry.kwargs(options))
    return written


def make_tables(config: dict[str, Any], results: Sequence[str], out_dir: str) -> dict[str, Path]:
    """Rule ``tables``: every table from the given result files."""
    return build_tables(ResultFiles(results), out_dir, options_from_config(config))
