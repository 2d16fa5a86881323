"""Base evaluation and the unlearning job: learning-rate search from the lowest rate, early stopping.

Protocol (paper §6.1, App. C.1): train until the forget score reaches the benchmark's threshold
(MCQA accuracy ≤ 0.33, or ROUGE-L recall ≤ τ); try the learning rates in ascending order and keep
the lowest that reaches it within ``max_steps``. Every try is recorded.
"""

from __future__ import annotations

import logging
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ssiuu.config import (
    MCQA_THRESHOLD,
    benchmark_config,
    learning_rates,
    method_params,
    method_variant,
    unlearning_config,
)
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.finite import NonFiniteLossError, non_finite, require_finite_model
from ssiuu.io import read_json, write_json
from ssiuu.jobs import MethodRun, ModelOnSplit
from ssiuu.models import load_for
from ssiuu.training import QAPair, TrainResult, train

log = logging.getLogger(__name__)


def pairs_of(records: list[QARecord]) -> list[QAPair]:
    """Plain QA pairs for training (unlearning trains on QA, not on the MCQA template)."""
    return [(r.question, r.answer) for r in records]


def forget_eval_records(split: BenchmarkSplit) -> list[QARecord]:
    """The records FS is measured on: the forget set's base QA (all forget QA for TOFU-style)."""
    return split.forget_train


def evaluate(
    config: dict[str, Any],
    benchmark: str,
    model_obj: Any,
    tokenizer: Any,
    split: BenchmarkSplit,
    forget_answers: dict[str, str] | None = None,
) -> dict:
    """FS, RS, test score and US of a model on a split, and each FS item's answer log-probability and margin
    (``docs/results.md``); ``forget_answers`` (record id → greedy answer) are FS answers these weights already
    gave."""
    from ssiuu.evaluation import evaluate_split

    bcfg = benchmark_config(config, benchmark)
    budget = bcfg["max_new_tokens"]
    budgets = {} if budget is None else {"mcqa_max_new_tokens": budget, "rouge_max_new_tokens": budget}
    metrics = evaluate_split(
        model_obj,
        tokenizer,
        split,
        utility_tasks=bcfg["utility_tasks"],
        utility_limit=bcfg["utility_limit"],
        retain_limit=bcfg["eval_limit"],
        test_limit=bcfg["eval_limit"],
        forget_kinds=bcfg["forget_question_kinds"],
        work_dir=Path(config["work_dir"]) / "lm_eval",
        batch_size=config["eval_batch_size"],
        forget_answers=forget_answers,
        **budgets,
    )
    if "per_item" in metrics:
        _add_forget_logprobs(config, model_obj, tokenizer, split, metrics["per_item"]["forget"])
    return metrics


def _add_forget_logprobs(
    config: dict[str, Any], model_obj: Any, tokenizer: Any, split: BenchmarkSplit, items: list[dict[str, Any]]
) -> None:
    """Record each FS item's gold-answer log-probability and its margin over the wrong answers (the attacks'
    continuous measures, :mod:`ssiuu.evaluation.logprob`) in its per-item entry, as ``logprob`` and ``margin``."""
    from ssiuu.evaluation.logprob import answer_measures

    records = forget_eval_records(split)
    options = {"max_length": config["unlearning"]["max_length"], "batch_size": config["eval_batch_size"]}
    logprobs, margins = answer_measures(model_obj, tokenizer, records, **options)
    by_id = {r.id: (lp, m) for r, lp, m in zip(records, logprobs, margins, strict=True)}
    for item in items:
        if item["id"] in by_id:
            item["logprob"], item["margin"] = by_id[item["id"]]


def threshold_for(config: dict[str, Any], benchmark: str, split: BenchmarkSplit) -> float:
    """Early-stop threshold: configured, else 0.33 (MCQA, three options) or τ (mismatched-pair ROUGE-L)."""
    configured = benchmark_config(config, benchmark)["threshold"]
    if configured is not None:
        return float(configured)
    if split.style == "mcqa":
        return MCQA_THRESHOLD
    from ssiuu.evaluation.rouge import mismatched_threshold

    return mismatched_threshold(split.forget + split.retain, seed=benchmark_config(config, benchmark)["seed"])


def base_eval(config: dict[str, Any], target: ModelOnSplit, *, out: str) -> dict:
    """Rule ``base_eval``: the Default row (FS, RS, test, US) and the early-stop threshold."""
    split_obj = BenchmarkSplit.load(target.split)
    start = time.perf_counter()
    model_obj, tokenizer = load_for(config, target.model, target.model_dir)
    with torch.no_grad():
        metrics = evaluate(config, target.benchmark, model_obj, tokenizer, split_obj)
    result = {
        "benchmark": target.benchmark,
        "model": target.model,
        "style": split_obj.style,
        "threshold": threshold_for(config, target.benchmark, split_obj),
        **metrics,
        "split_sizes": {k: len(getattr(split_obj, k)) for k in ("forget", "retain", "test")},
        "wall_time_s": time.perf_counter() - start,
    }
    write_json(out, result)
    return result


def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class _Job:
    """What every learning-rate try of one unlearning job shares."""

    config: dict[str, Any]
    run: MethodRun
    split: BenchmarkSplit
    threshold: float
    start_fs: float

    def __post_init__(self) -> None:
        from ssiuu.methods import get_method

        run = self.run
        self.ucfg = unlearning_config(self.config, run.benchmark, run.method)
        self.method_cls = get_method(method_variant(run.method)[0])
        self.params = method_params(self.config, run.method, run.benchmark)
        self.eval_records = forget_eval_records(self.split)
        self.budget = benchmark_config(self.config, run.benchmark)["max_new_tokens"]
        self.pairs = pairs_of(self.split.forget_train), pairs_of(self.split.retain_train)
        attn = getattr(self.method_cls, "required_attn_implementation", None)
        self.attn = attn(self.params) if callable(attn) else attn
        #: statistics of the starting model that every try shares (KLUE's, SIMU's neuron scores)
        self.start_cache: dict[Any, Any] = {}


class _Outcome(NamedTuple):
    """A finished learning-rate try: its trained model (at its stop step) and what the final evaluation reuses."""

    lr: float
    result: TrainResult
    curve: list[list[float]]
    #: FS at the stop step (``result.steps``)
    stop_fs: float
    model: Any
    tokenizer: Any
    converged: bool
    #: the greedy answer to each FS record at the final weights (an FS check ran on them)
    forget_answers: dict[str, str]


def _try_rate(job: _Job, lr: float) -> tuple[dict[str, Any], _Outcome | None]:
    """Train at one learning rate up to ``stop_step``, the first step at which FS reaches the threshold (else
    ``max_steps``; FS checked every ``eval_every`` steps, then step by step back from the first check that
    reached it: :func:`ssiuu.training.train`): ``(try entry, outcome)``, or ``(entry, None)`` when the try became
    non-finite. ``fs_curve``: ``[step, FS]`` of every check in the order made, after ``[0, start FS]``."""
    from ssiuu.evaluation import answer_items, mean_item_score

    model_obj, tokenizer = load_for(
        job.config, job.run.model, job.run.model_dir, attn_implementation=job.attn
    )
    torch.manual_seed(job.run.seed)
    forget_pairs, retain_pairs = job.pairs
    method_obj = job.method_cls(
        model_obj,
        tokenizer,
        forget=forget_pairs,
        retain=retain_pairs,
        seed=job.run.seed,
        start_cache=job.start_cache,
        **job.params,
    )
    curve: list[list[float]] = [[0, job.start_fs]]
    answers: dict[int, dict[str, str]] = {}  # step → the FS answers its check gave
    ucfg = job.ucfg

    def check(step: int, m: Any) -> bool:
        with torch.no_grad():
            items = answer_items(
                m,
                tokenizer,
                job.eval_records,
                job.split.style,
                max_new_tokens=job.budget,
                batch_size=job.config["eval_batch_size"],
            )
        fs = mean_item_score(items, job.split.style)
        answers[step] = {it["id"]: it["generation"] for it in items}
        curve.append([step, fs])
        log.info("%s lr=%g step %d: FS=%.4f (threshold %.4f)", job.run.method, lr, step, fs, job.threshold)
        return fs <= job.threshold

    try:
        res = train(
            model_obj,
            tokenizer,
            method_obj.loss,
            method_obj.streams(),
            lr=lr,
            max_steps=ucfg["max_steps"],
            batch_size=ucfg["batch_size"],
            grad_accum=ucfg["grad_accum"],
            seed=job.run.seed,
            optimizer_factory=method_obj.optimizer_factory(),
            param_mask=method_obj.parameter_mask(),
            check=check,
            check_every=ucfg["eval_every"],
            step_state=(method_obj,),
            max_length=ucfg["max_length"],
            desc=f"{job.run.method} lr={lr:g}",
        )
    except NonFiniteLossError as err:
        log.warning("%s lr=%g skipped: %s", job.run.method, lr, err)
        return {"lr": lr, "converged": False, "non_finite": str(err), "fs_curve": curve, "error": err}, None
    stop_fs = dict(curve)[res.steps]  # train stops at a checked step (or at step 0 when max_steps is 0)
    converged = stop_fs <= job.threshold
    entry = {
        "lr": lr,
        "steps": res.steps,
        "stop_step": res.steps,
        "stop_fs": stop_fs,
        "converged": converged,
        "fs_curve": curve,
        "loss_curve": res.losses,
        **_loss_terms(res),
        "wall_time_s": res.wall_time_s,
    }
    final = answers.get(res.steps, {})  # the FS answers the final weights gave
    return entry, _Outcome(lr, res, curve, stop_fs, model_obj, tokenizer, converged, final)


def _loss_terms(res: TrainResult) -> dict[str, Any]:
    """The terms the method's loss logged per step (``loss_terms``, aligned with ``loss_curve``) and, for a
    loss with a regulariser (SSIUU), its ratio to the rest of the loss (``regulariser_to_gd_ratio``)."""
    ratio = res.regulariser_ratio()
    return {"loss_terms": res.loss_terms()} | ({} if ratio is None else {"regulariser_to_gd_ratio": ratio})


def _search(job: _Job) -> tuple[_Outcome, list[dict[str, Any]]]:
    """The learning-rate search, lowest rate first: the first try that converges, else the one that forgot most
    (a tie keeps the lower rate). Raises :class:`NonFiniteLossError` when every try became non-finite."""
    tries: list[dict[str, Any]] = []
    chosen, failure = None, None
    for lr in learning_rates(job.config, job.run.method, job.run.benchmark):
        entry, outcome = _try_rate(job, lr)
        failure = entry.pop("error", failure)
        tries.append(entry)
        if outcome is not None and (chosen is None or outcome.stop_fs < chosen.stop_fs):
            chosen = outcome
        if outcome is not None and outcome.converged:
            break
    if chosen is None:
        rates = ", ".join(f"{t['lr']:g}" for t in tries)
        raise non_finite(
            job.run.method, f"every learning rate ({rates}) made the model non-finite"
        ) from failure
    return chosen, tries


def run_unlearning(config: dict[str, Any], run: MethodRun, *, base: str, out: str, checkpoint: str) -> dict:
    """Rule ``unlearn``: learning-rate search, early stopping, final evaluation, checkpoint + JSON.

    The checkpoint and the evaluation are the chosen try's weights at its ``stop_step`` (see :func:`_try_rate`);
    ``loss_terms`` and ``regulariser_to_gd_ratio`` are its loss's logged terms (:func:`_loss_terms`).
    When no learning rate reaches the threshold, the try with the lowest final FS is evaluated and saved
    (marked ``converged: false``); every try stays in ``tries``. A try whose loss, weights or evaluation
    logits become NaN/inf is skipped with a warning (``non_finite`` in its entry); when every try is,
    :class:`NonFiniteLossError` is raised and nothing is written."""
    split_obj, base_result = BenchmarkSplit.load(run.split), read_json(base)
    threshold, start_fs = float(base_result["threshold"]), float(base_result["forget_score"])
    job = _Job(config, run, split_obj, threshold, start_fs)
    start = time.perf_counter()
    chosen, tries = _search(job)
    with torch.no_grad():
        metrics = evaluate(
            config, run.benchmark, chosen.model, chosen.tokenizer, split_obj, chosen.forget_answers
        )
    _save_checkpoint(chosen.model, chosen.tokenizer, checkpoint)
    result = {
        **run.header(),
        "params": job.params,
        "converged": chosen.converged,
        "threshold": job.threshold,
        "lr": chosen.lr,
        "steps": chosen.result.steps,
        "stop_step": chosen.result.steps,
        "stop_fs": chosen.stop_fs,
        "fs_curve": chosen.curve,
        **_loss_terms(chosen.result),
        **metrics,
        "tries": tries,
        "wall_time_s": time.perf_counter() - start,
        "peak_memory_mb": _peak_memory_mb(),
    }
    if not chosen.converged:
        log.warning(
            "%s never reached the threshold %.3f; result marked converged=false", run.method, job.threshold
        )
    write_json(out, result)
    return result


def _save_checkpoint(model_obj: Any, tokenizer: Any, path: str | Path) -> None:
    """Save atomically: into ``<path>.partial`` first, then rename; a NaN/inf weight saves nothing."""
    path = Path(path)
    require_finite_model(model_obj, f"checkpoint {path}")
    if getattr(model_obj, "hf_quantizer", None) is not None or hasattr(
        model_obj.config, "quantization_config"
    ):
        # a checkpoint prepared from GGUF may carry the GGUF quantisation marker; its weights are plain
        model_obj.hf_quantizer = None
        model_obj.is_quantized = False
        if hasattr(model_obj.config, "quantization_config"):
            del model_obj.config.quantization_config
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model_obj.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
