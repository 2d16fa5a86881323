"""Rule ``pretrain``: TOFU-style pre-finetuning, so the model knows the synthetic facts before unlearning.

The paper fine-tunes on the whole TOFU dataset at lr 1e-5 for 5 epochs (App. C.1). The forget-set
ROUGE-L recall is measured before and after, so a run shows that the knowledge was really acquired.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ssiuu.config import benchmark_config
from ssiuu.data.records import BenchmarkSplit
from ssiuu.io import write_json
from ssiuu.jobs import ModelOnSplit
from ssiuu.models import load_for
from ssiuu.training import nll_loss, train
from ssiuu.unlearning import _save_checkpoint, pairs_of

#: Retain records scored before/after (the forget set is scored whole); the full retain set is scored by base_eval.
RETAIN_SAMPLE = 40


def pretrain(
    config: dict[str, Any], target: ModelOnSplit, *, out: str, metrics: str, retain_only: bool = False
) -> dict[str, Any]:
    """Fine-tune on forget + retain (the starting model), or on the retain set only (``retain_only``: the
    never-learned control of :mod:`ssiuu.references`), with the same learning rate, batch size and epochs."""
    from ssiuu.evaluation import forget_score

    benchmark = target.benchmark
    split_obj = BenchmarkSplit.load(target.split)
    if split_obj.style != "rouge":
        raise ValueError(
            f"benchmark {benchmark!r} is MCQA-style: it is not pre-finetuned (only TOFU-style ones are)"
        )
    pcfg = benchmark_config(config, benchmark)["pretrain"]
    data = pairs_of(split_obj.retain if retain_only else split_obj.forget + split_obj.retain)
    model_obj, tokenizer = load_for(config, target.model, target.model_dir)
    start = time.perf_counter()
    retain_sample = split_obj.retain[:RETAIN_SAMPLE]

    budget = benchmark_config(config, benchmark)["max_new_tokens"]

    def scores() -> dict[str, float]:
        with torch.no_grad():
            options = {"max_new_tokens": budget, "batch_size": config["eval_batch_size"]}
            return {
                "forget": forget_score(model_obj, tokenizer, split_obj.forget, "rouge", **options),
                "retain_sample": forget_score(model_obj, tokenizer, retain_sample, "rouge", **options),
            }

    before = scores()
    max_steps = math.ceil(len(data) / pcfg["batch_size"]) * pcfg["epochs"]
    res = train(
        model_obj,
        tokenizer,
        nll_loss,
        {"all": data},
        lr=pcfg["lr"],
        max_steps=max_steps,
        batch_size=pcfg["batch_size"],
        seed=benchmark_config(config, benchmark)["seed"],
        max_length=config["unlearning"]["max_length"],
        desc=f"pretrain {benchmark}",
    )
    after = scores()
    _save_checkpoint(model_obj, tokenizer, out)
    result = {
        "benchmark": benchmark,
        "model": target.model,
        "retain_only": retain_only,
        "rouge_l_recall_before": before,
        "rouge_l_recall_after": after,
        "steps": res.steps,
        "epochs": pcfg["epochs"],
        "lr": pcfg["lr"],
        "final_loss": res.losses[-1],
        "wall_time_s": time.perf_counter() - start,
    }
    write_json(metrics, result)
    return result
