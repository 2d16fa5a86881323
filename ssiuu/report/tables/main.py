"""Tables 1 and 2 of the paper (``table1`` on MCQA-style benchmarks, ``table2`` on ROUGE-style ones): the rows
of :func:`ssiuu.report.table_data.aggregate_table`, rendered by :mod:`ssiuu.report.tables.render` with the
notes of :mod:`ssiuu.report.tables.notes`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ssiuu.report.tables.data import TableData
from ssiuu.report.tables.render import (
    display_table,
    markdown,
    markdown_file,
    tex_text,
    to_latex,
    write_table_files,
)


def write_main_table(
    data: TableData, out_dir: Path, *, style: str, labels: Mapping[str, str] | None
) -> dict[str, Path]:
    """``table1.*`` / ``table2.*``: the numbers (CSV), Markdown and LaTeX (nothing without a ``style`` table)."""
    rows = data.of(style)
    if rows is None:
        return {}
    table, name, title, notes = rows.table, rows.name, rows.title, rows.notes
    md = markdown_file(title, markdown(display_table(table, labels, style=style)), notes)
    disp_tex = display_table(table, labels, latex=True, style=style)
    tex = to_latex(
        disp_tex,
        tex_text(f"{title}. " + " ".join(notes)),
        f"tab:{name}",
        n_text=list(disp_tex.columns).index("Method") + 1,
        group_cols=("Benchmark", "Model"),
    )
    return {f"{name}.{k}": v for k, v in write_table_files(out_dir / name, table, md, tex).items()}
