"""Tables 1 and 2 of the paper (CSV, Markdown, LaTeX) from cached result JSON files — no torch, no model.

Results layout (``R`` = results dir)::

    R/<benchmark>/<model>/base.json                                   Default row
    R/<benchmark>/<model>/<method>/seed<s>/unlearn.json               one unlearning run
    R/<benchmark>/<model>/<method>/seed<s>/attacks/harmful_p<p>_lr<lr>_run<r>.json
    R/<benchmark>/<model>/<method>/seed<s>/attacks/benign_lr<lr>_run<r>.json

Aggregation (paper §6.2): FS, RS, US are means over unlearning seeds (± sample std when there are ≥ 2).
An attack value of one run is the maximum over the *configured* attack learning rates of that run's ``max_fs``
(itself the maximum FS seen during retraining); the reported value is the mean over runs, pooled over seeds
(± sample std over all seed × run values when there are ≥ 2). Learning rates outside the configured list (the
GA/GD sweep behind Fig. 7b, c) are ignored here. RS is the test-set score on MCQA-style benchmarks (the paper's
Table 1 reports test accuracy) and the retain-set score on ROUGE-style ones (Table 2). JSON holds fractions;
tables show percentages.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu.io import read_json, write_text
from ssiuu.report import paper_values
from ssiuu.report.aggregate import (
    attack_cells_of,
    cell_columns,
    degraded,
    fs_ids,
    lr_matches,
    row_methods,
    score_intervals,
)

log = logging.getLogger(__name__)

STYLES = ("mcqa", "rouge")
TABLE_NAME = {"mcqa": "table1", "rouge": "table2"}
DEFAULT = "Default"
HARMFUL_RE = re.compile(r"^harmful_p(?P<p>[0-9.]+)_lr(?P<lr>[0-9.eE+-]+)_run(?P<run>\d+)\.json$")
BENIGN_RE = re.compile(r"^benign_lr(?P<lr>[0-9.eE+-]+)_run(?P<run>\d+)\.json$")
SEED_RE = re.compile(r"^seed(\d+)$")
MAIN_METRIC = re.compile(r"^(FS|RS|US|benign|harmful_p[0-9.]+)$")


class ResultError(ValueError):
    """A result file is malformed or a required one is missing."""


# --------------------------------------------------------------------------------------------- helpers
def attack_key(kind: str, p: float | None = None) -> str:
    """Column name of an attack: ``harmful_p0.1`` / ``benign``."""
    if kind == "benign":
        return "benign"
    if kind != "harmful" or p is None:
        raise ValueError(f"attack kind must be 'harmful' (with p) or 'benign', got {kind!r}, p={p!r}")
    return f"harmful_p{float(p):g}"


def attack_display(key: str) -> str:
    """``harmful_p0.1`` → ``Harmful p=0.1``; ``benign`` → ``Benign``."""
    if key == "benign":
        return "Benign"
    return f"Harmful p={key.removeprefix('harmful_p')}"


def _score(obj: Mapping[str, Any], key: str, path: Path, *, allow_null: bool = False) -> float:
    if key not in obj:
        raise ResultError(f"{path}: missing key {key!r} (expected a fraction in [0, 1])")
    value = obj[key]
    if value is None and allow_null:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultError(f"{path}: {key!r} must be a number in [0, 1], got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ResultError(
            f"{path}: {key!r} = {value!r} is not a fraction in [0, 1] (scores are stored as fractions; "
            "tables convert to %)"
        )
    return value


def _read(path: Path) -> dict[str, Any]:
    try:
        obj = read_json(path)
    except ValueError as err:  # json.JSONDecodeError
        raise ResultError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(obj, dict):
        raise ResultError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _benchmark_model_dirs(results_dir: Path) -> list[Path]:
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory {results_dir} does not exist; run the pipeline first")
    dirs = sorted(p.parent for p in results_dir.glob("*/*/base.json"))
    if not dirs:
        raise FileNotFoundError(
            f"no {results_dir}/<benchmark>/<model>/base.json found: run the base_eval rules first"
        )
    return dirs


def _run_dirs(bm_dir: Path) -> list[tuple[str, int, Path]]:
    out = []
    for unlearn in sorted(bm_dir.glob("*/seed*/unlearn.json")):
        seed_dir = unlearn.parent
        m = SEED_RE.match(seed_dir.name)
        if m:
            out.append((seed_dir.parent.name, int(m.group(1)), seed_dir))
    return out


# --------------------------------------------------------------------------------------------- loading
def load_base(path: str | Path) -> dict[str, Any]:
    """Validated ``base.json``: the Default row. Returns benchmark, model, style, FS, retain, test, US."""
    path = Path(path)
    obj = _read(path)
    style = obj.get("style")
    if style not in STYLES:
        raise ResultError(f"{path}: 'style' must be one of {STYLES}, got {style!r}")
    row = {
        "benchmark": obj.get("benchmark", path.parent.parent.name),
        "model": obj.get("model", path.parent.name),
        "style": style,
        "FS": _score(obj, "forget_score", path),
        "retain": _score(obj, "retain_score", path),
        "test": _score(obj, "test_score", path, allow_null=True) if "test_score" in obj else math.nan,
        "US": _score(obj, "US", path, allow_null=True),
    }
    if (row["benchmark"], row["model"]) != (path.parent.parent.name, path.parent.name):
        raise ResultError(
            f"{path}: benchmark/model in the file ({row['benchmark']}/{row['model']}) do not match its "
            f"directory ({path.parent.parent.name}/{path.parent.name})"
        )
    if style == "mcqa" and math.isnan(row["test"]):
        raise ResultError(
            f"{path}: MCQA-style results need 'test_score' (Table 1 reports test accuracy as RS)"
        )
    row["RS"] = row["test"] if style == "mcqa" else row["retain"]
    return row


def load_unlearn(path: str | Path, style: str) -> dict[str, Any]:
    """Validated ``unlearn.json`` of ``<method>/seed<s>/``."""
    path = Path(path)
    obj = _read(path)
    method, seed_name = path.parent.parent.name, path.parent.name
    seed = int(SEED_RE.match(seed_name).group(1))  # type: ignore[union-attr]
    if obj.get("method", method) != method:
        raise ResultError(f"{path}: 'method' is {obj.get('method')!r} but the directory says {method!r}")
    if int(obj.get("seed", seed)) != seed:
        raise ResultError(f"{path}: 'seed' is {obj.get('seed')!r} but the directory says {seed}")
    row = {
        "method": method,
        "seed": seed,
        "FS": _score(obj, "forget_score", path),
        "retain": _score(obj, "retain_score", path),
        "test": _score(obj, "test_score", path, allow_null=True) if "test_score" in obj else math.nan,
        "US": _score(obj, "US", path, allow_null=True),
        "converged": bool(obj.get("converged", True)),
        "lr": float(obj["lr"]) if obj.get("lr") is not None else math.nan,
        "steps": obj.get("steps"),
        "lambda": _lambda_of(method, obj.get("params") or {}),
    }
    if style == "mcqa" and math.isnan(row["test"]):
        raise ResultError(
            f"{path}: MCQA-style results need 'test_score' (Table 1 reports test accuracy as RS)"
        )
    row["RS"] = row["test"] if style == "mcqa" else row["retain"]
    return row


def _lambda_of(method: str, params: Mapping[str, Any]) -> float:
    """SSIUU's regularisation weight: ``params['lambda_']`` or the ``-lambda<x>`` suffix of the method name."""
    for key in ("lambda_", "lambda", "lam"):
        if params.get(key) is not None:
            return float(params[key])
    m = re.search(r"-lambda([0-9.eE+-]+)$", method)
    return float(m.group(1)) if m else math.nan


def load_attack(path: str | Path) -> dict[str, Any]:
    """Validated attack JSON; its kind, p, lr and run must agree with the file name."""
    path = Path(path)
    mh, mb = HARMFUL_RE.match(path.name), BENIGN_RE.match(path.name)
    if not (mh or mb):
        raise ResultError(
            f"{path}: not an attack file name (harmful_p<p>_lr<lr>_run<r>.json / benign_lr<lr>_run<r>.json)"
        )
    obj = _read(path)
    kind = "harmful" if mh else "benign"
    m = mh or mb
    if obj.get("kind", kind) != kind:
        raise ResultError(f"{path}: 'kind' is {obj.get('kind')!r} but the file name says {kind!r}")
    for key in ("lr", "run", "max_fs"):
        if key not in obj:
            raise ResultError(f"{path}: missing key {key!r}")
    lr, run = float(obj["lr"]), int(obj["run"])
    if not lr_matches(lr, [float(m.group("lr"))]):
        raise ResultError(f"{path}: 'lr' = {lr:g} but the file name says {m.group('lr')}")
    if run != int(m.group("run")):
        raise ResultError(f"{path}: 'run' = {run} but the file name says {m.group('run')}")
    p = None
    if kind == "harmful":
        if obj.get("p") is None:
            raise ResultError(f"{path}: harmful attack without 'p'")
        p = float(obj["p"])
        if not math.isclose(p, float(m.group("p")), rel_tol=1e-9):
            raise ResultError(f"{path}: 'p' = {p:g} but the file name says {m.group('p')}")
    curve = obj.get("fs_curve") or []
    for point in curve:
        if not (isinstance(point, (list, tuple)) and len(point) == 2):
            raise ResultError(f"{path}: fs_curve entries must be [step, fs] pairs, got {point!r}")
        _score({"fs": point[1]}, "fs", path)
    return {
        "kind": kind,
        "p": p,
        "lr": lr,
        "run": run,
        "max_fs": _score(obj, "max_fs", path, allow_null=True),
        "n_attack": obj.get("n_attack"),
        "key": attack_key(kind, p),
        "path": str(path),
    }


def collect_base(results_dir: str | Path) -> pd.DataFrame:
    """One Default row per (benchmark, model) from ``base.json`` (fractions)."""
    return pd.DataFrame([load_base(d / "base.json") for d in _benchmark_model_dirs(Path(results_dir))])


def collect_attacks(results_dir: str | Path) -> pd.DataFrame:
    """One row per attack file: benchmark, model, method, seed, kind, p, lr, run, key, max_fs (fraction), path."""
    rows = []
    for bm in _benchmark_model_dirs(Path(results_dir)):
        for method, seed, seed_dir in _run_dirs(bm):
            for f in sorted((seed_dir / "attacks").glob("*.json")):
                if not (HARMFUL_RE.match(f.name) or BENIGN_RE.match(f.name)):
                    continue
                rows.append(
                    {"benchmark": bm.parent.name, "model": bm.name, "method": method, "seed": seed}
                    | load_attack(f)
                )
    cols = [
        "benchmark",
        "model",
        "method",
        "seed",
        "kind",
        "p",
        "lr",
        "run",
        "max_fs",
        "n_attack",
        "key",
        "path",
    ]
    return pd.DataFrame(rows, columns=cols)


def attack_run_scores(
    attacks: pd.DataFrame,
    *,
    harmful_lrs: Sequence[float] | None = None,
    benign_lrs: Sequence[float] | None = None,
    harmful_ps: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Per (benchmark, model, method, seed, attack, run): the max over the given learning rates of ``max_fs``.

    ``None`` learning rates = all found. Every run of a (method, seed, attack) must have a result for every given
    learning rate, else :class:`ResultError` names the missing file. Columns: benchmark, model, method, seed, key,
    run, value, n_lrs.
    """
    cols = ["benchmark", "model", "method", "seed", "key", "run", "value", "n_lrs"]
    if attacks.empty:
        return pd.DataFrame(columns=cols)
    df = attacks
    if harmful_ps is not None:
        keep = (df["kind"] == "benign") | df["p"].apply(
            lambda p: p is not None and any(math.isclose(p, q) for q in harmful_ps)
        )
        df = df[keep]
    rows = []
    for (b, m, method, seed, key), grp in df.groupby(
        ["benchmark", "model", "method", "seed", "key"], sort=True
    ):
        wanted = harmful_lrs if key != "benign" else benign_lrs
        if wanted is not None:
            grp = grp[grp["lr"].apply(lambda lr, w=wanted: lr_matches(lr, w))]
            if grp.empty:
                continue  # no configured-lr result at all: reported as missing ("–"), see build_tables
        lrs = sorted({float(x) for x in (wanted if wanted is not None else grp["lr"])})
        for run, rgrp in grp.groupby("run", sort=True):
            missing = [lr for lr in lrs if not lr_matches(lr, rgrp["lr"])]
            if missing:
                kind = "benign" if key == "benign" else key
                raise ResultError(
                    f"{b}/{m}/{method}/seed{seed}: attack {kind} run {run} has no result for learning rate(s) "
                    f"{', '.join(f'{x:.0e}' for x in missing)}; re-run the attack rules (or pass the learning "
                    "rates that were run)"
                )
            rows.append(
                {
                    "benchmark": b,
                    "model": m,
                    "method": method,
                    "seed": seed,
                    "key": key,
                    "run": run,
                    "value": float(rgrp["max_fs"].max()),
                    "n_lrs": len(lrs),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def collect_results(
    results_dir: str | Path,
    *,
    harmful_lrs: Sequence[float] | None = None,
    benign_lrs: Sequence[float] | None = None,
    harmful_ps: Sequence[float] | None = None,
    include_default: bool = True,
    methods: Sequence[str] | None = None,
    attacks: bool = True,
) -> pd.DataFrame:
    """One row per benchmark / model / method / seed (fractions in [0, 1]).

    Columns: benchmark, model, style, method, seed, FS, RS, retain, test, US, converged, lr, steps, lambda,
    and (with ``attacks``) one column per attack (``harmful_p0.1``, ``harmful_p0.3``, ``benign``) = mean over
    runs of the max over ``harmful_lrs`` / ``benign_lrs`` (``None`` = every learning rate found, sweep extras
    included; ``()`` = none) plus ``<attack>_runs`` (number of runs). With ``include_default`` the base model
    is a row with method ``Default`` and seed ``<NA>``. ``methods`` restricts the rows (``None``: all).
    """
    results_dir = Path(results_dir)
    rows = []
    for bm in _benchmark_model_dirs(results_dir):
        base = load_base(bm / "base.json")
        if include_default:
            rows.append(base | {"method": DEFAULT, "seed": pd.NA, "converged": True})
        for method, _seed, seed_dir in _run_dirs(bm):
            if methods is not None and method not in methods:
                continue
            rows.append(
                {"benchmark": base["benchmark"], "model": base["model"], "style": base["style"]}
                | load_unlearn(seed_dir / "unlearn.json", base["style"])
            )
    df = pd.DataFrame(
        rows,
        columns=list(
            dict.fromkeys(
                [
                    "benchmark",
                    "model",
                    "style",
                    "method",
                    "seed",
                    "FS",
                    "RS",
                    "retain",
                    "test",
                    "US",
                    "converged",
                    "lr",
                    "steps",
                    "lambda",
                ]
                + [k for r in rows for k in r]
            )
        ),
    )
    keys: list[str] = []
    if attacks:
        found = collect_attacks(results_dir)
        if methods is not None:
            found = found[found["method"].isin(list(methods))]
        runs = attack_run_scores(found, harmful_lrs=harmful_lrs, benign_lrs=benign_lrs, harmful_ps=harmful_ps)
        keys = sorted(runs["key"].unique(), key=_attack_order) if not runs.empty else []
    if keys:
        per_seed = runs.groupby(["benchmark", "model", "method", "seed", "key"])["value"].agg(
            ["mean", "count"]
        )
        wide = per_seed["mean"].unstack("key")
        counts = per_seed["count"].unstack("key").add_suffix("_runs")
        wide = wide.join(counts).reset_index()
        df = df.merge(wide, on=["benchmark", "model", "method", "seed"], how="left")
    df["seed"] = df["seed"].astype("Int64")
    order = [
        "benchmark",
        "model",
        "style",
        "method",
        "seed",
        "FS",
        "RS",
        "retain",
        "test",
        "US",
        "converged",
        "lr",
        "steps",
        "lambda",
    ]
    extra = [k for k in keys] + [f"{k}_runs" for k in keys]
    return df[[c for c in order if c in df.columns] + extra].reset_index(drop=True)


def _attack_order(key: str) -> tuple[int, float]:
    return (1, 0.0) if key == "benign" else (0, float(key.removeprefix("harmful_p")))


# --------------------------------------------------------------------------------------------- aggregation
def aggregate_table(
    results_dir: str | Path,
    style: str,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    models: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> pd.DataFrame:
    """Numeric table for one benchmark style: a Default row, one row per main method, then the reference row,
    per (benchmark, model). Columns: benchmark, model, method, reference, n_seeds, n_converged; for each metric
    ``X`` in FS, RS, US, harmful_p<p>…, benign: ``X`` (percent), ``X_low`` / ``X_high`` (the confidence
    interval, NaN where undefined) and ``X_n`` (observations); per attack also ``X_recovered`` and ``X_gain``
    (each with _low/_high/_n), ``X_runs``, ``X_drop`` and ``X_stable`` (:mod:`ssiuu.report.aggregate`)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    results_dir = Path(results_dir)
    base = collect_base(results_dir)
    base = base[base["style"] == style]
    if base.empty:
        return pd.DataFrame()
    keys = [attack_key("harmful", p) for p in harmful_ps] + ["benign"]
    attacks = collect_attacks(results_dir)
    attacks = attacks[attacks["benchmark"].isin(set(base["benchmark"]))]
    # every run of a cell must have a result at every configured learning rate (ResultError names the file)
    attack_run_scores(attacks[attacks["method"].isin(list(methods))], harmful_lrs=harmful_lrs, benign_lrs=benign_lrs, harmful_ps=harmful_ps)
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    lrs = {"harmful": harmful_lrs, "benign": benign_lrs}
    model_order = list(models) if models is not None else list(dict.fromkeys(base["model"]))
    rows = []
    for bench in dict.fromkeys(base["benchmark"]):
        for model in model_order:
            bm = results_dir / bench / model
            if not (bm / "base.json").exists():
                continue
            forget_ids = fs_ids(bm / "split.json")
            row = {"benchmark": bench, "model": model, "method": DEFAULT, "reference": False,
                   "n_seeds": pd.NA, "n_converged": pd.NA}
            for x, iv in score_intervals([_read(bm / "base.json")], style, forget_ids, opts).items():
                row |= cell_columns(x, iv)
            rows.append(row)
            default_row = row
            runs = _run_dirs(bm)
            for method in row_methods(methods, style, [m for m, _, _ in runs]):
                dirs = [d for m, _, d in runs if m == method]
                if not dirs:
                    log.warning("%s/%s: no unlearning result for method %s (row left out)", bench, model, method)
                    continue
                results = [_read(d / "unlearn.json") for d in dirs]
                reference = bool(results[0].get("reference"))
                converged = sum(bool(load_unlearn(d / "unlearn.json", style)["converged"]) for d in dirs)
                row = {"benchmark": bench, "model": model, "method": method, "reference": reference,
                       "n_seeds": len(dirs), "n_converged": pd.NA if reference else converged}
                for x, iv in score_intervals(results, style, forget_ids, opts).items():
                    row |= cell_columns(x, iv)
                mine = attacks[(attacks["benchmark"] == bench) & (attacks["model"] == model)
                               & (attacks["method"] == method)]
                row |= attack_cells_of(mine, keys, lrs, opts, min_logprob_drop)
                row["degraded"] = not reference and degraded(row, default_row)
                rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- rendering
def fmt_cell(value: float, low: float = math.nan, high: float = math.nan, n: int | None = None, *,
             latex: bool = False, digits: int = 1) -> str:
    """``58.4 [52.1, 64.0] n=60``: the value, its confidence interval where defined, and n; missing → ``–``."""
    if pd.isna(value):
        return "--" if latex else "–"
    s = f"{value:.{digits}f}"
    if not (pd.isna(low) or pd.isna(high)):
        s += f" [{low:.{digits}f}, {high:.{digits}f}]"
    if n is not None and not pd.isna(n):
        s += f" n={int(n)}"
    return s


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


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(c, c) for c in str(text))


def _label(labels: Mapping[str, str] | None, key: str) -> str:
    return str((labels or {}).get(key, key))


METRIC_HEAD = {"FS": "FS (↓)", "RS": "RS (↑)", "US": "US (↑)"}
METRIC_HEAD_TEX = {"FS": r"FS ($\downarrow$)", "RS": r"RS ($\uparrow$)", "US": r"US ($\uparrow$)"}
#: what RS is, per benchmark style, in the column header (Table 1: test accuracy; Table 2: retain ROUGE-L)
RS_HEAD = {"mcqa": "RS test acc.", "rouge": "RS retain"}


def _head(metric: str, style: str | None, latex: bool) -> str:
    head = (METRIC_HEAD_TEX if latex else METRIC_HEAD).get(
        metric, attack_display(metric) + ("" if latex else " (↓)")
    )
    return head.replace("RS", RS_HEAD[style], 1) if metric == "RS" and style else head


def _dagger(method: str, row: pd.Series, latex: bool) -> str:
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
    """Formatted strings: [Benchmark,] Model, Method, FS, RS, US, Harmful p=…, Benign (``value [CI] n=…``)."""
    metrics = main_metrics(table.columns)
    multi_bench = table["benchmark"].nunique() > 1
    esc = latex_escape if latex else str
    out = []
    for _, r in table.iterrows():
        method = _dagger(esc(_label(labels, r["method"])), r, latex)
        row = {}
        if multi_bench:
            row["Benchmark"] = esc(_label(labels, r["benchmark"]))
        row |= {"Model": esc(_label(labels, r["model"])), "Method": method}
        for x in metrics:
            row[_head(x, style, latex)] = fmt_cell(r[x], r[f"{x}_low"], r[f"{x}_high"], r[f"{x}_n"], latex=latex)
        out.append(row)
    return pd.DataFrame(out)


def main_metrics(columns: Iterable[str]) -> list[str]:
    """The score columns of a table (FS, RS, US, harmful_p<p>, benign), without their companions."""
    return [c for c in columns if MAIN_METRIC.match(c)]


def to_latex(
    display: pd.DataFrame, caption: str, label: str, *, n_text: int, group_cols: Sequence[str] = ()
) -> str:
    """booktabs LaTeX with the paper's two-level header (Harmful Attack spanning its p columns). The first
    ``n_text`` columns are left-aligned text; repeated values of ``group_cols`` are blanked, groups separated."""
    cols = list(display.columns)
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
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{" + "l" * n_text + "r" * (len(cols) - n_text) + "}",
        r"\toprule",
        " & ".join(top) + r" \\",
    ]
    if harm:
        start = cols.index(harm[0]) + 1
        lines.append(rf"\cmidrule(lr){{{start}-{start + len(harm) - 1}}}")
        lines.append(" & ".join(sub) + r" \\")
    lines.append(r"\midrule")
    prev_group = None
    group_cols = [c for c in group_cols if c in cols]
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
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _markdown(display: pd.DataFrame) -> str:
    """GitHub Markdown via tabulate: text columns left-, score columns right-aligned, strings kept verbatim."""
    text = {"Benchmark", "Model", "Method", "Source"}
    align = ["left" if c in text else "right" for c in display.columns]
    return display.to_markdown(index=False, disable_numparse=True, colalign=align)


def _write_table_files(stem: Path, numeric: pd.DataFrame, md: str, tex: str) -> dict[str, Path]:
    paths = {ext: stem.with_suffix(f".{ext}") for ext in ("csv", "md", "tex")}
    numeric = numeric[[c for c in numeric.columns if not str(c).endswith("_cell")]]
    write_text(paths["csv"], numeric.to_csv(index=False, float_format="%.4f"))
    write_text(paths["md"], md)
    write_text(paths["tex"], tex)
    return paths


def _tex_text(text: str) -> str:
    """Escape prose for LaTeX and turn the few Unicode symbols used in notes into math."""
    out = latex_escape(text)
    for u, t in {"±": r"$\pm$", "†": r"$^\dagger$", "×": r"$\times$", "≥": r"$\geq$", "–": "--"}.items():
        out = out.replace(u, t)
    return out


def _notes(style: str, table: pd.DataFrame, harmful_lrs: Sequence[float], benign_lrs: Sequence[float],
           confidence: float) -> list[str]:
    rs = "test-set accuracy" if style == "mcqa" else "retain-set ROUGE-L recall"
    level = f"{100 * confidence:g} %"
    notes = [
        f"Scores in %, with the {level} bootstrap confidence interval (scipy.stats.bootstrap, percentile) and n, "
        "the number of observations behind the cell. RS = " + rs + ". FS and RS pool the evaluation items over "
        "unlearning seeds; US on MCQA benchmarks uses lm-eval's standard errors (n = utility items).",
        "Attack = max forget score during retraining, per run the max over learning rates (harmful: "
        f"{', '.join(f'{x:g}' for x in harmful_lrs)}; benign: {', '.join(f'{x:g}' for x in benign_lrs)}) and "
        "steps; the cell pools each run's items at that point over runs and seeds (n = items × runs).",
    ]
    for key in [k for k in main_metrics(table.columns) if k not in ("FS", "RS", "US")]:
        rows = table[table["method"] != DEFAULT]
        sets = {x for x in rows.get(f"{key}_eval_set", pd.Series(dtype=object)).dropna()}
        items = rows.get(f"{key}_eval_items", pd.Series(dtype=float)).dropna()
        if sets:
            sizes = f"{int(items.min())}–{int(items.max())}" if items.min() != items.max() else f"{int(items.min())}"
            notes.append(f"{attack_display(key)}: scored on {'; '.join(sorted(sets))} ({sizes} items per run, "
                         "by method).")
    without = sum(int(table[c].fillna(0).sum()) for c in table.columns if str(c).endswith("_without_items"))
    if without:
        notes.append(f"– in an attack column: {without} attack result files hold no per-item curves (written before "
                     "the §6.2.2 evaluation set and the log-probability measure); rerun the attack rules to fill them.")
    if bool((table["n_converged"].fillna(0) < table["n_seeds"].fillna(0)).any()):
        notes.append("† at least one seed did not reach the early-stopping threshold.")
    if bool(table.get("degraded", pd.Series(dtype=bool)).fillna(False).any()):
        notes.append("‡ model degraded: RS or US below 80 % of the starting model's.")
    if bool(table.get("reference", pd.Series(dtype=bool)).fillna(False).any()):
        notes.append("Reference rows: the starting model attacked like the unlearned ones (what the attack teaches "
                     "by itself) or a model that never learned the forget set (the erasure floor).")
    return notes


def vs_paper_table(table: pd.DataFrame, style: str, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Our cells next to the paper's quoted cells: for every method, one row per source — ours (per model) then
    ``paper (Llama-3.2-3B)`` etc. Numeric, percent. Columns: method, source, source_kind (ours | paper quote),
    benchmark, n_seeds, n_converged (NaN for quotes), then each score with _low, _high, _n (NaN for quotes)."""
    paper = paper_values.paper_table(style)
    metrics = main_metrics(table.columns)
    companions = ("_low", "_high", "_n")
    rows = []
    for method in dict.fromkeys(table["method"]):
        for _, r in table[table["method"] == method].iterrows():
            row = {
                "method": method,
                "source": f"ours ({_label(labels, r['model'])})",
                "source_kind": "ours",
                "benchmark": _label(labels, r["benchmark"]),
                "n_seeds": r["n_seeds"],
                "n_converged": r["n_converged"],
            }
            for x in metrics:
                row |= {x: r[x]} | {f"{x}{c}": r[f"{x}{c}"] for c in companions}
            rows.append(row)
        for _, q in paper[paper["method"] == method].iterrows():
            row = {
                "method": method,
                "source": q["label"],
                "source_kind": "paper quote",
                "benchmark": paper_values.PAPER_BENCHMARK[style],
                "n_seeds": math.nan,
                "n_converged": math.nan,
            }
            for x in metrics:
                v = q[x] if x in q.index else None
                row |= {x: math.nan if v is None or pd.isna(v) else float(v)} | {f"{x}{c}": math.nan for c in companions}
            rows.append(row)
    return pd.DataFrame(rows)


def _vs_display(
    vs: pd.DataFrame, labels: Mapping[str, str] | None, *, latex: bool, style: str | None = None
) -> pd.DataFrame:
    esc = latex_escape if latex else str
    metrics = main_metrics(vs.columns)
    out = []
    for _, r in vs.iterrows():
        row = {
            "Method": _dagger(esc(_label(labels, r["method"])), r, latex),
            "Source": esc(r["source"]),
            "Benchmark": esc(r["benchmark"]),
        }
        for x in metrics:
            row[_head(x, style, latex)] = fmt_cell(r[x], r[f"{x}_low"], r[f"{x}_high"], r[f"{x}_n"], latex=latex)
        out.append(row)
    return pd.DataFrame(out)


def build_tables(
    results_dir: str | Path,
    out_dir: str | Path,
    config_labels: Mapping[str, str] | None = None,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    models: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> dict[str, Path]:
    """Write ``table1.{csv,md,tex}`` (MCQA-style benchmarks, FaithUn columns), ``table2.*`` (ROUGE-style, TOFU)
    and ``table1_vs_paper.*`` / ``table2_vs_paper.*`` under ``out_dir``; a style without results is skipped
    (logged). ``config_labels`` maps benchmark / model / method keys to display names. ``methods`` are the main
    methods (config ``methods``) in row order; ablation variants are not rows. ``harmful_lrs`` / ``benign_lrs``
    are the configured attack learning rates: results at other learning rates (the Fig. 7 sweep) are ignored.
    Returns ``{"table1.csv": path, ...}``."""
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for style in STYLES:
        table = aggregate_table(
            results_dir,
            style,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
            models=models,
            confidence=confidence,
            n_resamples=n_resamples,
            min_logprob_drop=min_logprob_drop,
        )
        if table.empty:
            log.info("no %s-style benchmark in %s: %s not written", style, results_dir, TABLE_NAME[style])
            continue
        name = TABLE_NAME[style]
        paper_name = paper_values.PAPER_BENCHMARK[style]
        benches = ", ".join(_label(config_labels, b) for b in dict.fromkeys(table["benchmark"]))
        notes = _notes(style, table, harmful_lrs, benign_lrs, confidence)
        style_note = "" if f"{paper_name}-style" in benches else f" ({paper_name}-style)"
        title = f"Table {name[-1]}: results on {benches}{style_note}"
        md = "\n".join(
            [
                f"# {title}",
                "",
                _markdown(display_table(table, config_labels, style=style)),
                "",
                *[f"- {n}" for n in notes],
                "",
            ]
        )
        disp_tex = display_table(table, config_labels, latex=True, style=style)
        tex = to_latex(
            disp_tex,
            _tex_text(f"{title}. " + " ".join(notes)),
            f"tab:{name}",
            n_text=list(disp_tex.columns).index("Method") + 1,
            group_cols=("Benchmark", "Model"),
        )
        for k, v in _write_table_files(out_dir / name, table, md, tex).items():
            written[f"{name}.{k}"] = v
        written |= write_companion_tables(table, out_dir, name, title, config_labels,
                                          confidence=confidence, n_resamples=n_resamples)

        vs = vs_paper_table(table, style, config_labels)
        vs_title = f"Table {name[-1]} next to the paper's published values ({paper_name})"
        quote = (
            f"Rows labelled 'paper (...)' are quoted from {paper_values.SOURCE}, Table {name[-1]} "
            f"({paper_name}, 3B instruction-tuned models); they are published numbers, not results of this "
            "pipeline, and were obtained on different models and data."
        )
        extra = ["The paper excludes NPO on TOFU (it fails to converge)."] if style == "rouge" else []
        vs_md = "\n".join(
            [
                f"# {vs_title}",
                "",
                f"> {quote}",
                "",
                _markdown(_vs_display(vs, config_labels, latex=False, style=style)),
                "",
                *[f"- {n}" for n in notes + extra],
                "",
            ]
        )
        vs_tex = to_latex(
            _vs_display(vs, config_labels, latex=True, style=style),
            _tex_text(f"{vs_title}. {quote} " + " ".join(notes + extra)),
            f"tab:{name}_vs_paper",
            n_text=3,
            group_cols=("Method",),
        )
        for k, v in _write_table_files(out_dir / f"{name}_vs_paper", vs, vs_md, vs_tex).items():
            written[f"{name}_vs_paper.{k}"] = v
    if not written:
        raise ResultError(f"no benchmark results under {results_dir}: nothing to tabulate")
    return written


def write_companion_tables(table: pd.DataFrame, out_dir: Path, name: str, title: str,
                           labels: Mapping[str, str] | None, *, confidence: float,
                           n_resamples: int) -> dict[str, Path]:
    """``<name>_recovery`` (the continuous measure) and ``<name>_ssiuu_vs`` (paired differences) beside a table."""
    from ssiuu.report.companions import recovery_display, ssiuu_differences

    written: dict[str, Path] = {}
    frames = {
        "recovery": (recovery_display(table, labels), f"{title}: recovery of the gold answers' log-probability"),
        "ssiuu_vs": (ssiuu_differences(table, labels, confidence=confidence, n_resamples=n_resamples),
                     f"{title}: SSIUU minus each baseline"),
    }
    for suffix, ((display, notes), caption) in frames.items():
        stem = f"{name}_{suffix}"
        md = "\n".join([f"# {caption}", "", _markdown(display) if not display.empty else "(no attack results)", "",
                        *[f"- {n}" for n in notes], ""])
        tex = to_latex(display.map(latex_escape) if not display.empty else display,
                       _tex_text(f"{caption}. " + " ".join(notes)), f"tab:{stem}",
                       n_text=list(display.columns).index("Method") + 1 if "Method" in display else 0,
                       group_cols=("Model",))
        for k, v in _write_table_files(out_dir / stem, display, md, tex).items():
            written[f"{stem}.{k}"] = v
    return written
