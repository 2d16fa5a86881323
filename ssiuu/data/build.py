"""Rules ``build_benchmark`` and ``split``: records on disk, then the model-probed forget/retain/test split."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ssiuu.config import benchmark_config
from ssiuu.data.records import BenchmarkSplit, QARecord, in_file, records_from_dicts, required
from ssiuu.io import read_json, write_json

log = logging.getLogger(__name__)

#: What a benchmark file written by :func:`build_benchmark` holds.
RECORDS_FILE = "a benchmark file holds kind and either split or records and utility; re-run `build_benchmark`"

#: The config keys that size the built-in worldfacts benchmark (:func:`ssiuu.data.worldfacts.build_worldfacts`).
WORLDFACTS_SIZE = ("min_country_population", "min_city_population", "max_cities_per_country")


def build_benchmark(config: dict[str, Any], benchmark: str, out: str) -> dict[str, Any]:
    """Load (FaithUn, TOFU) or generate (worldfacts, fictitious) a benchmark and write it as JSON.

    Benchmarks with official splits are written as a split; the others as records plus utility sets.
    """
    from ssiuu.data import load_benchmark, utility_sets

    bcfg = benchmark_config(config, benchmark)
    loaded = load_benchmark(
        bcfg["kind"],
        path=bcfg["path"],
        seed=bcfg["seed"],
        name=benchmark,
        n_authors=bcfg["n_authors"],
        qa_per_author=bcfg["qa_per_author"],
        fields=bcfg.get("fields"),
        **{key: bcfg[key] for key in WORLDFACTS_SIZE},
        **({"split_dir": bcfg["split_dir"]} if bcfg["split_dir"] else {}),
    )
    if isinstance(loaded, BenchmarkSplit):
        data: dict[str, Any] = {"kind": bcfg["kind"], "split": loaded.to_dict()}
    else:
        records = loaded
        utility = utility_sets(bcfg["kind"], seed=bcfg["seed"], n=bcfg["utility_n"])
        data = {
            "kind": bcfg["kind"],
            "records": [r.to_dict() for r in records],
            "utility": {k: [r.to_dict() for r in v] for k, v in utility.items()},
        }
    write_json(out, data)
    return data


@dataclass
class ProbeResult:
    """What the split's probe found: the base questions the model answers right under every option order."""

    known: set[str]  #: ids of the base questions right under every probed option order
    orders: int  #: option orders each base question was asked under (its cyclic rotations 0 .. orders-1)
    options: int  #: options per question (the most of any base question)
    asked: int  #: base questions probed
    passed: list[int]  #: base questions right under each of orders 0 .. k, for k = 0 .. orders-1

    @property
    def rule(self) -> str:
        """The rule in words, for ``split.json``'s meta."""
        if self.orders == 1:
            return "right under the record's own option order"
        if self.orders < self.options:
            return f"right under the first {self.orders} of the {self.options} cyclic option orders"
        return f"right under all {self.orders} cyclic option orders"

    @property
    def chance_pass(self) -> float:
        """The probability that a uniform guesser passes: (1/options)^orders."""
        return (1 / self.options) ** self.orders


def known_under_orders(
    records: Sequence[QARecord], generate: Callable[[list[str], int], list[str]], orders: int | None = None
) -> ProbeResult:
    """Probe the ``base`` records: a question passes only if it is answered right (the MCQA match rule)
    under each of its first ``orders`` cyclic option orders (``None``: all of them, one per option).

    Under all cyclic orders every option stands once in every position, so a model that picks by
    position, or guesses, fails: a uniform guesser passes 3 options with probability (1/3)^3 = 1/27
    instead of 1/3 under one order. ``generate(prompts, shift)`` answers the prompts of one order, in
    order; order ``shift`` asks only the questions right under every earlier order (one generation pass
    per order over the questions still in the running).
    """
    from ssiuu.data.templates import mcqa_prompt
    from ssiuu.evaluation.mcqa import score_generations

    base = [r for r in records if r.kind == "base"]
    n_options = max((len(r.options) for r in base), default=1)
    n_orders = n_options if orders is None else min(orders, n_options)
    if n_orders < 1:
        raise ValueError(f"probe orders must be at least 1, got {orders}")
    running, passed = base, []
    for shift in range(n_orders):
        asked = [r for r in running if shift < len(r.options)]  # fewer options than orders: all asked
        gens = generate([mcqa_prompt(r, shift) for r in asked], shift) if asked else []
        wrong = {it["id"] for it in score_generations(asked, gens).items if not it["correct"]}
        running = [r for r in running if r.id not in wrong]
        passed.append(len(running))
    known = {r.id for r in running}
    return ProbeResult(known=known, orders=n_orders, options=n_options, asked=len(base), passed=passed)


def probe_known(
    model: Any, tokenizer: Any, records: list[QARecord], batch_size: int, orders: int | None = None
) -> ProbeResult:
    """The base questions the model answers right under the paper's MCQA template in every cyclic option
    order (:func:`known_under_orders`), by batched greedy generation."""
    from ssiuu.evaluation import MCQA_MAX_NEW_TOKENS, greedy_generate

    def generate(prompts: list[str], shift: int) -> list[str]:
        options = {"max_new_tokens": MCQA_MAX_NEW_TOKENS, "batch_size": batch_size}
        return greedy_generate(model, tokenizer, prompts, desc=f"probe order {shift + 1}", **options)

    return known_under_orders(records, generate, orders)


def probe_meta(probe: ProbeResult, before: int, after: int) -> dict[str, Any]:
    """``split.json``'s meta entries of the probe: its rule, the clusters before and after it (one base
    question per cluster) and how many would have passed under the record's own option order alone."""
    return {
        "probe_rule": probe.rule,
        "probe_orders": probe.orders,
        "clusters_after_probe": after,
        "probe_accuracy": after / max(1, before),
        "clusters_right_first_order": probe.passed[0],
        "clusters_right_by_orders": probe.passed,
        "probe_chance_pass": probe.chance_pass,
    }


def make_split(
    config: dict[str, Any], benchmark: str, model: str, *, records: str, model_dir: str, out: str
) -> BenchmarkSplit:
    """Rule ``split``: probe (MCQA benchmarks), cap the cluster count, split by cluster with the seed."""
    import torch

    from ssiuu.data import style_of
    from ssiuu.data.splits import cluster_order, filter_clusters, split_authors, split_by_cluster
    from ssiuu.models import load_for

    bcfg = benchmark_config(config, benchmark)
    with in_file(records):
        data = read_json(records)
        if "split" in data:  # official split files (FaithUn, TOFU)
            split = BenchmarkSplit.from_dict(data["split"])
            split.meta["source"] = "official"
            split.save(out)
            return split
        recs = records_from_dicts(required(data, "records", where="benchmark", holds=RECORDS_FILE), "records")
        utility = {k: records_from_dicts(v, f"utility[{k!r}]") for k, v in data.get("utility", {}).items()}
    style = style_of(bcfg["kind"])
    meta: dict[str, Any] = {"source": "generated", "clusters_before_probe": len(cluster_order(recs))}
    if style == "mcqa" and bcfg["probe"]:
        model_obj, tokenizer = load_for(config, model, model_dir)
        with torch.no_grad():
            probe = probe_known(
                model_obj, tokenizer, recs, batch_size=config["eval_batch_size"], orders=bcfg["probe_orders"]
            )
        recs = filter_clusters(recs, probe.known)
        meta.update(probe_meta(probe, meta["clusters_before_probe"], len(cluster_order(recs))))
        log.info(
            "probe: the base model knows %d of %d clusters (%s; %d under the first order alone)",
            meta["clusters_after_probe"],
            meta["clusters_before_probe"],
            probe.rule,
            probe.passed[0],
        )
    if bcfg["max_clusters"] is not None:
        keep = set(cluster_order(recs)[: bcfg["max_clusters"]])
        recs = [r for r in recs if r.cluster in keep]
    meta["clusters_used"] = len(cluster_order(recs))
    fractions = bcfg["split"]
    if style == "mcqa":
        split = split_by_cluster(
            recs,
            forget=fractions["forget"],
            retain=fractions["retain"],
            test=fractions["test"],
            seed=bcfg["seed"],
            name=benchmark,
            style=style,
            utility=utility,
        )
    else:
        split = split_authors(
            recs,
            forget_fraction=fractions["forget"],
            seed=bcfg["seed"],
            name=benchmark,
            style=style,
            utility=utility,
        )
    split.meta.update(meta)
    split.save(out)
    return split
