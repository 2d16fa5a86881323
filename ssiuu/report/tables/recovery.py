"""``table1_recovery`` / ``table2_recovery``: per attacked row and attack, the recovered share and the difference in
differences of the margin against the attacked starting model, the margin's validity and the instrument's separation per model
(:func:`ssiuu.report.tables.companions.recovery_display`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ssiuu.report.table_data import margin_validities, separations
from ssiuu.report.tables.companions import recovery_display, write_companion
from ssiuu.report.tables.data import TableData
from ssiuu.report.tables.render import main_metrics


def write_recovery(
    data: TableData, out_dir: Path, *, style: str, labels: Mapping[str, str] | None
) -> dict[str, Path]:
    """``<table>_recovery.{csv,md,tex}`` beside the ``style`` table (nothing without one)."""
    rows = data.of(style)
    if rows is None:
        return {}
    keys = [k for k in main_metrics(rows.table.columns) if k not in ("FS", "RS", "US")]
    seps, validity = (
        separations(rows.table, keys, data.stats),
        margin_validities(rows.table, keys, data.stats),
    )
    display, notes = recovery_display(rows.table, seps, labels, data.stats, validity)
    caption = f"{rows.title}: the format-free margin against the attacked starting model"
    return write_companion(out_dir, f"{rows.name}_recovery", caption, display, notes)
