"""Evaluation: forget score FS, retain/test scores and the utility score US (paper Sec. 5.1, App. C).

* FaithUn-style (``style == "mcqa"``): FS = 3-option MCQA accuracy on the base questions of the forget
  clusters; retain score on the retain base questions; test score on the test clusters (all kinds);
  ``by_kind`` = accuracy on the forget clusters per question kind (base / paraphrase / multihop /
  same_answer); US = mean lm-eval accuracy over the utility tasks (:mod:`ssiuu.evaluation.utility`).
* TOFU-style (``style == "rouge"``): FS = mean ROUGE-L recall of greedy answers on the forget set; retain
  score on the retain set; US = mean ROUGE-L recall over the split's utility sets (Real Authors, World
  Facts — TOFU scores them with a truth ratio too; this pipeline keeps ROUGE-L recall only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ssiuu.data.records import ITEM_SCORE, BenchmarkSplit, QARecord
from ssiuu.data.templates import mcqa_prompt
from ssiuu.evaluation.generation import greedy_generate
from ssiuu.evaluation.mcqa import score_generations
from ssiuu.evaluation.rouge import mismatched_threshold, rouge_l_recall
from ssiuu.evaluation.utility import OFFLINE_TASKS, utility_score

__all__ = [
    "OFFLINE_TASKS",
    "SPLIT_METRICS",
    "answer_items",
    "evaluate_split",
    "forget_item_scores",
    "forget_score",
    "greedy_generate",
    "mean_item_score",
    "mismatched_threshold",
    "rouge_l_recall",
    "utility_score",
]

#: The keys of :func:`evaluate_split`'s result (what ``base.json`` and ``unlearn.json`` hold of an evaluation).
SPLIT_METRICS = ("forget_score", "retain_score", "test_score", "utility", "US", "per_item", "by_kind")

#: Default generation lengths: MCQA answers are one option; TOFU answers are a sentence or two.
MCQA_MAX_NEW_TOKENS = 16
ROUGE_MAX_NEW_TOKENS = 64


def answer_items(
    model: Any,
    tokenizer: Any,
    records: Sequence[QARecord],
    style: str,
    *,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    match_rule: str = "unique_mention",
) -> list[dict[str, Any]]:
    """Greedy answers to ``records`` scored per item (FS, Sec. 5.1): MCQA answers to ``mcqa_prompt(record)``
    matched to the options (``correct``), or answers to the plain questions scored by ROUGE-L recall against
    the gold answer (``rougeL_recall``). ``max_new_tokens`` defaults to the style's budget."""
    records = list(records)
    if not records:
        raise ValueError(f"no records to score ({style}): the split part being scored is empty")
    prompts = _prompts(style, records)
    budget = max_new_tokens or (MCQA_MAX_NEW_TOKENS if style == "mcqa" else ROUGE_MAX_NEW_TOKENS)
    gens = greedy_generate(
        model, tokenizer, prompts, max_new_tokens=budget, batch_size=batch_size, desc=style
    )
    per_item, _ = _score_parts(style, {"items": records}, gens, match_rule)
    return per_item["items"]


def forget_item_scores(
    model: Any, tokenizer: Any, records: Sequence[QARecord], style: str, **options: Any
) -> list[float]:
    """Per record: 1.0/0.0 for a right/wrong MCQA answer (``style='mcqa'``) or its ROUGE-L recall; the keyword
    options are those of :func:`answer_items`."""
    items = answer_items(model, tokenizer, records, style, **options)  # an unknown style raises here
    return [float(item[ITEM_SCORE[style]]) for item in items]


def mean_item_score(items: Sequence[dict[str, Any]], style: str) -> float:
    """FS of :func:`answer_items`' entries: MCQA accuracy (``style='mcqa'``) or mean ROUGE-L recall."""
    return sum(float(item[ITEM_SCORE[style]]) for item in items) / len(items)


def forget_score(
    model: Any, tokenizer: Any, records: Sequence[QARecord], style: str, **options: Any
) -> float:
    """FS: MCQA accuracy (``style='mcqa'``) or mean ROUGE-L recall (``style='rouge'``) on ``records``; the
    keyword options are those of :func:`answer_items`."""
    return mean_item_score(answer_items(model, tokenizer, records, style, **options), style)


def _prompts(style: str, records: Sequence[QARecord]) -> list[str]:
    """The prompt of each record: the paper's MCQA template, or the plain (chat-wrapped) question."""
    if style == "mcqa":
        return [mcqa_prompt(r) for r in records]
    if style == "rouge":
        return [r.question for r in records]
    raise ValueError(f"unknown benchmark style {style!r}: expected 'mcqa' or 'rouge'")


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _by_kind(items: list[dict[str, Any]], records: Sequence[QARecord], key: str) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for item, rec in zip(items, records, strict=True):
        groups[rec.kind].append(float(item[key]))
    return {kind: float(sum(v) / len(v)) for kind, v in sorted(groups.items())}


def _parts(
    split: BenchmarkSplit,
    retain_limit: int | None,
    test_limit: int | None,
    forget_kinds: Sequence[str] | None = None,
) -> dict[str, list[QARecord]]:
    """The record sets one evaluation scores (forget, retain, test, ROUGE utility sets); ``forget_kinds``
    keeps only those MCQA forget question kinds (``None`` = all)."""
    retain = split.retain_train[:retain_limit] if retain_limit is not None else split.retain_train
    test = list(split.test)[:test_limit] if test_limit is not None else list(split.test)
    if split.style == "mcqa":
        forget = [r for r in split.forget if forget_kinds is None or r.kind in forget_kinds]
        parts: dict[str, list[QARecord]] = {"forget": forget, "retain": retain, "test": test}
    else:
        parts = {"forget": split.forget_train, "retain": retain, "test": test}
        parts.update({f"utility/{k}": list(v) for k, v in split.utility.items()})
    return parts


def _generations(
    model: Any,
    tokenizer: Any,
    split: BenchmarkSplit,
    parts: dict[str, list[QARecord]],
    forget_answers: Mapping[str, str],
    max_new_tokens: int,
    batch_size: int,
) -> list[str]:
    """Greedy answers to every record of ``parts`` in order, in one :func:`greedy_generate` pass (the shared
    prompt prefix is encoded once); a forget record whose id is in ``forget_answers`` takes that answer
    instead of being generated again."""
    records = [(name, r) for name, recs in parts.items() for r in recs]
    known = [name == "forget" and r.id in forget_answers for name, r in records]
    todo = [r for (_, r), done in zip(records, known, strict=True) if not done]
    prompts = _prompts(split.style, todo)
    options = {"max_new_tokens": max_new_tokens, "batch_size": batch_size, "desc": f"eval {split.name}"}
    fresh = iter(greedy_generate(model, tokenizer, prompts, **options) if todo else [])
    return [
        forget_answers[r.id] if done else next(fresh) for (_, r), done in zip(records, known, strict=True)
    ]


def _score_parts(
    style: str, parts: dict[str, list[QARecord]], gens: list[str], match_rule: str
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float | None]]:
    """Per-item entries and the mean score of every part, from the generations in the order of ``parts``."""
    per_item: dict[str, list[dict[str, Any]]] = {}
    scores: dict[str, float | None] = {}
    start = 0
    for name, recs in parts.items():
        chunk = gens[start : start + len(recs)]
        start += len(recs)
        if style == "mcqa":
            items = score_generations(recs, chunk, rule=match_rule).items
            scores[name] = _mean([float(it["correct"]) for it in items])
        else:
            items = [
                {
                    "id": r.id,
                    "generation": g,
                    "answer": r.answer,
                    "rougeL_recall": rouge_l_recall(g, r.answer),
                }
                for r, g in zip(recs, chunk, strict=True)
            ]
            scores[name] = _mean([it["rougeL_recall"] for it in items])
        per_item[name] = items
    return per_item, scores


def evaluate_split(
    model: Any,
    tokenizer: Any,
    split: BenchmarkSplit,
    *,
    utility_tasks: Sequence[str] = OFFLINE_TASKS,
    utility_limit: int | None = 500,
    work_dir: str | Path = "work",
    batch_size: int = 16,
    retain_limit: int | None = None,
    test_limit: int | None = None,
    forget_kinds: Sequence[str] | None = None,
    mcqa_max_new_tokens: int = MCQA_MAX_NEW_TOKENS,
    rouge_max_new_tokens: int = ROUGE_MAX_NEW_TOKENS,
    match_rule: str = "unique_mention",
    seed: int = 0,
    forget_answers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """All scores of one model on one benchmark split.

    Returns ``{"forget_score", "retain_score", "test_score", "utility", "US", "per_item", "by_kind"}``.
    ``test_score`` / ``US`` are ``None`` when the split has no test records / no utility source.
    ``retain_limit`` / ``test_limit`` keep only the first N retain / test records (``None`` = all);
    ``forget_kinds`` keeps only those MCQA forget question kinds (``None`` = all; FS needs ``base``).
    ``forget_answers`` maps forget record ids to greedy answers that these weights already gave at the same
    generation budget (the unlearning job's last FS check); those records are scored from them, not generated
    again.

    US: for a ROUGE-style split with utility sets, their mean ROUGE-L recall (``utility["tasks"]`` per
    set); otherwise the lm-eval accuracy over ``utility_tasks`` (:func:`utility_score`, ``utility_limit``
    items per task). An empty ``utility_tasks`` skips lm-eval (``US`` is then ``None``).
    """
    parts = _parts(split, retain_limit, test_limit, forget_kinds)
    max_new = mcqa_max_new_tokens if split.style == "mcqa" else rouge_max_new_tokens
    gens = _generations(model, tokenizer, split, parts, forget_answers or {}, max_new, batch_size)
    per_item, scores = _score_parts(split.style, parts, gens, match_rule)
    key = ITEM_SCORE[split.style]
    by_kind = _by_kind(per_item["forget"], parts["forget"], key)
    if split.style == "mcqa":
        # FS is scored on the base questions only (what unlearning trained on); by_kind keeps the rest.
        base_items = [
            it for it, r in zip(per_item["forget"], parts["forget"], strict=True) if r.kind in ("base", "qa")
        ]
        forget_score_value = _mean([float(it["correct"]) for it in base_items])
    else:
        forget_score_value = scores["forget"]
    utility_sets = {k.removeprefix("utility/"): v for k, v in scores.items() if k.startswith("utility/")}
    if split.style == "rouge" and utility_sets:
        utility = {
            "tasks": {k: v for k, v in utility_sets.items() if v is not None},
            "metric": "rougeL_recall",
        }
        us = _mean(list(utility["tasks"].values()))
    elif utility_tasks:
        utility = utility_score(
            model,
            tokenizer,
            list(utility_tasks),
            limit=utility_limit,
            work_dir=work_dir,
            batch_size=batch_size,
            seed=seed,
        )
        utility["metric"] = "accuracy"
        us = utility["US"]
    else:
        utility, us = {}, None
    return {
        "forget_score": forget_score_value,
        "retain_score": scores["retain"],
        "test_score": scores["test"],
        "utility": utility,
        "US": us,
        "per_item": per_item,
        "by_kind": by_kind,
    }
