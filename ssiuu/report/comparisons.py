"""One row minus another in one attack cell, paired on the draws and items both rows score
(:mod:`ssiuu.report.inference`): the difference table beside Tables 1-2 and claim 2 read these.

* Δ FS: the end-of-attack FS of both rows on the (draw, item) pairs both score in the §6.2.2 sense (each
  row's items wrong before the attack); each row's seeds are resampled as its own level, the shared draws and
  items once for both.
* Δ share and Δ DiD: on the margin, against the attacked reference, on the pairs all three rows score. A
  share difference ranks only when both shares do (:func:`ssiuu.report.inference.rankable` on each
  denominator, from the same resamples).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssiuu.report.attack_cells import AttackCell, fs_items, measure
from ssiuu.report.inference import (
    ClusteredSample,
    Estimate,
    cluster_bootstrap,
    did_of,
    difference,
    mean_of,
    rankable,
    room_of,
    share_of,
)
from ssiuu.report.stats import CellStats


@dataclass(frozen=True)
class RowDifference:
    """``first − second`` in one attack cell: FS after the attack (fraction), recovered share and difference in
    differences on the margin (missing without margins), and whether the share difference ranks."""

    first: str
    second: str
    score: Estimate
    share: Estimate
    did: Estimate
    share_rankable: bool


def score_difference(
    first: tuple[str, AttackCell], second: tuple[str, AttackCell], stats: CellStats
) -> Estimate:
    """Δ FS after the attack, paired on the (draw, item) pairs both rows score."""
    (m1, c1), (m2, c2) = first, second
    frames = {"a": measure(fs_items(c1.items, m1), "score"), "b": measure(fs_items(c2.items, m2), "score")}
    sample = ClusteredSample.of(frames)
    return cluster_bootstrap(
        sample, difference(mean_of("a", "after"), mean_of("b", "after")), **stats.bootstrap
    )


def _margin_sample(first: AttackCell, second: AttackCell, reference: AttackCell) -> ClusteredSample:
    cells = {"a": first, "b": second, "ref": reference}
    return ClusteredSample.of({name: measure(c.items, "margin") for name, c in cells.items()})


def margin_differences(
    first: AttackCell, second: AttackCell, reference: AttackCell | None, stats: CellStats
) -> tuple[Estimate, Estimate, bool]:
    """(Δ share, Δ DiD, whether Δ share ranks) of two rows against the attacked reference."""
    cells = (first, second, reference)
    if reference is None or not all(c.has_margins for c in cells):  # type: ignore[union-attr]
        return Estimate.missing(), Estimate.missing(), False
    sample = _margin_sample(first, second, reference)
    opts = stats.bootstrap
    share = cluster_bootstrap(sample, difference(share_of("a", "ref"), share_of("b", "ref")), **opts)
    did = cluster_bootstrap(sample, difference(did_of("a", "ref"), did_of("b", "ref")), **opts)
    ranks = all(rankable(cluster_bootstrap(sample, room_of(g, "ref"), **opts)) for g in ("a", "b"))
    return share, did, ranks


def row_difference(
    first: tuple[str, AttackCell],
    second: tuple[str, AttackCell],
    reference: AttackCell | None,
    stats: CellStats,
) -> RowDifference:
    """:class:`RowDifference` of ``first − second`` (each a (method, cell) pair)."""
    share, did, ranks = margin_differences(first[1], second[1], reference, stats)
    return RowDifference(first[0], second[0], score_difference(first, second, stats), share, did, ranks)
