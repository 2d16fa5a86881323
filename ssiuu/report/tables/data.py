"""The numbers every table of one benchmark style is built on, computed once (:class:`TableData`): the rows of
:func:`ssiuu.report.table_data.aggregate_table`, the table's name and title, and its notes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ssiuu.report.options import ReportOptions
from ssiuu.report.paper_values import PAPER_BENCHMARK
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import aggregate_table
from ssiuu.report.tables.notes import table_notes
from ssiuu.report.tables.render import label

log = logging.getLogger(__name__)

#: the table of each benchmark style
TABLE_NAME = {"mcqa": "table1", "rouge": "table2"}


@dataclass(frozen=True)
class StyleTable:
    """Table 1 or 2: ``name`` (``table1``), its numeric rows, title and notes."""

    name: str
    style: str
    table: pd.DataFrame
    title: str
    notes: list[str]


class TableData:
    """What the table builders read: the result files, the report's options, and per benchmark style the
    :class:`StyleTable` (aggregated on first use, shared by the table and its companions)."""

    def __init__(self, results: ResultFiles, options: ReportOptions) -> None:
        self.results, self.options = results, options
        self._tables: dict[str, StyleTable | None] = {}

    @property
    def stats(self) -> CellStats:
        return self.options.stats

    def of(self, style: str) -> StyleTable | None:
        """The ``style`` table, or None where no benchmark of that style has results (logged)."""
        if style not in self._tables:
            self._tables[style] = self._aggregate(style)
        return self._tables[style]

    def _aggregate(self, style: str) -> StyleTable | None:
        opts, name = self.options, TABLE_NAME[style]
        table = aggregate_table(self.results, style, methods=opts.methods, grid=opts.grid, stats=opts.stats)
        if table.empty:
            log.info("no %s-style benchmark in %s: %s not written", style, self.results, name)
            return None
        paper_name = PAPER_BENCHMARK[style]
        benches = ", ".join(label(opts.labels, b) for b in dict.fromkeys(table["benchmark"]))
        style_note = "" if f"{paper_name}-style" in benches else f" ({paper_name}-style)"
        title = f"Table {name[-1]}: results on {benches}{style_note}"
        return StyleTable(name, style, table, title, table_notes(style, table, opts.grid, opts.stats))
