"""Rules ``build_benchmark`` and ``split``: records on disk, then the model-probed forget/retain/test split."""

from __future__ import annotations

import logging
from typing import Any

from ssiuu.config import benchmark_config
from ssiuu.data.records import BenchmarkSplit, QARecord, in_file, records_from_dicts, required
from ssiuu.io import read_json, write_json

log = logging.getLogger(__name__)

#: What a benchmark file written by :func:`build_benchmark` holds.
RECORDS_FILE = "a benchmark file holds kind and either split or records and utility; re-run `build_benchmark`"


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


def probe_known(model: Any, tokenizer: Any, records: list[QARecord], batch_size: int) -> set[str]:
    """Ids of the base questions the model answers correctly under the paper's MCQA template."""
    from ssiuu.evaluation import answer_items

    base = [r for r in records if r.kind == "base"]
    return {
        item["id"]
        for item in answer_items(model, tokenizer, base, "mcqa", batch_size=batch_size)
        if item["correct"]
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
            known = probe_known(model_obj, tokenizer, recs, batch_size=config["eval_batch_size"])
        recs = filter_clusters(recs, known)
        meta["clusters_after_probe"] = len(cluster_order(recs))
        meta["probe_accuracy"] = meta["clusters_after_probe"] / max(1, meta["clusters_before_probe"])
        log.info(
            "probe: the base model knows %d of %d clusters",
            meta["clusters_after_probe"],
            meta["clusters_before_probe"],
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
