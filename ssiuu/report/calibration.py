"""The attack calibration sweep (Fig. 7b, c; App. D.2): attack score and recovered fraction of each attack per
learning rate and epoch count.

A calibration draw is an ordinary attack draw run for ``analysis.attack_calibration.<kind>.epochs`` with an
evaluation after every epoch. The attack's learning rate is constant and its data order fixed by the draw's
seed, so the first e epochs of a draw are the e-epoch attack: :func:`first_epochs` cuts a draw to them, and
one draw per learning rate gives every epoch count up to the sweep's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu import layout
from ssiuu.io import read_json
from ssiuu.report.aggregate import attack_columns
from ssiuu.report.attack_cells import attack_cell
from ssiuu.report.render import (
    fmt_cell,
    label,
    markdown,
    markdown_file,
    tex_text,
    to_latex,
    write_table_files,
)
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats

#: the epoch counts read off a sweep (those up to its epochs, and its epochs)
EPOCH_MARKS = (1, 2, 5, 10, 20, 50)
KINDS = ("harmful", "benign")


def epoch_counts(max_epochs: int) -> list[int]:
    """The epoch counts read off a draw run for ``max_epochs``: 1, 2, 5, 10, … below it, and itself."""
    return sorted({e for e in EPOCH_MARKS if e < max_epochs} | {max_epochs})


def first_epochs(result: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    """A calibration draw cut to its evaluation points within the first ``epochs`` epochs."""
    last = epochs * int(result["steps_per_epoch"])
    return {**result, "curve": [pt for pt in result["curve"] if pt["step"] <= last]}


def calibration_draws(
    results: ResultFiles, bench: str, model: str, method: str
) -> dict[tuple[str, float], list]:
    """The calibration draws of one checkpoint with per-item curves, keyed by (kind, learning rate)."""
    draws: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for kind in KINDS:
        for path in results.of(f"calibration_{kind}"):
            name = layout.parse(f"calibration_{kind}", str(path))
            if (name["benchmark"], name["model"], name["method"]) == (bench, model, method):
                result = read_json(path)
                if result.get("curve"):
                    draws.setdefault((kind, name["lr"]), []).append(result)
    return draws


def calibration_rows(
    results: ResultFiles,
    bench: str,
    model: str,
    method: str,
    *,
    stats: CellStats,
) -> pd.DataFrame:
    """One row per (kind, learning rate, epoch count): the attack cell of those draws cut to that many epochs
    (columns ``attack``, ``attack_recovered``, ``attack_gain`` … of :func:`attack_columns`)."""
    rows = []
    for (kind, lr), draws in sorted(calibration_draws(results, bench, model, method).items()):
        for epochs in epoch_counts(min(int(d["config"]["epochs"]) for d in draws)):
            cell = attack_cell((first_epochs(d, epochs) for d in draws), method, stats)
            rows.append({"kind": kind, "lr": lr, "epochs": epochs} | attack_columns("attack", cell))
    return pd.DataFrame(rows)


def _cell(row: pd.Series, name: str, scale: float, digits: int) -> str:
    return fmt_cell(
        row[name] * scale,
        row[f"{name}_low"] * scale,
        row[f"{name}_high"] * scale,
        row[f"{name}_n"],
        digits=digits,
    )


def calibration_display(rows: pd.DataFrame, labels: Mapping[str, str] | None) -> pd.DataFrame:
    """The sweep as a table: per method, attack, learning rate and epoch count, the FS at the end of the attack
    (%), the recovered fraction (§ where unlearning's drop cannot carry it) and Δ log p, each with its CI."""
    out = []
    for _, r in rows.iterrows():
        unstable = not pd.isna(r["attack_recovered"]) and not r["attack_stable"]
        out.append(
            {
                "Benchmark": label(labels, r["benchmark"]),
                "Model": label(labels, r["model"]),
                "Method": label(labels, r["method"]),
                "Attack": r["kind"],
                "η": f"{r['lr']:.0e}",
                "Epochs": str(int(r["epochs"])),
                "FS after (%)": _cell(r, "attack", 1.0, 1),
                "Recovered": _cell(r, "attack_recovered", 1.0, 2) + (" §" if unstable else ""),
                "Δ log p": _cell(r, "attack_gain", 1.0, 2),
            }
        )
    return pd.DataFrame(out)


def write_calibration_table(
    results: ResultFiles,
    out_dir: str | Path,
    labels: Mapping[str, str] | None = None,
    *,
    stats: CellStats,
) -> dict[str, Path]:
    """``attack_calibration.{csv,md,tex}``: :func:`calibration_rows` of every swept checkpoint (none without
    calibration files)."""
    checkpoints = sorted(
        {
            tuple(layout.parse(f"calibration_{kind}", str(p))[k] for k in ("benchmark", "model", "method"))
            for kind in KINDS
            for p in results.of(f"calibration_{kind}")
        }
    )
    frames = [
        calibration_rows(results, b, m, x, stats=stats).assign(benchmark=b, model=m, method=x)
        for b, m, x in checkpoints
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return {}
    rows = pd.concat(frames, ignore_index=True)
    display = calibration_display(rows, labels)
    title = "Attack calibration sweep (Fig. 7b, c): the attacks at each learning rate and epoch count"
    notes = [
        "Each line is one attack draw per run at learning rate η, cut to its first epochs (the learning rate is "
        "constant, so that is the attack of that many epochs). FS after: the forget score at the end of those "
        "epochs on the draw's items wrong before the attack (§6.2.2); recovered fraction (a − u) / (s − u) and "
        "Δ log p of the gold answer's log-probability at the same point. "
        f"{stats.level} percentile intervals from {stats.n_resamples} cluster-bootstrap resamples of the draws "
        "and items (ssiuu/report/inference.py); n = items × draws.",
        "§ the fraction's denominator s − u has an interval that is not above 0 (Fieller's condition): not ranked.",
    ]
    md = markdown_file(title, markdown(display), notes)
    tex = to_latex(
        display,
        tex_text(f"{title}. " + " ".join(notes)),
        "tab:attack_calibration",
        n_text=6,
        group_cols=("Benchmark", "Model", "Method"),
    )
    return {
        f"attack_calibration.{k}": v
        for k, v in write_table_files(Path(out_dir) / "attack_calibration", rows, md, tex).items()
    }
