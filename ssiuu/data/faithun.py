"""Loader for the official FaithUn benchmark (Yang et al., 2025; https://github.com/yny0506/faithun).

What the official release documents (its README):

* ``dataset/FaithUn_Dataset.json`` (also accepted: ``FaithUnBench.json``, see :data:`DATA_FILE_NAMES`): 200 well-known people built
  from Wikidata triples, keyed by entity (e.g. Wikidata id ``Q76``). Each entity has four question
  sets — ``hop1_unlearn`` (Base QA, used for unlearning; **each question forms a cluster**),
  ``hop1_test`` (Paraphrased QA), ``hop2_test`` (Multi-hop QA) and ``same_object`` (Same-answer QA);
  every question carries its answer and false answer options.
* ``dataset/splits/{forget_set,retaining_set,test_set}_split.txt``: one cluster index per line;
  clusters are numbered by concatenating all entities' clusters in file order (664 in total);
  forget 5 %, retain 10 %, test 70 %.

The per-question field names are not documented and the JSON file itself could not be inspected
(its blob is missing from the public repository), so this loader accepts the following format and
a few aliases (documented here so a mismatch is easy to fix):

* top level: an object ``{entity_key: entity}`` or a list of entities (then the key is the
  entity's ``entity``/``name``/``subject``/``id`` field, or its position);
* ``entity["hop1_unlearn"]``: a list of question objects (cluster *i* = the *i*-th one), or an
  object ``{relation: question}`` (clusters in key order);
* ``hop1_test`` / ``hop2_test`` / ``same_object``: aligned with ``hop1_unlearn`` — a list of the same
  length, or an object with the same keys — whose element *i* is one question object or a list of
  them (several test questions of cluster *i*); a missing set or a ``null`` element means none;
* a question object: question in ``question`` (aliases ``Question``, ``q``, ``query``); answer in
  ``answer`` (aliases ``answers``, ``Answer``, ``a``, ``object``, ``gold``; a list means aliases and
  the first is taken); false options, a list of strings, in ``false_options`` (aliases
  ``false_answer_options``, ``false_answers``, ``false_answer``, ``false_option``,
  ``negative_options``, ``wrong_answers``, ``distractors``), or an ``options`` list that holds the
  answer plus the false options. The config keys ``benchmarks.<name>.fields.question`` / ``.answer``
  / ``.false_options`` name a field instead of the aliases, for a file that calls them otherwise.

Mapping to :class:`~ssiuu.data.records.QARecord`: cluster = ``faithun/<global cluster index>``;
kinds ``base`` (hop1_unlearn), ``paraphrase`` (hop1_test), ``multihop`` (hop2_test),
``same_answer`` (same_object). Anything that does not fit raises :class:`RecordError` naming the
file, the entity, the cluster, the field and the bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssiuu.data.records import (
    BenchmarkSplit,
    QARecord,
    RecordError,
    in_file,
    read_json,
    read_text,
    shown,
    text_field,
    text_list,
)
from ssiuu.data.splits import split_by_indices

OFFICIAL_URL = "https://github.com/yny0506/faithun"

#: FaithUn question-set name -> QARecord kind.
SET_KINDS = {
    "hop1_unlearn": "base",
    "hop1_test": "paraphrase",
    "hop2_test": "multihop",
    "same_object": "same_answer",
}

#: Official split index files, in the order forget, retain, test.
SPLIT_FILES = {
    "forget": "forget_set_split.txt",
    "retain": "retaining_set_split.txt",
    "test": "test_set_split.txt",
}

#: Field names tried, in order, for each part of a question object (see the module docstring).
FIELD_ALIASES = {
    "question": ("question", "Question", "q", "query"),
    "answer": ("answer", "answers", "Answer", "a", "object", "gold"),
    "false_options": (
        "false_options",
        "false_answer_options",
        "false_answers",
        "false_answer",
        "false_option",
        "negative_options",
        "wrong_answers",
        "distractors",
    ),
}
_NAME_KEYS = ("entity", "name", "subject", "label", "id")


def _missing_data(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"FaithUn data file {path} does not exist. Download FaithUn_Dataset.json from {OFFICIAL_URL} "
        "(folder dataset/) and set the config key `benchmarks.faithun.path` to where you put it."
    )


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in obj:
            return k, obj[k]
    return None, None


def field_names(fields: Mapping[str, str | None] | None = None) -> dict[str, tuple[str, ...]]:
    """Field names tried for each part of a question: the configured name alone, else the aliases."""
    fields = dict(fields or {})
    unknown = sorted(set(fields) - set(FIELD_ALIASES))
    if unknown:
        raise ValueError(
            f"benchmarks.<name>.fields: unknown key(s) {unknown}; the keys are {sorted(FIELD_ALIASES)}"
        )
    return {part: (fields[part],) if fields.get(part) else names for part, names in FIELD_ALIASES.items()}


def _field(item: dict[str, Any], part: str, names: dict[str, tuple[str, ...]], where: str) -> tuple[str, Any]:
    """The first of ``names[part]`` that ``item`` holds, as (field name, value); a RecordError if none."""
    for key in names[part]:
        if key in item:
            return key, item[key]
    tried = names[part]
    others = f" (or one of {list(tried[1:])})" if tried[1:] else ""
    raise RecordError(
        f"missing field {tried[0]!r}{others}; if the file names it otherwise, set the config key "
        f"benchmarks.<name>.fields.{part}",
        record=where,
    )


def _answer(item: dict[str, Any], names: dict[str, tuple[str, ...]], where: str) -> str:
    """The gold answer; a list of aliases gives its first element."""
    key, answer = _field(item, "answer", names, where)
    if isinstance(answer, list):
        if not answer:
            raise RecordError(
                f"field {key!r} must be a string or a non-empty list of aliases, got []", record=where
            )
        key, answer = f"{key}[0]", answer[0]
    return text_field(answer, where=where, field=key).strip()


def _false_options(
    item: dict[str, Any], names: dict[str, tuple[str, ...]], answer: str, where: str
) -> tuple[str, ...]:
    """The distractors, from a false-options field or from an ``options`` list holding the answer."""
    if "options" in item and not set(names["false_options"]) & set(item):
        key, value = "options", item["options"]
    else:
        key, value = _field(item, "false_options", names, where)
    options = [o.strip() for o in text_list(value, where=where, field=key, empty_ok=False)]
    if key == "options":
        if answer not in options:
            raise RecordError(f"field 'options' does not contain the answer {answer!r}", record=where)
        options = [o for o in options if o != answer]
    elif answer in options:
        raise RecordError(f"field {key!r} contains the gold answer {answer!r}", record=where)
    if not options:
        raise RecordError(f"field {key!r} holds no false option besides the answer {answer!r}", record=where)
    return tuple(dict.fromkeys(options))


def _parse_question(
    item: Any,
    *,
    names: dict[str, tuple[str, ...]],
    rid: str,
    cluster: str,
    entity: str,
    kind: str,
    where: str,
) -> QARecord:
    where = f"FaithUn {where}"
    if not isinstance(item, dict):
        raise RecordError(f"a question must be a JSON object, got {shown(item)}", record=where)
    qkey, question = _field(item, "question", names, where)
    question = text_field(question, where=where, field=qkey).strip()
    answer = _answer(item, names, where)
    return QARecord(
        id=rid,
        cluster=cluster,
        entity=entity,
        kind=kind,
        question=question,
        answer=answer,
        false_options=_false_options(item, names, answer, where),
    )


def _entities(data: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = []
        for i, ent in enumerate(data):
            key = None
            if isinstance(ent, dict):
                _, key = _first(ent, _NAME_KEYS)
            items.append((str(key) if key is not None else str(i), ent))
    else:
        raise RecordError(
            f"FaithUn: the top level must be an object or a list of entities, got {type(data).__name__}"
        )
    for key, ent in items:
        if not isinstance(ent, dict):
            raise RecordError(f"FaithUn entity {key!r}: must be a JSON object, got {shown(ent)}")
    return items


def _aligned(value: Any, keys: list[Any], *, entity: str, field: str) -> list[list[Any]]:
    """Per-cluster lists of test question objects for one question set."""
    n = len(keys)
    if value is None:
        return [[] for _ in range(n)]
    if isinstance(value, dict):
        if keys and not all(isinstance(k, str) for k in keys):
            raise RecordError(
                f"FaithUn entity {entity!r}: field {field!r} is keyed but 'hop1_unlearn' is a list"
            )
        extra = set(value) - set(keys)
        if extra:
            raise RecordError(
                f"FaithUn entity {entity!r}: field {field!r} has keys {sorted(extra)} not in 'hop1_unlearn'"
            )
        elems = [value.get(k) for k in keys]
    elif isinstance(value, list):
        if len(value) != n:
            raise RecordError(
                f"FaithUn entity {entity!r}: field {field!r} has {len(value)} elements but 'hop1_unlearn' has {n}; "
                "they must be aligned (element i = the test questions of cluster i)"
            )
        elems = value
    else:
        raise RecordError(f"FaithUn entity {entity!r}: field {field!r} must be a list or an object")
    return [[] if e is None else (e if isinstance(e, list) else [e]) for e in elems]


#: File names of the data file in the official release's versions, looked up when ``path`` is a folder.
DATA_FILE_NAMES = ("FaithUn_Dataset.json", "FaithUn_dataset.json", "FaithUnBench.json")


def resolve_data_file(path: str | Path) -> Path:
    """``path`` itself, or the FaithUn data file inside the folder ``path`` (or its ``dataset/``)."""
    path = Path(path)
    if path.is_dir():
        for folder in (path, path / "dataset"):
            for fname in DATA_FILE_NAMES:
                if (folder / fname).is_file():
                    return folder / fname
        raise FileNotFoundError(
            f"no FaithUn data file ({', '.join(DATA_FILE_NAMES)}) in {path}. Download it from {OFFICIAL_URL} "
            "(folder dataset/) and set the config key `benchmarks.faithun.path` to the file or its folder."
        )
    return path


def _base_questions(ent: dict[str, Any], key: str) -> tuple[list[Any], list[Any]]:
    """An entity's ``hop1_unlearn`` as (keys, question objects): list positions or object keys."""
    if "hop1_unlearn" not in ent:
        raise RecordError(f"FaithUn entity {key!r}: missing field 'hop1_unlearn'")
    base = ent["hop1_unlearn"]
    if isinstance(base, dict):
        return list(base), list(base.values())
    if isinstance(base, list):
        return list(range(len(base))), base
    raise RecordError(
        f"FaithUn entity {key!r}: field 'hop1_unlearn' must be a list or an object, got {shown(base)}"
    )


def _entity_records(
    key: str, ent: dict[str, Any], first_cluster: int, names: dict[str, tuple[str, ...]]
) -> list[QARecord]:
    """The records of one entity, whose clusters are numbered from ``first_cluster``."""
    _, name = _first(ent, _NAME_KEYS)
    entity = str(name) if name is not None else key
    keys, base_items = _base_questions(ent, key)
    sets = {"hop1_unlearn": [[item] for item in base_items]}
    sets |= {
        f: _aligned(ent.get(f), keys, entity=key, field=f) for f in ("hop1_test", "hop2_test", "same_object")
    }
    records: list[QARecord] = []
    for i, set_key in enumerate(keys):
        cluster = f"faithun/{first_cluster + i:03d}"
        for field, per_cluster in sets.items():
            kind = SET_KINDS[field]
            for j, question in enumerate(per_cluster[i]):
                where = (
                    f"entity {key!r}, cluster {first_cluster + i} ({cluster}), field {field!r}[{set_key!r}]"
                )
                records.append(
                    _parse_question(
                        question,
                        names=names,
                        rid=f"{cluster}/base" if kind == "base" else f"{cluster}/{kind}/{j}",
                        cluster=cluster,
                        entity=entity,
                        kind=kind,
                        where=where if kind == "base" else f"{where}[{j}]",
                    )
                )
    return records


def load_faithun_records(
    path: str | Path, *, fields: Mapping[str, str | None] | None = None
) -> list[QARecord]:
    """All FaithUn records, clusters numbered by concatenating entities in file order.

    ``path``: the JSON file, or a folder holding it (see :data:`DATA_FILE_NAMES`). ``fields`` maps
    ``question`` / ``answer`` / ``false_options`` to the file's field names (see :func:`field_names`).
    """
    path = resolve_data_file(path)
    if not path.is_file():
        raise _missing_data(path)
    names = field_names(fields)
    records: list[QARecord] = []
    with in_file(path):
        data = read_json(
            path, "FaithUn data file", fix=f"download FaithUn_Dataset.json again from {OFFICIAL_URL}"
        )
        n_clusters = 0
        for key, ent in _entities(data):
            new = _entity_records(key, ent, n_clusters, names)
            n_clusters += len({r.cluster for r in new})
            records += new
        if not records:
            raise RecordError("the FaithUn data file holds no clusters (no 'hop1_unlearn' questions)")
    return records


def read_split_indices(path: str | Path) -> list[int]:
    """One non-negative integer cluster index per line (blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"FaithUn split index file {path} does not exist. Copy {path.name} from {OFFICIAL_URL} "
            "(folder dataset/splits/) there, or set the config key `benchmarks.faithun.split_dir`."
        )
    first_line: dict[int, int] = {}
    for lineno, line in enumerate(read_text(path, "FaithUn split index file").splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if not s.isdigit():
            raise RecordError(f"line {lineno}: expected a cluster index, got {s!r}", file=path)
        index = int(s)
        if index in first_line:
            raise RecordError(
                f"line {lineno}: cluster index {index} is listed twice (first at line {first_line[index]}); "
                "delete one",
                file=path,
            )
        first_line[index] = lineno
    if not first_line:
        raise RecordError(f"FaithUn split file {path.name} is empty", file=path)
    return list(first_line)


def load_faithun(
    path: str | Path,
    *,
    split_dir: str | Path | None = None,
    name: str = "faithun",
    fields: Mapping[str, str | None] | None = None,
) -> BenchmarkSplit:
    """FaithUn with its official forget (5 %) / retain (10 %) / test (70 %) cluster splits.

    ``path``: the JSON file or its folder. ``split_dir`` holds the three index files; by default
    ``<json dir>/splits`` or, failing that, the JSON file's own folder. ``fields``: see
    :func:`load_faithun_records`.
    """
    path = resolve_data_file(path)
    records = load_faithun_records(path, fields=fields)
    if split_dir is None:
        split_dir = path.parent / "splits"
        if (
            not (split_dir / SPLIT_FILES["forget"]).exists()
            and (path.parent / SPLIT_FILES["forget"]).exists()
        ):
            split_dir = path.parent
    split_dir = Path(split_dir)
    idx = {part: read_split_indices(split_dir / fname) for part, fname in SPLIT_FILES.items()}
    return split_by_indices(
        records, forget=idx["forget"], retain=idx["retain"], test=idx["test"], name=name, style="mcqa"
    )
