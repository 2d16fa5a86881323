"""Loader for TOFU (Maini et al., 2024): 200 fictitious authors × 20 QA, plus two utility sets.

Sources, in order of preference:

* a local directory (config key ``benchmarks.tofu.path``) holding one file per TOFU config, named
  ``<config>.json`` or ``<config>.jsonl`` — a JSON array of objects or JSON lines (the TOFU GitHub
  repository ships ``real_authors_perturbed.json`` / ``world_facts_perturbed.json`` as JSON lines);
* the Hugging Face hub dataset ``locuslab/TOFU`` via :func:`datasets.load_dataset` (split ``train``
  of each config) — only when the hub is reachable and ``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE``
  are unset.

Configs used (SSIUU App. C.1; :data:`TOFU_CONFIGS`): ``forget01`` (forget, 2 authors = 40 QA) with
``forget01_perturbed`` (the same 40 QA with their wrong answers), ``retain99`` (retain) with
``retain_perturbed`` (400 of the retain QA with their wrong answers, TOFU's retain evaluation set), and
``real_authors_perturbed`` and ``world_facts_perturbed`` (utility). Fields: ``question``, ``answer``, and
where present ``paraphrased_answer`` and ``perturbed_answer`` (a list). On the hub ``forget01`` and
``retain99`` hold only ``question`` and ``answer``: the wrong answers that the margin (the format-free
measure, :mod:`ssiuu.evaluation.logprob`), the logit lens and the card's probe read come from the
``*_perturbed`` configs, merged into the records by question (:func:`merge_perturbed`). Every forget item
needs them (a forget question without perturbed answers in ``forget01_perturbed`` is an error); a retain item
without them stays a retain item (training, RS) and only the measures that need wrong answers (the card's
probe) pass it over. A row's own ``paraphrased_answer`` / ``perturbed_answer`` are kept; the ``*_perturbed``
config fills those it lacks; its rows whose question the base config does not hold are not used.

TOFU stores the 20 QA of an author consecutively and the forget authors are the last ones of ``full``, so
cluster = author = ``index // 20`` for retain and ``n_retain_authors + index // 20`` for forget. A row that
repeats an earlier row's question and answer in the same config is an error.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssiuu.data.records import (
    BenchmarkSplit,
    QARecord,
    RecordError,
    in_file,
    read_rows,
    shown,
    text_field,
    text_list,
)

TOFU_HUB_ID = "locuslab/TOFU"
QA_PER_AUTHOR = 20
DEFAULT_FORGET_CONFIG = "forget01"
DEFAULT_RETAIN_CONFIG = "retain99"
#: TOFU's retain QA with wrong answers: one config for every retain split (retain90/95/99)
RETAIN_PERTURBED_CONFIG = "retain_perturbed"
DEFAULT_UTILITY_CONFIGS = {"real_authors": "real_authors_perturbed", "world_facts": "world_facts_perturbed"}


def forget_perturbed_config(forget_config: str) -> str:
    """The config holding the forget QA with their wrong answers: ``forget01`` -> ``forget01_perturbed``."""
    return f"{forget_config}_perturbed"


#: Every config :func:`load_tofu` reads with its defaults (the files a local TOFU folder must hold).
TOFU_CONFIGS = (
    DEFAULT_FORGET_CONFIG,
    forget_perturbed_config(DEFAULT_FORGET_CONFIG),
    DEFAULT_RETAIN_CONFIG,
    RETAIN_PERTURBED_CONFIG,
    *DEFAULT_UTILITY_CONFIGS.values(),
)


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
        for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )


def _how_to_provide(config: str) -> str:
    return (
        f"To use TOFU offline, put the TOFU config files (e.g. {config}.json, as JSON or JSON lines, from the "
        f"hub dataset {TOFU_HUB_ID}) in one directory and set the config key `benchmarks.tofu.path` to it; "
        "or use the embedded offline stand-in benchmark `fictitious`."
    )


def _local_file(root: Path, config: str) -> Path | None:
    """``<config>.json`` or ``<config>.jsonl`` in ``root``, whichever exists."""
    return next((f for f in (root / f"{config}.json", root / f"{config}.jsonl") if f.is_file()), None)


def read_tofu_config(
    config: str, path: str | Path | None = None, *, hub_id: str = TOFU_HUB_ID
) -> list[dict[str, Any]]:
    """Raw rows of one TOFU config from ``path`` (a directory) or from the hub."""
    if path is not None:
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"TOFU directory {root} does not exist. " + _how_to_provide(config))
        found = _local_file(root, config)
        if found is not None:
            return read_rows(found, "TOFU file")
        raise FileNotFoundError(
            f"TOFU config file {config}.json (or .jsonl) is missing from {root}. " + _how_to_provide(config)
        )
    if _offline():
        raise FileNotFoundError(
            f"TOFU config {config!r} cannot be downloaded: the Hugging Face hub is offline. "
            + _how_to_provide(config)
        )
    try:
        import datasets

        ds = datasets.load_dataset(hub_id, config, split="train")
    except Exception as exc:  # network, auth or cache errors all mean the same to the user
        raise FileNotFoundError(
            f"could not load TOFU config {config!r} from the hub ({hub_id}): {exc}. "
            + _how_to_provide(config)
        ) from exc
    return [dict(row) for row in ds]


def tofu_records(
    rows: list[dict[str, Any]], *, config: str, cluster_of: Callable[[int], str]
) -> list[QARecord]:
    """Convert raw TOFU rows to ``qa`` records; ``cluster_of(i)`` names the cluster of row ``i``."""
    if not rows:
        raise RecordError(f"TOFU split {config!r} is empty")
    out: list[QARecord] = []
    row_of_pair: dict[tuple[str, str], int] = {}  # (question, answer) -> the first row that holds it
    for i, row in enumerate(rows):
        where = f"TOFU {config!r} row {i}"
        if not isinstance(row, dict):
            raise RecordError(f"a row must be a JSON object, got {shown(row)}", record=where)
        for field in ("question", "answer"):
            if field not in row:
                raise RecordError(f"missing field {field!r}", record=where)
            text_field(row[field], where=where, field=field)
        pair = (row["question"].strip(), row["answer"].strip())
        if pair in row_of_pair:
            raise RecordError(
                f"repeats row {row_of_pair[pair]} (question {shown(pair[0])} with the same answer), which would "
                "count and train it twice; remove one of the two",
                record=where,
            )
        row_of_pair[pair] = i
        para = row.get("paraphrased_answer")
        if para is not None:
            text_field(para, where=where, field="paraphrased_answer", empty_ok=True)
        pert = row.get("perturbed_answer", [])
        pert = text_list([pert] if isinstance(pert, str) else pert, where=where, field="perturbed_answer")
        cluster = cluster_of(i)
        out.append(
            QARecord(
                id=f"tofu/{config}/{i:04d}",
                cluster=cluster,
                entity=cluster,
                kind="qa",
                question=row["question"].strip(),
                answer=row["answer"].strip(),
                paraphrased_answer=para.strip() if para else None,
                perturbed_answers=tuple(p.strip() for p in pert),
            )
        )
    return out


def merge_perturbed(
    records: list[QARecord],
    perturbed: list[QARecord],
    *,
    config: str,
    perturbed_config: str,
    required: bool,
) -> list[QARecord]:
    """``records`` (of ``config``) with the paraphrased and perturbed answers of the ``perturbed`` records
    (of ``perturbed_config``) of the same question, where a record lacks them.

    A question ``perturbed_config`` holds more than once matches the row with the record's answer. With
    ``required`` (the forget set), a record left without perturbed answers is a RecordError naming the record
    and its question (raised inside the caller's :func:`~ssiuu.data.records.in_file` of ``perturbed_config``)."""
    by_question: dict[str, list[QARecord]] = {}
    for p in perturbed:
        by_question.setdefault(p.question, []).append(p)
    out: list[QARecord] = []
    for i, record in enumerate(records):
        found = by_question.get(record.question, [])
        if len(found) > 1:
            found = [p for p in found if p.answer == record.answer]
        match = found[0] if len(found) == 1 else None
        if match is not None:
            record = dataclasses.replace(
                record,
                paraphrased_answer=record.paraphrased_answer or match.paraphrased_answer,
                perturbed_answers=record.perturbed_answers or match.perturbed_answers,
            )
        if required and not record.perturbed_answers:
            held = "holds it without perturbed_answer" if match is not None else "has no row with it"
            raise RecordError(
                f"question {shown(record.question)}: {perturbed_config} {held}, and a forget item needs its "
                "perturbed (same-format wrong) answers for its margin; save "
                f"{perturbed_config} anew from the hub dataset {TOFU_HUB_ID} (docs/cluster.md), or give this "
                "question a row there with its perturbed_answer list",
                record=f"TOFU {config!r} row {i}",
            )
        out.append(record)
    return out


def _config_records(
    config: str, path: str | Path | None, hub_id: str, *, cluster_of: Callable[[int], str]
) -> list[QARecord]:
    """The records of one TOFU config; errors name the file (or the hub dataset) they come from."""
    rows = read_tofu_config(config, path, hub_id=hub_id)
    with in_file(_source(config, path, hub_id)):
        return tofu_records(rows, config=config, cluster_of=cluster_of)


def _source(config: str, path: str | Path | None, hub_id: str) -> Path | str:
    """Where the rows of ``config`` come from, as errors name it: its file, else the hub dataset."""
    found = _local_file(Path(path), config) if path is not None else None
    return found or f"hub dataset {hub_id} ({config})"


def _with_perturbed(
    records: list[QARecord],
    *,
    config: str,
    perturbed_config: str,
    path: str | Path | None,
    hub_id: str,
    required: bool,
) -> list[QARecord]:
    """:func:`merge_perturbed` of ``records`` with the records of ``perturbed_config``."""
    perturbed = _config_records(perturbed_config, path, hub_id, cluster_of=lambda i: perturbed_config)
    with in_file(_source(perturbed_config, path, hub_id)):
        return merge_perturbed(
            records, perturbed, config=config, perturbed_config=perturbed_config, required=required
        )


def load_tofu(
    path: str | Path | None = None,
    *,
    hub_id: str = TOFU_HUB_ID,
    forget_config: str = DEFAULT_FORGET_CONFIG,
    retain_config: str = DEFAULT_RETAIN_CONFIG,
    utility_configs: dict[str, str] | None = None,
    name: str = "tofu",
) -> BenchmarkSplit:
    """TOFU as a ROUGE-style :class:`BenchmarkSplit`: forget01 / retain99 / utility (Real Authors, World Facts).

    ``path``: a local folder of config files, a hub id such as ``locuslab/TOFU``, or ``None`` (the hub,
    ``hub_id``). ``test`` is empty: TOFU measures retention on the retain authors and the utility sets.
    The forget records take their wrong answers from ``<forget_config>_perturbed`` (each must have some), the
    retain records from ``retain_perturbed`` where it holds their question (module docstring).
    """
    utility_configs = DEFAULT_UTILITY_CONFIGS if utility_configs is None else utility_configs
    if path is not None and not Path(path).exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)):
        hub_id, path = str(path), None  # `benchmarks.tofu.path` may name a hub dataset instead of a folder
    retain = _config_records(
        retain_config, path, hub_id, cluster_of=lambda i: f"tofu/author{i // QA_PER_AUTHOR:03d}"
    )
    retain = _with_perturbed(
        retain,
        config=retain_config,
        perturbed_config=RETAIN_PERTURBED_CONFIG,
        path=path,
        hub_id=hub_id,
        required=False,
    )
    n_retain_authors = -(-len(retain) // QA_PER_AUTHOR)
    forget = _config_records(
        forget_config,
        path,
        hub_id,
        cluster_of=lambda i: f"tofu/author{n_retain_authors + i // QA_PER_AUTHOR:03d}",
    )
    forget = _with_perturbed(
        forget,
        config=forget_config,
        perturbed_config=forget_perturbed_config(forget_config),
        path=path,
        hub_id=hub_id,
        required=True,
    )
    utility = {
        key: _config_records(cfg, path, hub_id, cluster_of=lambda i, k=key: f"tofu/{k}/{i:03d}")
        for key, cfg in utility_configs.items()
    }
    return BenchmarkSplit(name=name, style="rouge", forget=forget, retain=retain, test=[], utility=utility)
