"""Retraining attacks (paper §3.1, §6.2.2, App. D.2): does forgotten knowledge come back?

Harmful: fine-tune the unlearned model on a fraction p of the forget set, drawn only from the items it
answers wrongly (MCQA; the whole forget set for ROUGE benchmarks), and track FS on the forget items
disjoint from the attack data. Benign: fine-tune on instruction data unrelated to the forget set and
track FS on the whole forget set. The score is the maximum FS seen during retraining; the whole curve
is kept so other aggregations can be computed later.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ssiuu.config import benchmark_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.io import read_json, write_json
from ssiuu.training import QAPair, nll_loss, train
from ssiuu.unlearning import forget_eval_records, load_for, pairs_of

log = logging.getLogger(__name__)

ATTACK_KINDS = ("harmful", "benign")


def attack_pool(records: list[QARecord], correct: dict[str, bool], style: str) -> list[QARecord]:
    """Forget items eligible as attack data: the wrongly answered ones (MCQA), every item (ROUGE)."""
    if style == "rouge":
        return list(records)
    missing = [r.id for r in records if r.id not in correct]
    if missing:
        raise ValueError(f"the unlearning result has no per-item answer for forget items {missing[:5]}")
    return [r for r in records if not correct[r.id]]


def draw_attack_data(
    forget: list[QARecord], pool: list[QARecord], p: float, seed: int
) -> tuple[list[QARecord], list[QARecord]]:
    """Draw ⌈p·|forget|⌉ ≥ 1 items (capped at the pool) from the pool; return (attack, evaluation).

    The evaluation items are the forget items not used for the attack, so the two never overlap.
    """
    if not 0 < p <= 1:
        raise ValueError(f"attack fraction p must be in (0, 1], got {p}")
    if not pool:
        raise ValueError("the attack pool is empty: the unlearned model answers every forget item correctly")
    n = min(len(pool), max(1, round(p * len(forget))))
    attack = random.Random(seed).sample(sorted(pool, key=lambda r: r.id), n)
    attack_ids = {r.id for r in attack}
    return attack, [r for r in forget if r.id not in attack_ids]


def attack_seed(seed: int, run: int, p: float | None) -> int:
    """Distinct, reproducible seed per (unlearning seed, run, p)."""
    return 1000 * seed + 17 * run + int(round((p or 0) * 100))


def attack_score(curve: list[list[float]]) -> float:
    """The attack score: the maximum FS seen during retraining (the step-0 value included)."""
    if not curve:
        raise ValueError("empty FS curve")
    return max(fs for _, fs in curve)


def aggregate_runs(results: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Reported value: mean over runs of (max over learning rates of each run's max FS).

    Results are grouped by ``run``; within a run, the maximum over learning rates and steps is taken.
    """
    per_run: dict[int, float] = {}
    for res in results:
        per_run[res["run"]] = max(per_run.get(res["run"], -math.inf), res["max_fs"])
    if not per_run:
        raise ValueError("no attack results to aggregate")
    values = [per_run[r] for r in sorted(per_run)]
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "runs": len(values),
    }


def recorded_forget_score(unlearned: dict[str, Any], records: list[QARecord], style: str) -> float | None:
    """The unlearned model's FS on ``records``, from the per-item answers its ``unlearn.json`` keeps.

    That evaluation ran on the very weights the checkpoint holds, so the attack's step-0 point need not
    be generated again. None when an item (or its score) is missing: the caller then scores the model.
    """
    key = "correct" if style == "mcqa" else "rougeL_recall"
    items = {item["id"]: item for item in unlearned.get("per_item", {}).get("forget", [])}
    if not records or any(key not in items.get(r.id, {}) for r in records):
        return None
    return statistics.fmean(float(items[r.id][key]) for r in records)


def benign_pairs(config: dict[str, Any], seed: int) -> list[QAPair]:
    from ssiuu.data.instructions import load_alpaca, offline_instructions

    bcfg = config["attacks"]["benign"]
    if bcfg["source"] == "offline":
        return offline_instructions(n=bcfg["n_instances"], seed=seed)
    return load_alpaca(bcfg["source"], n=bcfg["n_instances"], seed=seed)


def run_attack(
    config: dict[str, Any],
    *,
    kind: str,
    p: float | None,
    lr: float,
    run: int,
    benchmark: str,
    model: str,
    method: str,
    seed: int,
    checkpoint: str,
    split: str,
    unlearn_result: str,
    out: str | None,
    return_model: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], Any, Any]:
    """Rule ``attack_harmful`` / ``attack_benign``: one attack run at one learning rate."""
    from ssiuu.evaluation import forget_score

    if kind not in ATTACK_KINDS:
        raise ValueError(f"attack kind {kind!r} is not one of {ATTACK_KINDS}")
    split_obj = BenchmarkSplit.load(split)
    unlearned = read_json(unlearn_result)
    forget = forget_eval_records(split_obj)
    rng_seed = attack_seed(seed, run, p)
    acfg = config["attacks"][kind]
    if kind == "harmful":
        if p is None:
            raise ValueError("the harmful attack needs --p (fraction of the forget set)")
        correct = {item["id"]: bool(item.get("correct")) for item in unlearned["per_item"]["forget"]}
        pool = attack_pool(forget, correct, split_obj.style)
        if not pool:
            # nothing was forgotten (every forget item is answered right): there is no attack data, and
            # the attack score is the unlearned model's own FS on the whole forget set
            log.warning("%s: the attack pool is empty (every forget item answered right); no attack run", method)
            attack_records, eval_records = [], forget
        else:
            attack_records, eval_records = draw_attack_data(forget, pool, p, rng_seed)
        attack_data: list[QAPair] = pairs_of(attack_records)
        attack_ids = [r.id for r in attack_records]
    else:
        attack_data, eval_records, attack_ids, pool = benign_pairs(config, rng_seed), forget, [], forget
    steps_per_epoch = math.ceil(len(attack_data) / acfg["batch_size"])  # 0 when there is no attack data
    max_steps = steps_per_epoch * acfg["epochs"]
    eval_every = acfg["eval_every_steps"] or steps_per_epoch

    start = time.perf_counter()
    model_obj, tokenizer = load_for(config, model, checkpoint)
    budget = benchmark_config(config, benchmark)["max_new_tokens"]
    step0 = recorded_forget_score(unlearned, eval_records, split_obj.style)
    if step0 is None:
        with torch.no_grad():
            step0 = forget_score(model_obj, tokenizer, eval_records, split_obj.style, max_new_tokens=budget)
    curve: list[list[float]] = [[0, step0]]

    def callback(step: int, m: Any) -> bool:
        if step % eval_every == 0 or step == max_steps:
            with torch.no_grad():
                curve.append([step, forget_score(m, tokenizer, eval_records, split_obj.style, max_new_tokens=budget)])
            log.info("%s attack lr=%g step %d/%d: FS=%.4f", kind, lr, step, max_steps, curve[-1][1])
        return False

    if attack_data:
        train(model_obj, tokenizer, nll_loss, {"attack": attack_data}, lr=lr, max_steps=max_steps,
              batch_size=acfg["batch_size"], seed=rng_seed, callback=callback,
              max_length=config["unlearning"]["max_length"], desc=f"{kind} attack lr={lr:g}")
    result = {
        "benchmark": benchmark, "model": model, "method": method, "seed": seed, "kind": kind,
        "p": p, "lr": lr, "run": run, "attack_seed": rng_seed,
        "pool_size": len(pool), "n_attack": len(attack_data), "attack_ids": attack_ids,
        "eval_ids": [r.id for r in eval_records],
        "steps_per_epoch": steps_per_epoch, "fs_curve": curve, "max_fs": attack_score(curve),
        "wall_time_s": time.perf_counter() - start,
        "config": {k: acfg[k] for k in ("epochs", "batch_size", "eval_every_steps")},
    }
    if out is not None:
        write_json(Path(out), result)
    return (result, model_obj, tokenizer) if return_model else result
