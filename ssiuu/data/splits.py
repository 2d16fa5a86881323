"""Cluster-level splitting of benchmark records into forget / retain / test sets.

Every record belongs to a ``cluster`` (a FaithUn-style fact cluster or a TOFU-style author); a cluster
never straddles two splits, so a paraphrase of a forgotten fact is never scored as "retained".

* :func:`split_by_cluster` — FaithUn proportions (forget 5 %, retain 10 %, test 70 % of the clusters,
  Yang et al. 2025 / SSIUU App. C.1). For the real FaithUn the official index files override it
  (see :mod:`ssiuu.data.faithun`).
* :func:`split_authors` — TOFU-style: forget = whole authors (TOFU ``forget01`` = 1 % of the authors),
  retain = all other authors.
* :func:`filter_clusters` — keeps only clusters whose base fact the model knows (the probe step).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from ssiuu.data.records import BenchmarkSplit, QARecord, RecordError


def cluster_order(records: Iterable[QARecord]) -> list[str]:
    """Cluster ids in order of first appearance."""
    seen: dict[str, None] = {}
    for r in records:
        seen.setdefault(r.cluster, None)
    return list(seen)


def _group(records: Sequence[QARecord], clusters: set[str]) -> list[QARecord]:
    return [r for r in records if r.cluster in clusters]


def _check_fraction(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"split fraction {name}={value!r} must be a number in [0, 1]")


def split_sizes(n_clusters: int, forget: float, retain: float, test: float) -> tuple[int, int, int]:
    """Number of clusters in forget / retain / test: ``round(fraction * n)``, at least 1 for forget/retain.

    Raises ValueError when the fractions are out of range, sum to more than 1, or there are too few
    clusters to give forget and retain one cluster each.
    """
    for name, value in (("forget", forget), ("retain", retain), ("test", test)):
        _check_fraction(name, value)
    total = forget + retain + test
    if total > 1.0 + 1e-9:
        raise ValueError(
            f"split fractions forget={forget} + retain={retain} + test={test} = {total:g} exceed 1; "
            "lower them so the splits stay disjoint"
        )
    if n_clusters < 2:
        raise ValueError(f"need at least 2 clusters to split into forget and retain, got {n_clusters}")
    n_forget = max(1, round(forget * n_clusters))
    n_retain = max(1, round(retain * n_clusters))
    n_test = round(test * n_clusters)
    if n_forget + n_retain > n_clusters:
        raise ValueError(
            f"{n_clusters} clusters are too few for forget={n_forget} and retain={n_retain} clusters"
        )
    n_test = min(n_test, n_clusters - n_forget - n_retain)
    return n_forget, n_retain, n_test


def split_by_cluster(
    records: Sequence[QARecord],
    *,
    forget: float = 0.05,
    retain: float = 0.10,
    test: float = 0.70,
    seed: int = 0,
    name: str = "benchmark",
    style: str = "mcqa",
    utility: dict[str, list[QARecord]] | None = None,
) -> BenchmarkSplit:
    """Assign whole clusters to disjoint forget / retain / test sets (FaithUn: 5 % / 10 % / 70 %).

    Clusters are shuffled with ``random.Random(seed)``; the first ``round(forget·N)`` (≥ 1) go to
    forget, the next ``round(retain·N)`` (≥ 1) to retain, the next ``round(test·N)`` to test; the rest
    are unused, as in FaithUn (85 % of the clusters are used). Records keep their input order.
    """
    records = list(records)
    clusters = cluster_order(records)
    n_forget, n_retain, n_test = split_sizes(len(clusters), forget, retain, test)
    shuffled = clusters[:]
    random.Random(seed).shuffle(shuffled)
    f = set(shuffled[:n_forget])
    r = set(shuffled[n_forget : n_forget + n_retain])
    t = set(shuffled[n_forget + n_retain : n_forget + n_retain + n_test])
    return BenchmarkSplit(
        name=name,
        style=style,
        forget=_group(records, f),
        retain=_group(records, r),
        test=_group(records, t),
        utility=dict(utility or {}),
    )


def split_by_indices(
    records: Sequence[QARecord],
    *,
    forget: Iterable[int],
    retain: Iterable[int],
    test: Iterable[int],
    name: str,
    style: str = "mcqa",
) -> BenchmarkSplit:
    """Split by explicit cluster indices (positions in first-appearance cluster order), e.g. FaithUn's files."""
    records = list(records)
    clusters = cluster_order(records)
    parts: dict[str, list[int]] = {"forget": list(forget), "retain": list(retain), "test": list(test)}
    seen: dict[int, str] = {}
    for part, idx in parts.items():
        for i in idx:
            if not 0 <= i < len(clusters):
                raise RecordError(
                    f"{name}: {part} index {i} is out of range: there are {len(clusters)} clusters"
                )
            if i in seen:
                raise RecordError(f"{name}: cluster index {i} is in both the {seen[i]} and the {part} split")
            seen[i] = part
    sets = {part: {clusters[i] for i in idx} for part, idx in parts.items()}
    return BenchmarkSplit(
        name=name,
        style=style,
        forget=_group(records, sets["forget"]),
        retain=_group(records, sets["retain"]),
        test=_group(records, sets["test"]),
    )


def split_authors(
    records: Sequence[QARecord],
    forget_fraction: float = 0.05,
    seed: int = 0,
    *,
    name: str = "fictitious",
    style: str = "rouge",
    utility: dict[str, list[QARecord]] | None = None,
) -> BenchmarkSplit:
    """TOFU-style split: forget = ``round(forget_fraction · n_authors)`` (≥ 1) whole authors, retain = the rest.

    Authors are the records' clusters; the forget authors are drawn with ``random.Random(seed)``.
    ``test`` is empty (TOFU evaluates retention on retain authors and on the utility sets).
    """
    _check_fraction("forget_fraction", forget_fraction)
    records = list(records)
    authors = cluster_order(records)
    if len(authors) < 2:
        raise ValueError(
            f"{name}: need at least 2 authors to split into forget and retain, got {len(authors)}"
        )
    n_forget = min(max(1, round(forget_fraction * len(authors))), len(authors) - 1)
    chosen = set(random.Random(seed).sample(authors, n_forget))
    return BenchmarkSplit(
        name=name,
        style=style,
        forget=[r for r in records if r.cluster in chosen],
        retain=[r for r in records if r.cluster not in chosen],
        test=[],
        utility=dict(utility or {}),
    )


def filter_clusters(records: Sequence[QARecord], keep_ids: set[str]) -> list[QARecord]:
    """Keep the clusters the model already knows (the lead's probe step).

    A FaithUn-style cluster (records of kinds base/paraphrase/multihop/same_answer) is kept — whole,
    with all its test questions — only if the id of its ``base`` record is in ``keep_ids``; its other
    records' ids are irrelevant. TOFU-style ``qa`` records have no base record and are kept one by one
    when their own id is in ``keep_ids``. A FaithUn-style cluster without a base record is an error.
    """
    records = list(records)
    base_of: dict[str, str] = {}
    for r in records:
        if r.kind == "base":
            if r.cluster in base_of:
                raise RecordError(
                    f"cluster {r.cluster!r} has two base records: {base_of[r.cluster]!r} and {r.id!r}"
                )
            base_of[r.cluster] = r.id
    kept: list[QARecord] = []
    for r in records:
        if r.kind == "qa":
            if r.id in keep_ids:
                kept.append(r)
            continue
        if r.cluster not in base_of:
            raise RecordError(f"record {r.id!r}: its cluster {r.cluster!r} has no base record")
        if base_of[r.cluster] in keep_ids:
            kept.append(r)
    return kept
