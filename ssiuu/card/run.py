"""Rule ``card_tests``: every test of the card on one model (a method's checkpoint, a control or a brought
checkpoint), one per-item result file per test (``layout.TEMPLATES["card_test"]``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch

from ssiuu import layout
from ssiuu.card import IN_CONTEXT, LENS, PLAIN, PROBE, quantized_test
from ssiuu.card.checkpoints import (
    brought_entry,
    check_checkpoint_dir,
    check_same_tokenizer,
    load_tokenizer,
)
from ssiuu.card.scoring import ScoringOptions, scored_items, summary
from ssiuu.data.records import ITEM_SCORE, BenchmarkSplit, QARecord
from ssiuu.io import write_json
from ssiuu.jobs import MethodRun

log = logging.getLogger(__name__)
#: the per-item score of the tests that do not read the model's answers (the others: the benchmark's forget score)
OWN_SCORE_FIELDS = {PROBE: "correct", LENS: "readable"}


def probe_training_records(split: BenchmarkSplit, limit: int | None) -> list[QARecord]:
    """The probe's training items: the retain and test records with same-format wrong answers (the first
    ``limit`` of them; None = all)."""
    records = [r for r in [*split.retain, *split.test] if r.false_options or r.perturbed_answers]
    return records[:limit] if limit is not None else records


def guess_rate(records: list[QARecord], style: str) -> dict[str, float]:
    """``{"chance": 1/(K + 1)}`` averaged over MCQA records (a guess among the options); nothing on ROUGE."""
    if style != "mcqa":
        return {}
    return {"chance": sum(1 / len(r.options) for r in records) / len(records)}


def check_brought(config: dict[str, Any], run: MethodRun, start_dir: str) -> None:
    """For brought weights (a ``checkpoints`` entry's ``path`` or own ``start``): weights on disk and a tokenizer;
    for the checkpoint, its starting model's tokenizer (the entry's ``start``, else the config's model's)."""
    found = brought_entry(config["checkpoints"], run.method)
    if found is None:
        return
    name, key = found
    path = check_checkpoint_dir(name, run.model_dir, key)
    tokenizer = load_tokenizer(name, path, key)
    if key == "start":
        return
    if "start" in config["checkpoints"][name]:  # its own starting model
        start = load_tokenizer(name, start_dir, "start")
    else:
        from transformers import AutoTokenizer

        start = AutoTokenizer.from_pretrained(start_dir)
    check_same_tokenizer(name, path, tokenizer, start, start_dir)


def card_runners(config: dict[str, Any], benchmark: str, split: BenchmarkSplit) -> dict[str, Callable]:
    """Test name → a function of ``(model, tokenizer)`` returning the test's result (its items and means)."""
    from ssiuu.card.in_context import in_context_items
    from ssiuu.card.lens import lens_items
    from ssiuu.card.probe import probe_items
    from ssiuu.card.quantize import quantized_copy
    from ssiuu.unlearning import forget_eval_records

    card = config["card"]
    style, forget = split.style, forget_eval_records(split)
    options = ScoringOptions.from_config(config, benchmark)

    def plain(model: Any, tokenizer: Any) -> dict[str, Any]:
        items = scored_items(model, tokenizer, forget, style, options)
        return {**guess_rate(forget, style), **summary(items, style), "items": items}

    def quantized(bits: int) -> Callable:
        def run(model: Any, tokenizer: Any) -> dict[str, Any]:
            low = quantized_copy(model, bits, card["group_size"])
            items = scored_items(low, tokenizer, forget, style, options)
            settings = {"bits": bits, "group_size": card["group_size"], **guess_rate(forget, style)}
            return {**settings, **summary(items, style), "items": items}

        return run

    def in_context(model: Any, tokenizer: Any) -> dict[str, Any]:
        k, seed = card["in_context_k"], card["seed"]
        result = in_context_items(model, tokenizer, forget, style, k=k, seed=seed, options=options)
        return guess_rate(forget, style) | result

    def probe(model: Any, tokenizer: Any) -> dict[str, Any]:
        train = probe_training_records(split, card["probe_train_limit"])
        settings = {"folds": card["probe_folds"], "c": card["probe_c"], "seed": card["seed"]}
        sizes = {"max_length": options.max_length, "batch_size": options.batch_size}
        return probe_items(model, tokenizer, train, forget, style, **settings, **sizes)

    def lens(model: Any, tokenizer: Any) -> dict[str, Any]:
        sizes = {"max_length": options.max_length, "batch_size": options.batch_size}
        return lens_items(model, tokenizer, forget, seed=card["seed"], **sizes)

    runners = {PLAIN: plain, IN_CONTEXT: in_context, PROBE: probe, LENS: lens}
    return runners | {quantized_test(bits): quantized(bits) for bits in card["quantization_bits"]}


def card_tests(config: dict[str, Any], run: MethodRun, *, start_dir: str, out: list[str]) -> dict[str, Any]:
    """Command ``card-tests``: the tests that ``out`` names (one ``card_test`` path each) on ``run``'s model,
    each written to its file; a brought checkpoint is checked first (:func:`check_brought`)."""
    from ssiuu.models import load_for

    tests = {layout.parse("card_test", path)["test"]: path for path in out}
    check_brought(config, run, start_dir)
    split = BenchmarkSplit.load(run.split)
    runners = card_runners(config, run.benchmark, split)
    unknown = sorted(set(tests) - set(runners))
    if unknown:
        raise ValueError(f"unknown card test(s) {unknown}; the card runs {sorted(runners)}")
    model, tokenizer = load_for(config, run.model, run.model_dir)
    results = {}
    for name, path in tests.items():
        start = time.perf_counter()
        with torch.no_grad():
            result = runners[name](model, tokenizer)
        results[name] = {
            **run.header(),
            "test": name,
            "style": split.style,
            "score_field": OWN_SCORE_FIELDS.get(name, ITEM_SCORE[split.style]),
            **result,
            "wall_time_s": time.perf_counter() - start,
        }
        write_json(path, results[name])
        log.info("card test %s of %s: %.1f s", name, run.method, results[name]["wall_time_s"])
    return results
