"""``table1_ssiuu_vs`` / ``table2_ssiuu_vs``: SSIUU minus each baseline per attack, paired on the draws and items
both rows score (:func:`ssiuu.report.tables.companions.ssiuu_differences`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ssiuu.report.tables.companions import ssiuu_differences, write_companion
from ssiuu.report.tables.data import TableData


def write_ssiuu_vs(
    data: TableData, out_dir: Path, *, style: str, labels: Mapping[str, str] | None
) -> dict[str, Path]:
    """``<table>_ssiuu_vs.{csv,md,tex}`` beside the ``style`` table (nothing without one)."""
    rows = data.of(style)
    if rows is None:
        return {}
    display, notes = ssiuu_differences(rows.table, labels, data.stats)
    caption = f"{rows.title}: SSIUU minus each baseline, paired"
    return write_companion(out_dir, f"{rows.name}_ssiuu_vs", caption, display, notes)
