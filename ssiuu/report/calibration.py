"""The attack calibration sweep (Fig. 7b, c; App. D.2): attack score and recovered fraction of each attack per
learning rate and epoch count.

A calibration draw is an ordinary attack draw run for ``analysis.attack_calibration.<kind>.epochs`` with an
evaluation after every epoch. The attack's learning rate is constant and its data order fixed by the draw's
seed, so the first e epochs of a draw are the e-epoch attack: :func:`first_epochs` cuts a draw to them, and
one draw per learning rate gives every epoch count up to the sweep's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ssiuu import layout
from ssiuu.io import read_json
from ssiuu.report.aggregate import attack_columns
from ssiuu.report.attack_cells import attack_cell, group_by_run
from ssiuu.report.results import ResultFiles

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
    confidence: float,
    n_resamples: int,
    min_logprob_drop: float,
) -> pd.DataFrame:
    """One row per (kind, learning rate, epoch count): the attack cell of those draws cut to that many epochs
    (columns ``attack``, ``attack_recovered``, ``attack_gain`` … of :func:`attack_columns`)."""
    rows = []
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    for (kind, lr), draws in sorted(calibration_draws(results, bench, model, method).items()):
        for epochs in epoch_counts(min(int(d["config"]["epochs"]) for d in draws)):
            cell = attack_cell(group_by_run(first_epochs(d, epochs) for d in draws), **opts)
            rows.append(
                {"kind": kind, "lr": lr, "epochs": epochs} | attack_columns("attack", cell, min_logprob_drop)
            )
    return pd.DataFrame(rows)
