"""Rule-level glue for the analyses: load models and splits, call the analysis functions, write compact CSVs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ssiuu import layout
from ssiuu.attribution import AttributionSummary, compute_attribution_summary
from ssiuu.data.records import BenchmarkSplit
from ssiuu.io import atomic_path
from ssiuu.jobs import ModelOnSplit
from ssiuu.models import load_for
from ssiuu.unlearning import pairs_of


def _parse_pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def attribution(
    config: dict[str, Any],
    target: ModelOnSplit,
    *,
    out: str,
    unlearn_result: str | None = None,
    attack_p: float | None = None,
    attack_lr: float | None = None,
) -> AttributionSummary:
    """Rule ``attribution``: Eq. 1 on the forget set for one model state.

    With ``attack_p``/``attack_lr`` the harmful attack's draw named by the state (``-attacked``: run 0,
    ``-attacked-run<r>``: run r; :func:`ssiuu.layout.attack_run`, seeded by :func:`ssiuu.attacks.attack_seed`
    as the harmful attack jobs' draws are) is replayed in memory on the unlearned checkpoint first, so the
    post-attack state for Fig. 6 never needs a checkpoint on disk.
    """
    split_obj = BenchmarkSplit.load(target.split)
    state = Path(out).stem
    if attack_p is not None:
        from ssiuu.attacks import attack

        if unlearn_result is None or attack_lr is None:
            raise ValueError("the post-attack attribution needs --unlearn-result and --attack-lr")
        method, seed, _ = layout.parse_state(state)
        _, model_obj, tokenizer = attack(
            config,
            kind="harmful",
            p=attack_p,
            lr=attack_lr,
            run=layout.attack_run(state) or 0,
            benchmark=target.benchmark,
            model=target.model,
            method=method,
            seed=int(seed),
            checkpoint=target.model_dir,
            split=target.split,
            unlearn_result=unlearn_result,
            base_result=None,
        )
        if model_obj is None:
            raise ValueError(
                f"{unlearn_result}: the harmful attack draw leaves no evaluation items; no attacked state"
            )
    else:
        model_obj, tokenizer = load_for(config, target.model, target.model_dir)
    with atomic_path(out) as tmp:
        summary = compute_attribution_summary(
            model_obj,
            tokenizer,
            pairs_of(split_obj.forget_train),
            batch_size=config["analysis"]["attribution_batch_size"],
            max_length=config["unlearning"]["max_length"],
            label=state,
            target=config["analysis"]["attribution_target"],
        )
        summary.save(tmp)
    return summary


def _concat_csv(frames: dict[str, pd.DataFrame], column: str, path: Path) -> None:
    df = pd.concat([f.assign(**{column: name}) for name, f in frames.items()], ignore_index=True)
    df = df[[column, *[c for c in df.columns if c != column]]]
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def influence(config: dict[str, Any], *, base: str, unlearned: list[str], out_dir: str) -> None:
    """Rule ``influence``: D+/D− of every unlearned state against the base model (Figs. 3, 5)."""
    from ssiuu.analysis import save_influence_tables

    base_summary = AttributionSummary.load(base)
    out = Path(out_dir)
    tables: dict[str, dict[str, pd.DataFrame]] = {"cumulative": {}, "heatmap": {}, "totals": {}}
    for state, path in _parse_pairs(unlearned).items():
        method = layout.parse_state(state)[0]
        paths = save_influence_tables(
            base_summary,
            AttributionSummary.load(path),
            out / "per_method" / state,
            k=config["analysis"]["top_k"],
        )
        for name, p in paths.items():
            tables[name][method] = pd.read_csv(p)
    for name, frames in tables.items():
        _concat_csv(frames, "method", out / f"{name}.csv")


def distributions(config: dict[str, Any], *, base: str, pairs: list[str], out: str) -> None:
    """Rule ``distributions``: histograms, stats and Pearson ρ before/after the harmful attack (Fig. 6), and
    per forget example the ρ of every attack draw (``per_example.csv``, claim 3's resampling units).

    ``pairs``: ``STATE=unlearned.pt,attacked_run0.pt[,attacked_run1.pt ...]``; the histograms, stats and
    ``correlation.csv`` use the first attacked file (run 0), ``per_example.csv`` every one."""
    from ssiuu.analysis import per_example_correlation, save_distribution_tables, save_per_example_table

    summaries = {"base": AttributionSummary.load(base)}
    correlations, per_example = [], []
    for state, files in _parse_pairs(pairs).items():
        method, seed, _ = layout.parse_state(state)
        unlearned, *attacked = files.split(",")
        if not attacked:
            raise ValueError(f"{state}: expected STATE=unlearned.pt,attacked.pt[,...], got {files!r}")
        summaries[method] = AttributionSummary.load(unlearned)
        for run, path in enumerate(attacked):
            post = AttributionSummary.load(path)
            if run == 0:
                summaries[f"{method}+attack"] = post
                correlations.append((method, f"{method}+attack"))
            per_example.append(
                per_example_correlation(summaries[method], post).assign(method=method, seed=seed, draw=run)
            )
    save_distribution_tables(summaries, correlations, out)
    save_per_example_table(pd.concat(per_example, ignore_index=True), out)


def logit_lens(
    config: dict[str, Any], *, benchmark: str, model: str, split: str, states: list[str], out: str
) -> None:
    """Rule ``logit_lens``: accuracy of P(gold) > P(distractor) per layer, for each model state (Fig. 4)."""
    from ssiuu.analysis import logit_lens_accuracy

    split_obj = BenchmarkSplit.load(split)
    frames = {}
    for state, model_dir in _parse_pairs(states).items():
        model_obj, tokenizer = load_for(config, model, model_dir)
        with torch.no_grad():
            frames[layout.parse_state(state)[0]] = logit_lens_accuracy(
                model_obj,
                tokenizer,
                split_obj.forget_train,
                batch_size=config["analysis"]["attribution_batch_size"],
                seed=0,
                max_length=config["unlearning"]["max_length"],
                desc=f"logit lens {state}",
            )
    _concat_csv(frames, "state", Path(out))
