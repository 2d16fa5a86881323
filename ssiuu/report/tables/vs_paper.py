"""``table1_vs_paper`` / ``table2_vs_paper``: our rows of Tables 1-2 next to the paper's published values
(:mod:`ssiuu.report.paper_values`), one row per method and source."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu.report.paper_values import PAPER_BENCHMARK, SOURCE, paper_table
from ssiuu.report.tables.data import TableData
from ssiuu.report.tables.render import (
    label,
    latex_escape,
    main_metrics,
    markdown,
    markdown_file,
    method_mark,
    metric_cell,
    metric_head,
    tex_text,
    to_latex,
    write_table_files,
)

COMPANIONS = ("_low", "_high", "_n")


def _our_rows(
    table: pd.DataFrame, method: str, metrics: Sequence[str], labels: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    rows = []
    for _, r in table[table["method"] == method].iterrows():
        row = {
            "method": method,
            "source": f"ours ({label(labels, r['model'])})",
            "source_kind": "ours",
            "benchmark": label(labels, r["benchmark"]),
            "n_seeds": r["n_seeds"],
            "n_converged": r["n_converged"],
        }
        for x in metrics:
            row |= {x: r[x]} | {f"{x}{c}": r[f"{x}{c}"] for c in COMPANIONS}
        rows.append(row)
    return rows


def _paper_rows(paper: pd.DataFrame, style: str, method: str, metrics: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for _, q in paper[paper["method"] == method].iterrows():
        row = {
            "method": method,
            "source": q["label"],
            "source_kind": "paper quote",
            "benchmark": PAPER_BENCHMARK[style],
            "n_seeds": math.nan,
            "n_converged": math.nan,
        }
        for x in metrics:
            v = q[x] if x in q.index else None
            row |= {x: math.nan if v is None or pd.isna(v) else float(v)} | {
                f"{x}{c}": math.nan for c in COMPANIONS
            }
        rows.append(row)
    return rows


def vs_paper_table(table: pd.DataFrame, style: str, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Our cells next to the paper's quoted cells: for every method, one row per source — ours (per model) then
    ``paper (Llama-3.2-3B)`` etc. Numeric, percent. Columns: method, source, source_kind (ours | paper quote),
    benchmark, n_seeds, n_converged (NaN for quotes), then each score with _low, _high, _n (NaN for quotes)."""
    paper = paper_table(style)
    metrics = main_metrics(table.columns)
    rows = []
    for method in dict.fromkeys(table["method"]):
        rows += _our_rows(table, method, metrics, labels) + _paper_rows(paper, style, method, metrics)
    return pd.DataFrame(rows)


def _vs_display(
    vs: pd.DataFrame, labels: Mapping[str, str] | None, *, latex: bool, style: str | None = None
) -> pd.DataFrame:
    esc = latex_escape if latex else str
    metrics = main_metrics(vs.columns)
    out = []
    for _, r in vs.iterrows():
        row = {
            "Method": method_mark(esc(label(labels, r["method"])), r, latex),
            "Source": esc(r["source"]),
            "Benchmark": esc(r["benchmark"]),
        }
        for x in metrics:
            row[metric_head(x, style, latex)] = metric_cell(r, x, latex)
        out.append(row)
    return pd.DataFrame(out)


def write_vs_paper(
    data: TableData, out_dir: Path, *, style: str, labels: Mapping[str, str] | None
) -> dict[str, Path]:
    """``table<k>_vs_paper.*``: our rows next to the paper's quoted ones (nothing without a ``style`` table)."""
    rows = data.of(style)
    if rows is None:
        return {}
    table, name, notes, paper_name = rows.table, rows.name, rows.notes, PAPER_BENCHMARK[style]
    vs = vs_paper_table(table, style, labels)
    vs_title = f"Table {name[-1]} next to the paper's published values ({paper_name})"
    quote = (
        f"Rows labelled 'paper (...)' are quoted from {SOURCE}, Table {name[-1]} "
        f"({paper_name}, 3B instruction-tuned models); they are published numbers, not results of this "
        "pipeline, and were obtained on different models and data."
    )
    extra = ["The paper excludes NPO on TOFU (it fails to converge)."] if style == "rouge" else []
    vs_md = markdown_file(
        vs_title, markdown(_vs_display(vs, labels, latex=False, style=style)), [*notes, *extra], quote
    )
    vs_tex = to_latex(
        _vs_display(vs, labels, latex=True, style=style),
        tex_text(f"{vs_title}. {quote} " + " ".join([*notes, *extra])),
        f"tab:{name}_vs_paper",
        n_text=3,
        group_cols=("Method",),
    )
    stem = f"{name}_vs_paper"
    return {f"{stem}.{k}": v for k, v in write_table_files(out_dir / stem, vs, vs_md, vs_tex).items()}
