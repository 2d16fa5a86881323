"""Rendering of the tables: cell strings, Markdown (tabulate), booktabs LaTeX and the CSV/MD/TeX files."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ssiuu.io import write_text

MAIN_METRIC = re.compile(r"^(FS|RS|US|benign|harmful_p[0-9.]+)$")
METRIC_HEAD = {"FS": "FS (↓)", "RS": "RS (↑)", "US": "US (↑)"}
METRIC_HEAD_TEX = {"FS": r"FS ($\downarrow$)", "RS": r"RS ($\uparrow$)", "US": r"US ($\uparrow$)"}
#: what RS is, per benchmark style, in the column header (Table 1: test accuracy; Table 2: retain ROUGE-L)
RS_HEAD = {"mcqa": "RS test acc.", "rouge": "RS retain"}
TEXT_COLUMNS = {"Benchmark", "Model", "Method", "Source", "Attack"}
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_SYMBOLS = {"±": r"$\pm$", "†": r"$^\dagger$", "×": r"$\times$", "≥": r"$\geq$", "–": "--"}


# --------------------------------------------------------------------------------------------- cells
def fmt_cell(
    value: float,
    low: float = math.nan,
    high: float = math.nan,
    n: int | None = None,
    *,
    latex: bool = False,
    digits: int = 1,
) -> str:
    """``58.4 [52.1, 64.0] n=60``: the value, its confidence interval where defined, and n; missing → ``–``."""
    if pd.isna(value):
        return "--" if latex else "–"
    s = f"{value:.{digits}f}"
    if not (pd.isna(low) or pd.isna(high)):
        s += f" [{low:.{digits}f}, {high:.{digits}f}]"
    if n is not None and not pd.isna(n):
        s += f" n={int(n)}"
    return s


def metric_cell(row: pd.Series, metric: str, latex: bool) -> str:
    """:func:`fmt_cell` of ``metric`` from the row's ``metric``, ``_low``, ``_high`` and ``_n`` columns."""
    return fmt_cell(row[metric], row[f"{metric}_low"], row[f"{metric}_high"], row[f"{metric}_n"], latex=latex)


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_ESCAPES.get(c, c) for c in str(text))


def tex_text(text: str) -> str:
    """Escape prose for LaTeX and turn the few Unicode symbols used in notes into math."""
    out = latex_escape(text)
    for u, t in _TEX_SYMBOLS.items():
        out = out.replace(u, t)
    return out


def label(labels: Mapping[str, str] | None, key: str) -> str:
    """The display name of a benchmark / model / method key (the key itself without one)."""
    return str((labels or {}).get(key, key))


def attack_display(key: str) -> str:
    """``harmful_p0.1`` → ``Harmful p=0.1``; ``benign`` → ``Benign``."""
    if key == "benign":
        return "Benign"
    return f"Harmful p={key.removeprefix('harmful_p')}"


def main_metrics(columns: Iterable[str]) -> list[str]:
    """The score columns of a table (FS, RS, US, harmful_p<p>, benign), without their companions."""
    return [c for c in columns if MAIN_METRIC.match(c)]


def metric_head(metric: str, style: str | None, latex: bool) -> str:
    """Column header of a score: ``FS (↓)``, ``RS test acc. (↑)``, ``Harmful p=0.1 (↓)``, …"""
    head = (METRIC_HEAD_TEX if latex else METRIC_HEAD).get(
        metric, attack_display(metric) + ("" if latex else " (↓)")
    )
    return head.replace("RS", RS_HEAD[style], 1) if metric == "RS" and style else head


def method_mark(method: str, row: pd.Series, latex: bool) -> str:
    """The method label, with † when some seed did not reach the early-stopping threshold and ‡ when the
    unlearned model is degraded (:func:`ssiuu.report.aggregate.degraded`)."""
    if not pd.isna(row["n_converged"]) and row["n_converged"] < row["n_seeds"]:
        method += r"$^\dagger$" if latex else " †"
    if bool(row.get("degraded", False) is True):
        method += r"$^\ddagger$" if latex else " ‡"
    return method


def display_table(
    table: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    latex: bool = False,
    style: str | None = None,
) -> pd.DataFrame:
    """Formatted strings: [Benchmark,] Model, Method, Stop FS, FS, RS, US, Harmful p=…, Benign (``value [CI] n=…``)."""
    metrics = main_metrics(table.columns)
    multi_bench = table["benchmark"].nunique() > 1
    has_stop = "stop_fs" in table.columns
    esc = latex_escape if latex else str
    out = []
    for _, r in table.iterrows():
        method = method_mark(esc(label(labels, r["method"])), r, latex)
        row = {}
        if multi_bench:
            row["Benchmark"] = esc(label(labels, r["benchmark"]))
        row |= {"Model": esc(label(labels, r["model"])), "Method": method}
        if has_stop:  # where unlearning stopped: the first step at or below τ, mean over seeds
            row["Stop FS"] = "–" if pd.isna(r["stop_fs"]) else f"{r['stop_fs']:.1f}"
        for x in metrics:
            row[metric_head(x, style, latex)] = metric_cell(r, x, latex)
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------- files
def _latex_header(cols: Sequence[str]) -> list[str]:
    """The two header lines (the second and its rule only when there are harmful-attack columns)."""
    harm = [c for c in cols if c.startswith("Harmful p=")]
    top, sub = [], []
    i = 0
    while i < len(cols):
        c = cols[i]
        if c in harm:
            top.append(rf"\multicolumn{{{len(harm)}}}{{c}}{{Harmful Attack ($\downarrow$)}}")
            sub += [f"$p = {h.removeprefix('Harmful p=')}$" for h in harm]
            i += len(harm)
            continue
        top.append("Benign Attack ($\\downarrow$)" if c == "Benign" else c)
        sub.append("")
        i += 1
    lines = [" & ".join(top) + r" \\"]
    if harm:
        start = list(cols).index(harm[0]) + 1
        lines.append(rf"\cmidrule(lr){{{start}-{start + len(harm) - 1}}}")
        lines.append(" & ".join(sub) + r" \\")
    return lines


def _latex_body(display: pd.DataFrame, group_cols: Sequence[str]) -> list[str]:
    """One line per row; repeated values of ``group_cols`` blanked, a rule between groups."""
    cols = list(display.columns)
    group_cols = [c for c in group_cols if c in cols]
    lines, prev_group = [], None
    for _, r in display.iterrows():
        group = tuple(r[c] for c in group_cols)
        cells = [str(r[c]) for c in cols]
        if group == prev_group:
            for j in range(len(group_cols)):
                cells[j] = ""
        elif prev_group is not None:
            lines.append(r"\midrule")
        prev_group = group
        lines.append(" & ".join(cells) + r" \\")
    return lines


def to_latex(
    display: pd.DataFrame, caption: str, label: str, *, n_text: int, group_cols: Sequence[str] = ()
) -> str:
    """booktabs LaTeX with the paper's two-level header (Harmful Attack spanning its p columns). The first
    ``n_text`` columns are left-aligned text; repeated values of ``group_cols`` are blanked, groups separated."""
    cols = list(display.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{" + "l" * n_text + "r" * (len(cols) - n_text) + "}",
        r"\toprule",
        *_latex_header(cols),
        r"\midrule",
        *_latex_body(display, group_cols),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


def markdown(display: pd.DataFrame) -> str:
    """GitHub Markdown via tabulate: text columns left-, score columns right-aligned, strings kept verbatim."""
    align = ["left" if c in TEXT_COLUMNS else "right" for c in display.columns]
    return display.to_markdown(index=False, disable_numparse=True, colalign=align)


def markdown_file(title: str, body: str, notes: Sequence[str], quote: str | None = None) -> str:
    """A Markdown table file: title, optional quote, the table, one bullet per note."""
    head = [f"# {title}", ""] + ([f"> {quote}", ""] if quote else [])
    return "\n".join([*head, body, "", *[f"- {n}" for n in notes], ""])


def write_table_files(stem: Path, numeric: pd.DataFrame, md: str, tex: str) -> dict[str, Path]:
    """``<stem>.csv`` (the numbers, 4 decimals; no cell objects), ``.md`` and ``.tex``; returns the paths."""
    paths = {ext: stem.with_suffix(f".{ext}") for ext in ("csv", "md", "tex")}
    numeric = numeric[[c for c in numeric.columns if not str(c).endswith("_cell")]]
    write_text(paths["csv"], numeric.to_csv(index=False, float_format="%.4f"))
    write_text(paths["md"], md)
    write_text(paths["tex"], tex)
    return paths
