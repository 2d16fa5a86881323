"""Retraining attacks (paper §3.1, §6.2.2, App. D.2): does forgotten knowledge come back?

Paired draws (``docs/results.md``): every model of a benchmark (each method at each seed, the reference
models) is attacked with the same draws and scored on the same items. Harmful: fine-tune on ⌈p·n⌉ of the n
forget items, drawn with a seed of (run, p) alone (:func:`attack_seed`), and score the other forget items.
Benign: fine-tune on instruction data unrelated to the forget set, drawn by run alone, and score every forget
item. Every evaluation point records FS and the two continuous measures, the gold answers' mean
log-probability and their margin over the wrong answers (:mod:`ssiuu.evaluation.logprob`), with per-item
values aligned with ``eval_ids``, so tables can give confidence intervals over items, draws and seeds, and
compare models item by item. The attack's score is the last point's (``end_fs``, ``end_margin``); ``max_fs``,
the maximum FS seen during retraining, is kept beside it. The §6.2.2 score (FS on the items the unlearned
model answers wrongly) is read from the same file: the evaluation items whose step-0 item score is 0.

A calibration draw (``analysis.attack_calibration``) also records what the attack costs: at every evaluation
point, the model's score on the retain and test items that the final evaluation scores (:func:`damage_sets`),
so the calibration can require that the attack does not damage a model that knows the facts
(:mod:`ssiuu.report.calibration`).
"""

from __future__ import annotations

import functools
import logging
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ssiuu import layout
from ssiuu.config import benchmark_config, calibration_config
from ssiuu.data.records import ITEM_SCORE, BenchmarkSplit, QARecord
from ssiuu.evaluation.logprob import recovered_fraction
from ssiuu.io import read_json, write_json
from ssiuu.models import load_for
from ssiuu.progress import progress
from ssiuu.references import START
from ssiuu.training import QAPair, nll_loss, train
from ssiuu.unlearning import forget_eval_records, pairs_of

log = logging.getLogger(__name__)

ATTACK_KINDS = ("harmful", "benign")

#: What each attack scores, the same items for every model of a benchmark: the table notes quote these.
EVAL_SETS = {
    "harmful": "the forget items minus the attack data (the same draws and items for every model)",
    "benign": "all forget items (the same for every model)",
}


def draw_attack_data(records: list[QARecord], p: float, seed: int) -> tuple[list[QARecord], list[QARecord]]:
    """Draw ⌈p·n⌉ ≥ 1 of the n forget items as attack data; return (attack, evaluation).

    The evaluation items are the forget items not used for the attack, in id order; the two never overlap.
    The draw depends on the items' ids and ``seed`` alone (not on the records' order), so every model of a
    benchmark attacked with the same seed gets the same draw."""
    if not 0 < p <= 1:
        raise ValueError(f"attack fraction p must be in (0, 1], got {p}")
    if not records:
        raise ValueError("no forget items to draw the attack data from")
    ordered = sorted(records, key=lambda r: r.id)
    n = max(1, math.ceil(round(p * len(ordered), 9)))
    attack = random.Random(seed).sample(ordered, n)
    attack_ids = {r.id for r in attack}
    return attack, [r for r in ordered if r.id not in attack_ids]


def attack_seed(run: int, p: float | None) -> int:
    """The seed of a draw: of (run, p) alone (``p`` None: the benign attack), never of the model, method or
    unlearning seed, so every model of a benchmark is attacked with the same draws. Distinct for distinct
    (run, p) with p on a 10⁻⁵ grid in [0, 1]; it seeds the draw of the attack data and the training order."""
    if run < 0:
        raise ValueError(f"attack run must be ≥ 0, got {run}")
    return 1_000_000 * run + int(round((p or 0) * 100_000))


def attack_score(curve: list[list[float]]) -> float:
    """The attack score: the maximum FS seen during retraining (the step-0 value included)."""
    if not curve:
        raise ValueError("empty FS curve")
    return max(fs for _, fs in curve)


#: The per-item fields of an evaluation point that a result's ``per_item["forget"]`` entries hold, by the
#: name of their list in :func:`recorded_items` (the score field is the style's, :data:`ITEM_SCORE`).
RECORDED_FIELDS = {"logprobs": "logprob", "margins": "margin"}


def recorded_items(
    result: dict[str, Any],
    records: list[QARecord],
    style: str,
    fields: tuple[str, ...] = ("scores", "logprobs", "margins"),
) -> dict[str, list[float]] | None:
    """Per-item FS scores, answer log-probabilities and margins of ``records`` (those of ``fields``) from a
    result's ``per_item["forget"]``, in the order of ``records``.

    That evaluation ran on the very weights the checkpoint holds, so the attack's step-0 point need not be
    scored again. None when an item (or one of its values) is missing: the caller then scores the model.
    """
    keys = {name: ITEM_SCORE[style] if name == "scores" else RECORDED_FIELDS[name] for name in fields}
    items = {item["id"]: item for item in result.get("per_item", {}).get("forget", [])}
    if any(key not in items.get(r.id, {}) for r in records for key in keys.values()):
        return None
    return {name: [float(items[r.id][key]) for r in records] for name, key in keys.items()}


def eval_interval(eval_every_steps: int | str | None, steps_per_epoch: int, max_steps: int) -> int:
    """Steps between an attack draw's evaluation points: ``attacks.<kind>.eval_every_steps`` as a step count
    (``None``: one epoch; ``"end"``: the whole draw of ``max_steps``, so only its last step is scored)."""
    if eval_every_steps == "end":
        return max(max_steps, 1)
    return eval_every_steps or steps_per_epoch


def step_zero(unlearned: dict[str, Any], records: list[QARecord], style: str) -> dict[str, Any] | None:
    """The attack curve's step-0 point from the unlearned model's recorded per-item values (None: not recorded)."""
    recorded = recorded_items(unlearned, records, style)
    if recorded is None:
        return None
    return point_of(0, recorded["scores"], recorded["logprobs"], recorded["margins"])


def recorded_damage(
    unlearned: dict[str, Any], damage: Mapping[str, list[QARecord]], style: str
) -> dict[str, Any] | None:
    """The step-0 point's damage fields (:func:`damage_fields`) from the unlearned model's recorded retain and
    test answers (its final evaluation, on the same weights); None where one is not recorded."""
    parts = {part: recorded_scores(unlearned, part, recs, style) for part, recs in damage.items()}
    if any(scores is None for scores in parts.values()):
        return None
    return {k: v for part, scores in parts.items() for k, v in damage_fields(part, scores).items()}  # type: ignore[arg-type]


#: The parts a calibration draw scores beside its evaluation items: what the attack may not damage.
DAMAGE_PARTS = ("retain", "test")


def damage_sets(
    config: dict[str, Any], benchmark: str, split_obj: BenchmarkSplit
) -> dict[str, list[QARecord]]:
    """The retain and test items of a calibration draw, by part: those the final evaluation scores
    (:func:`ssiuu.unlearning.evaluate`: the first ``benchmarks.<benchmark>.eval_limit`` of each, all without a
    limit). A part the split does not have is left out."""
    limit = benchmark_config(config, benchmark)["eval_limit"]
    parts = {"retain": list(split_obj.retain_train), "test": list(split_obj.test)}
    return {part: recs[:limit] if limit is not None else recs for part, recs in parts.items() if recs}


def recorded_scores(
    result: dict[str, Any], part: str, records: list[QARecord], style: str
) -> list[float] | None:
    """The item scores of ``records`` in a result's ``per_item[part]``, in their order (None: one is missing)."""
    key = ITEM_SCORE[style]
    items = {item["id"]: item for item in result.get("per_item", {}).get(part, [])}
    if any(items.get(r.id, {}).get(key) is None for r in records):
        return None
    return [float(items[r.id][key]) for r in records]


def damage_fields(part: str, scores: list[float]) -> dict[str, Any]:
    """An evaluation point's fields of one damage part: ``<part>_score`` and ``item_<part>_scores``."""
    return {f"{part}_score": statistics.fmean(scores), f"item_{part}_scores": scores}


def damage_point(
    model: Any,
    tokenizer: Any,
    damage: Mapping[str, list[QARecord]],
    style: str,
    *,
    max_new_tokens: int | None,
    batch_size: int,
) -> dict[str, Any]:
    """The model's score on each damage part (:func:`damage_sets`), scored as the final evaluation scores
    retain and test items (:func:`ssiuu.evaluation.forget_item_scores`, the same greedy answers and matching),
    per item and as the mean (:func:`damage_fields`)."""
    from ssiuu.evaluation import forget_item_scores

    point: dict[str, Any] = {}
    with torch.no_grad():
        for part, records in damage.items():
            scores = forget_item_scores(
                model, tokenizer, records, style, max_new_tokens=max_new_tokens, batch_size=batch_size
            )
            point |= damage_fields(part, scores)
    return point


def point_of(step: int, scores: list[float], logprobs: list[float], margins: list[float]) -> dict[str, Any]:
    """An evaluation point from its per-item values (aligned with the evaluation items): their means too."""
    return {
        "step": step,
        "fs": statistics.fmean(scores),
        "logprob": statistics.fmean(logprobs),
        "margin": statistics.fmean(margins),
        "item_scores": scores,
        "item_logprobs": logprobs,
        "item_margins": margins,
    }


def recovery_summary(curve: list[dict[str, Any]], start: list[float]) -> dict[str, Any]:
    """The continuous measure over an attack curve: log-probability change and recovered fraction.

    ``curve[0]`` is the unlearned model. Per step: the mean log-probability gain over the unlearned model and
    the recovered fraction (:func:`recovered_fraction`, on the means over the evaluation items; None where
    unlearning did not lower the log-probability); the summary
    keeps their maxima over the curve and the drop that unlearning caused on these items."""
    if not curve or not start:
        return {"logprob_drop": None, "max_logprob_gain": None, "max_recovered_fraction": None}
    unlearned = statistics.fmean(curve[0]["item_logprobs"])
    start_mean = statistics.fmean(start)
    fractions = []
    for point in curve:
        point["logprob_gain"] = point["logprob"] - unlearned
        fraction = recovered_fraction(point["logprob"], unlearned, start_mean)
        point["recovered_fraction"] = (
            fraction if math.isfinite(fraction) else None
        )  # undefined without a drop
        fractions += [fraction] if math.isfinite(fraction) else []
    return {
        "logprob_drop": start_mean - unlearned,
        "max_logprob_gain": max(pt["logprob_gain"] for pt in curve),
        "max_recovered_fraction": max(fractions) if fractions else None,
    }


def curve_summary(curve: list[dict[str, Any]], start: list[float]) -> dict[str, Any]:
    """An attack result's curve fields: the attack's score (``end_fs``, ``end_margin``: the last evaluation
    point's), the FS curve and its maximum (``max_fs``), the per-step points and the log-probability's
    recovered fraction (:func:`recovery_summary`). The score fields are None when nothing was scored."""
    fs_curve = [[pt["step"], pt["fs"]] for pt in curve]
    return {
        "end_fs": curve[-1]["fs"] if curve else None,
        "end_margin": curve[-1]["margin"] if curve else None,
        "fs_curve": fs_curve,
        "max_fs": attack_score(fs_curve) if fs_curve else None,
        "start_logprobs": start,
        "curve": curve,
        **recovery_summary(curve, start),
    }


def benign_pairs(config: dict[str, Any], seed: int) -> list[QAPair]:
    from ssiuu.data.instructions import load_alpaca, offline_instructions

    bcfg = config["attacks"]["benign"]
    if bcfg["source"] == "offline":
        return offline_instructions(n=bcfg["n_instances"], seed=seed)
    return load_alpaca(bcfg["source"], n=bcfg["n_instances"], seed=seed)


def attack_sets(
    kind: str, split_obj: BenchmarkSplit, p: float | None, seed: int
) -> tuple[list[QARecord], list[QARecord]]:
    """(attack records, evaluation records) of one draw, the same for every model of the benchmark.

    Both come from the whole forget evaluation set (:func:`ssiuu.unlearning.forget_eval_records`), whatever
    the model answers. Harmful: ⌈p·n⌉ forget items drawn with ``seed`` are the attack data and the other
    forget items are scored. Benign: the attack data is instruction data (no forget records) and every forget
    item is scored. Evaluation items are in id order."""
    forget = sorted(forget_eval_records(split_obj), key=lambda r: r.id)
    if kind == "benign":
        return [], forget
    if p is None:
        raise ValueError("the harmful attack needs --p (fraction of the forget items)")
    return draw_attack_data(forget, p, seed)


def evaluation_point(
    model: Any,
    tokenizer: Any,
    records: list[QARecord],
    style: str,
    *,
    step: int,
    max_new_tokens: int | None,
    max_length: int,
    batch_size: int,
    damage: Mapping[str, list[QARecord]] | None = None,
) -> dict[str, Any]:
    """FS, mean answer log-probability and mean margin of ``records`` at one attack step, with their per-item
    values (:func:`point_of`); with ``damage`` (a calibration draw), also the score on each of its parts
    (:func:`damage_point`), scored after the evaluation items so that those are scored as in any draw."""
    from ssiuu.evaluation import forget_item_scores
    from ssiuu.evaluation.logprob import answer_measures

    with torch.no_grad():
        scores = forget_item_scores(
            model, tokenizer, records, style, max_new_tokens=max_new_tokens, batch_size=batch_size
        )
        logprobs, margins = answer_measures(
            model, tokenizer, records, max_length=max_length, batch_size=batch_size
        )
    point = point_of(step, scores, logprobs, margins)
    if damage:
        options = {"max_new_tokens": max_new_tokens, "batch_size": batch_size}
        point |= damage_point(model, tokenizer, damage, style, **options)
    return point


def start_logprobs(base: dict[str, Any], records: list[QARecord], style: str, path: str) -> list[float]:
    """The starting model's answer log-probabilities of ``records``, from its ``base.json``."""
    recorded = recorded_items(base, records, style, fields=("logprobs",))
    if recorded is None:
        raise ValueError(
            f"{path}: no per-item 'logprob' for the attack's evaluation items; rerun the base_eval rule"
        )
    return recorded["logprobs"]


def _retrain(
    config: dict[str, Any],
    model_obj: Any,
    tokenizer: Any,
    attack_data: list[QAPair],
    curve: list[dict[str, Any]],
    point: Callable[..., dict[str, Any]],
    *,
    kind: str,
    lr: float,
    seed: int,
    max_steps: int,
    eval_every: int,
) -> None:
    """Fine-tune on the attack data, appending an evaluation point to ``curve`` every ``eval_every`` steps."""

    def callback(step: int, m: Any) -> bool:
        if step % eval_every == 0 or step == max_steps:
            curve.append(point(m, step=step))
            log.info(
                "%s attack lr=%g step %d/%d: FS=%.4f logprob=%.3f",
                kind,
                lr,
                step,
                max_steps,
                curve[-1]["fs"],
                curve[-1]["logprob"],
            )
        return False

    train(
        model_obj,
        tokenizer,
        nll_loss,
        {"attack": attack_data},
        lr=lr,
        max_steps=max_steps,
        batch_size=config["attacks"][kind]["batch_size"],
        seed=seed,
        callback=callback,
        max_length=config["unlearning"]["max_length"],
        desc=f"{kind} attack lr={lr:g}",
    )


def _attack_curve(
    config: dict[str, Any],
    eval_records: list[QARecord],
    style: str,
    attack_data: list[QAPair],
    *,
    benchmark: str,
    model_obj: Any,
    tokenizer: Any,
    unlearned: dict[str, Any],
    kind: str,
    lr: float,
    seed: int,
    steps_per_epoch: int,
    damage: Mapping[str, list[QARecord]] | None = None,
) -> list[dict[str, Any]]:
    """Record step 0 and retrain the loaded checkpoint on the attack data: the evaluation points (each with the
    ``damage`` parts' scores where given)."""
    point = functools.partial(
        evaluation_point,
        tokenizer=tokenizer,
        records=eval_records,
        style=style,
        max_new_tokens=benchmark_config(config, benchmark)["max_new_tokens"],
        max_length=config["unlearning"]["max_length"],
        batch_size=config["eval_batch_size"],
        damage=damage,
    )
    curve = [step_zero(unlearned, eval_records, style) or point(model_obj, step=0, damage=None)]
    if damage:
        options = {
            "max_new_tokens": point.keywords["max_new_tokens"],
            "batch_size": config["eval_batch_size"],
        }
        curve[0] |= recorded_damage(unlearned, damage, style) or damage_point(
            model_obj, tokenizer, damage, style, **options
        )
    if attack_data:
        acfg = config["attacks"][kind]
        max_steps = steps_per_epoch * acfg["epochs"]
        schedule = {
            "max_steps": max_steps,
            "eval_every": eval_interval(acfg["eval_every_steps"], steps_per_epoch, max_steps),
        }
        _retrain(
            config, model_obj, tokenizer, attack_data, curve, point, kind=kind, lr=lr, seed=seed, **schedule
        )
    return curve


def attack(
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
    base_result: str | None,
    checkpoint_cache: dict[str, Any] | None = None,
    damage: bool = False,
) -> tuple[dict[str, Any], Any, Any]:
    """One attack draw at one learning rate: ``(result, attacked model, tokenizer)``.

    The draw (attack data, evaluation items, training order) depends on ``(kind, p, run)`` alone
    (:func:`attack_seed`, :func:`attack_sets`), so every model of the benchmark gets the same one. The model
    is None when the draw leaves no evaluation items (nothing is trained then). Records FS, the answer
    log-probability and the margin of the evaluation items at step 0 (the unlearned model, from its
    ``unlearn.json`` when that holds them) and at every evaluation step, with the log-probability's recovered
    fraction against the starting model's ``base.json``. ``checkpoint_cache`` shares one loaded checkpoint
    between the draws of a job (:func:`restored_checkpoint`). ``damage`` (the calibration's draws) also scores
    the retain and test items of the final evaluation at every point (:func:`damage_sets`): ``retain_ids`` /
    ``test_ids`` in the result, ``retain_score`` / ``item_retain_scores`` (and test's) in each point."""
    if kind not in ATTACK_KINDS:
        raise ValueError(f"attack kind {kind!r} is not one of {ATTACK_KINDS}")
    split_obj, unlearned = BenchmarkSplit.load(split), read_json(unlearn_result)
    style, acfg = split_obj.style, config["attacks"][kind]
    rng_seed = attack_seed(run, p if kind == "harmful" else None)
    attack_records, eval_records = attack_sets(kind, split_obj, p, rng_seed)
    attack_data = pairs_of(attack_records) if kind == "harmful" else benign_pairs(config, rng_seed)
    damage_records = damage_sets(config, benchmark, split_obj) if damage else {}
    if not eval_records:
        log.warning(
            "%s: no evaluation items (%d forget items, all drawn for the attack); no attack run",
            method,
            len(attack_records),
        )
        attack_data = []
    steps_per_epoch = math.ceil(len(attack_data) / acfg["batch_size"])  # 0 when there is no attack data

    start = time.perf_counter()
    curve, model_obj, tokenizer = [], None, None
    if eval_records:
        model_obj, tokenizer = restored_checkpoint(config, model, checkpoint, checkpoint_cache)
        where = {
            "benchmark": benchmark,
            "model_obj": model_obj,
            "tokenizer": tokenizer,
            "unlearned": unlearned,
        }
        draw = {"kind": kind, "lr": lr, "seed": rng_seed, "steps_per_epoch": steps_per_epoch}
        curve = _attack_curve(
            config, eval_records, style, attack_data, **where, **draw, damage=damage_records
        )
    start_lp = []
    if base_result and eval_records:
        start_lp = start_logprobs(read_json(base_result), eval_records, style, base_result)
    names = {"benchmark": benchmark, "model": model, "method": method, "seed": seed, "kind": kind}
    result = (
        names
        | {"p": p, "lr": lr, "run": run, "attack_seed": rng_seed}
        | {"eval_set": EVAL_SETS[kind]}
        | draw_sets(attack_records, eval_records, len(attack_data), steps_per_epoch)
        | {f"{part}_ids": [r.id for r in recs] for part, recs in damage_records.items()}
        | curve_summary(curve, start_lp)
        | {
            "wall_time_s": time.perf_counter() - start,
            "config": {k: acfg[k] for k in ("epochs", "batch_size", "eval_every_steps")},
        }
    )
    return result, model_obj, tokenizer


def draw_sets(
    attack_records: list[QARecord], eval_records: list[QARecord], n_attack: int, steps_per_epoch: int
) -> dict[str, Any]:
    """An attack result's record of its sets: the attack data (its size: instruction pairs for the benign
    attack) and the evaluation items, in order."""
    return {
        "n_attack": n_attack,
        "attack_ids": [r.id for r in attack_records],
        "n_eval": len(eval_records),
        "eval_ids": [r.id for r in eval_records],
        "steps_per_epoch": steps_per_epoch,
    }


def restored_checkpoint(
    config: dict[str, Any], model: str, checkpoint: str, cache: dict[str, Any] | None
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` holding the checkpoint's weights.

    Without a cache the checkpoint is loaded. With one, it is loaded on first use and a CPU copy of its
    weights kept; later calls copy those weights back into the same model, which leaves it as a fresh load
    would (``train`` ends in eval mode with every parameter trainable)."""
    if cache is None:
        return load_for(config, model, checkpoint)
    if "model" not in cache:
        cache["model"], cache["tokenizer"] = load_for(config, model, checkpoint)
        cache["weights"] = {
            k: t.detach().to("cpu", copy=True) for k, t in cache["model"].state_dict().items()
        }
    else:
        cache["model"].load_state_dict(cache["weights"])
    return cache["model"], cache["tokenizer"]


#: The result layouts of attack draws (:mod:`ssiuu.layout`): the attacks of the tables and the calibration sweep.
DRAW_LAYOUTS = {
    "harmful": ("harmful", False),
    "benign": ("benign", False),
    "calibration_harmful": ("harmful", True),
    "calibration_benign": ("benign", True),
}


def parse_draw(file: str) -> tuple[str, bool, dict[str, Any]]:
    """``(kind, calibration, wildcards)`` of an attack result path; a ValueError naming the layouts otherwise."""
    name = layout.kind_of(file, tuple(DRAW_LAYOUTS))
    if name is None:
        expected = "; ".join(layout.TEMPLATES[k] for k in DRAW_LAYOUTS)
        raise ValueError(f"{file}: not an attack result path; expected one of {expected}")
    kind, calibration = DRAW_LAYOUTS[name]
    return kind, calibration, layout.parse(name, file)


def run_attacks(config: dict[str, Any], *, out: list[str], **where: Any) -> list[dict[str, Any]]:
    """Rules ``attack``, ``attack_harmful`` and ``calibrate``: every attack draw of one checkpoint.

    Each path in ``out`` names its draw: the kind and whether it belongs to the calibration sweep by its layout,
    ``p``, ``lr`` and ``run`` by its wildcards (:mod:`ssiuu.layout`). The draws share one process and one load
    of the checkpoint (:func:`restored_checkpoint`), so each computes what it would compute in a process of its
    own (``tests/test_attacks.py`` checks this). Each result is written as soon as its draw ends. A calibration
    draw runs for ``analysis.attack_calibration``'s epochs (:func:`ssiuu.config.calibration_config`); the
    starting model's calibration draws also record the attack's damage to the retain and test items
    (:func:`attack`'s ``damage``), the only damage the calibration's rule reads
    (:func:`ssiuu.report.calibration.within_tolerance`)."""
    draws = [parse_draw(file) for file in out]
    for file, (_, _, names) in zip(out, draws, strict=True):
        wrong = {k: names[k] for k in ("benchmark", "model", "method", "seed") if names[k] != where[k]}
        if wrong:
            raise ValueError(
                f"{file}: names {wrong}, but the job attacks {where['method']} seed {where['seed']} "
                f"of {where['model']} on {where['benchmark']}; pass output paths of this checkpoint"
            )
    cache: dict[str, Any] = {}
    results = []
    for file, (kind, calibration, names) in zip(out, progress(draws, desc="attack draws"), strict=True):
        result, _, _ = attack(
            calibration_config(config, kind) if calibration else config,
            kind=kind,
            p=names.get("p"),
            lr=names["lr"],
            run=names["run"],
            checkpoint_cache=cache,
            damage=calibration and where["method"] == START,
            **where,
        )
        write_json(Path(file), result)
        results.append(result)
    return results
