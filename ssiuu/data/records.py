"""The one record type every benchmark loader returns, the split container, and the checks they share.

FaithUn-style benchmarks (``faithun``, ``worldfacts``) are evaluated as 3-option MCQA; TOFU-style
benchmarks (``tofu``, ``fictitious``) by ROUGE-L recall of greedy generations.

Every loader reads its files with :func:`read_text` / :func:`read_json` / :func:`read_rows` (UTF-8,
no repeated JSON keys) and checks fields with :func:`text_field` / :func:`text_list`; a problem is a
:class:`RecordError` whose one line names the file, the record, the field, the bad value and the fix.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Question kinds. FaithUn-style clusters hold one ``base`` QA (the one unlearning trains on) and
#: its ``paraphrase``, ``multihop`` and ``same_answer`` test questions. TOFU-style records are ``qa``.
KINDS = ("base", "paraphrase", "multihop", "same_answer", "qa")

#: Benchmark styles: how a benchmark is evaluated and when unlearning stops.
STYLES = ("mcqa", "rouge")

#: The per-item score field of each style's evaluation entries: 1/0 for a right MCQA option, or the
#: ROUGE-L recall of the answer (FS, RS and the attacks' scores are means of it).
ITEM_SCORE = {"mcqa": "correct", "rouge": "rougeL_recall"}

#: Longest question, answer or option a record may hold, in characters (about 500 tokens). Real
#: benchmark questions are under 300 characters, so a longer text means a broken file. Evaluation
#: does not truncate prompts (training cuts them to ``unlearning.max_length``); this bounds them.
MAX_TEXT_CHARS = 2000


class RecordError(ValueError):
    """A malformed benchmark record or file, as one line: ``file: record: problem; fix``."""

    def __init__(self, detail: str, *, record: str | None = None, file: str | Path | None = None) -> None:
        super().__init__(detail)
        self.detail, self.record, self.file = detail, record, file

    def __str__(self) -> str:
        return ": ".join(str(part) for part in (self.file, self.record, self.detail) if part)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a huge bad value still fits one line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def text_field(
    value: Any, *, where: str, field: str, empty_ok: bool = False, max_chars: int | None = MAX_TEXT_CHARS
) -> str:
    """``value`` if it is a (non-empty) string of at most ``max_chars`` characters, else a RecordError."""
    if not isinstance(value, str) or not (empty_ok or value.strip()):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        hint = f' (write it in quotes: "{value}")' if number else ""
        kind = "a string" if empty_ok else "a non-empty string"
        raise RecordError(f"field {field!r} must be {kind}{hint}, got {shown(value)}", record=where)
    if max_chars is not None and len(value) > max_chars:
        raise RecordError(
            f"field {field!r} is {len(value):,} characters long, over the limit of {max_chars:,} "
            f"(ssiuu.data.records.MAX_TEXT_CHARS), got {shown(value)}; shorten it",
            record=where,
        )
    return value


def text_list(value: Any, *, where: str, field: str, empty_ok: bool = True) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty strings; a single string or any other type is a RecordError."""
    if not isinstance(value, (list, tuple)) or not (empty_ok or value):
        kind = "a list of strings" if empty_ok else "a non-empty list of strings"
        raise RecordError(
            f'field {field!r} must be {kind} (a single one is written ["..."]), got {shown(value)}',
            record=where,
        )
    return tuple(text_field(v, where=where, field=f"{field}[{i}]") for i, v in enumerate(value))


def required(data: Mapping[str, Any], key: str, *, where: str, holds: str) -> Any:
    """``data[key]``, or a RecordError naming the missing key and what ``data`` should hold."""
    if key not in data:
        raise RecordError(f"missing key {key!r} ({holds})", record=where)
    return data[key]


@contextmanager
def in_file(path: str | Path) -> Iterator[None]:
    """Name ``path`` in every RecordError raised inside the block that names no file yet."""
    try:
        yield
    except RecordError as exc:
        if exc.file is None:
            exc.file = path
        raise


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped); other bytes are a RecordError naming the file."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RecordError(
            f"the {what} is not UTF-8 text: byte {data[exc.start]:#04x} at line {line} (byte offset "
            f"{exc.start}); re-save it as UTF-8",
            file=path,
        ) from exc


class _RepeatedKey(Exception):
    """A JSON object that holds ``key`` twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def _key_lines(text: str, key: str, first_line: int) -> list[int]:
    """Line numbers of ``"key":`` in ``text``, whose first line is ``first_line``."""
    pattern = re.escape(json.dumps(key)) + r"\s*:"
    return [first_line + text.count("\n", 0, m.start()) for m in re.finditer(pattern, text)]


def parse_json(text: str, *, path: str | Path, what: str, line: int = 1) -> Any:
    """Parse JSON text that starts at ``line`` of ``path``; syntax errors and repeated keys name the file."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"the {what} is not valid JSON: {exc.msg} at line {line + exc.lineno - 1}, column {exc.colno}",
            file=path,
        ) from exc
    except _RepeatedKey as exc:
        lines = sorted(set(_key_lines(text, exc.key, line)))
        at = f" (line{'s' * (len(lines) > 1)} {', '.join(map(str, lines))})" if len(lines) <= 4 else ""
        raise RecordError(
            f"key {exc.key!r} appears twice in one JSON object{at}, and the second would silently replace "
            "the first; rename or merge the two",
            file=path,
        ) from None


def read_json(path: str | Path, what: str, *, fix: str) -> Any:
    """Parse the JSON file ``path`` (see :func:`parse_json`); an empty file is a RecordError saying ``fix``."""
    text = read_text(path, what)
    if not text.strip():
        raise RecordError(f"the {what} is empty; {fix}", file=path)
    return parse_json(text, path=path, what=what)


def _one_object(text: str) -> dict[str, Any] | None:
    """The object that ``text`` holds when the whole text is one JSON object, else ``None``."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, _RepeatedKey):
        return None
    return value if isinstance(value, dict) else None


def read_rows(path: str | Path, what: str) -> list[Any]:
    """The rows of a file holding a JSON array or JSON lines (none when it is empty).

    A file that is one JSON object is refused (a wrapper such as ``{"data": [...]}``, or a single row),
    except for one line in a ``.jsonl`` file, which is one row."""
    text = read_text(path, what).strip()
    whole = None if text.startswith("[") else _one_object(text)
    if whole is not None and ("\n" in text or Path(path).suffix != ".jsonl"):
        raise RecordError(
            f"the {what} holds one JSON object (keys {shown(list(whole))}), not rows: write the rows as a JSON "
            "array [{...}, {...}], or as JSON lines (one object per line)",
            file=path,
        )
    if text.startswith("["):
        rows = parse_json(text, path=path, what=what)
    else:
        lines = enumerate(text.splitlines(), 1)
        rows = [parse_json(line, path=path, what=what, line=n) for n, line in lines if line.strip()]
    if not isinstance(rows, list):
        raise RecordError(f"the {what} must hold a JSON array or JSON lines, got {shown(rows)}", file=path)
    return rows


@dataclass(frozen=True)
class QARecord:
    """One question with its gold answer.

    ``cluster`` groups records that must land in the same split (a FaithUn cluster, a TOFU author).
    ``false_options`` are the MCQA distractors (two for FaithUn-style data); TOFU-style records
    carry ``paraphrased_answer`` and ``perturbed_answers`` instead.
    """

    id: str
    cluster: str
    entity: str
    kind: str
    question: str
    answer: str
    false_options: tuple[str, ...] = ()
    paraphrased_answer: str | None = None
    perturbed_answers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"record {self.id!r}" if isinstance(self.id, str) else "record"
        for name in ("id", "cluster", "entity", "question", "answer"):
            text_field(getattr(self, name), where=where, field=name)
        if self.kind not in KINDS:
            raise RecordError(f"field 'kind' must be one of {KINDS}, got {shown(self.kind)}", record=where)
        if self.paraphrased_answer is not None:
            text_field(self.paraphrased_answer, where=where, field="paraphrased_answer")
        for name in ("false_options", "perturbed_answers"):
            object.__setattr__(self, name, text_list(getattr(self, name), where=where, field=name))
        if self.answer in self.false_options:
            raise RecordError(f"the gold answer {self.answer!r} is also a false option", record=where)

    @property
    def options(self) -> tuple[str, ...]:
        """Gold answer plus distractors, in a fixed order that depends only on the record id."""
        import random

        opts = [self.answer, *self.false_options]
        random.Random(self.id).shuffle(opts)
        return tuple(opts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "record") -> QARecord:
        """A record from its :meth:`to_dict` form; errors name ``where`` (e.g. ``forget[3]``) and the id."""
        if not isinstance(data, dict):
            raise RecordError(f"a record must be a JSON object, got {shown(data)}", record=where)
        if isinstance(data.get("id"), str):
            where = f"{where} (id {data['id']!r})"
        missing = [k for k in ("id", "cluster", "kind", "question", "answer") if k not in data]
        if missing:
            raise RecordError(
                f"missing field(s) {missing}; every record needs id, cluster, kind, question and answer",
                record=where,
            )
        fields = list(cls.__dataclass_fields__)
        unknown = [k for k in data if k not in fields]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), fields, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecordError(
                f"unknown field {unknown[0]!r}{hint}; a record's fields are {', '.join(fields)}", record=where
            )
        try:
            return cls(**data | {"entity": data.get("entity", data["cluster"])})
        except RecordError as exc:
            exc.record = where
            raise


def records_from_dicts(items: Any, where: str) -> list[QARecord]:
    """The records of the JSON list ``items`` (the part ``where`` of a file), ids unique."""
    if not isinstance(items, list):
        raise RecordError(f"{where!r} must be a list of records, got {shown(items)}")
    records = [QARecord.from_dict(d, f"{where}[{i}]") for i, d in enumerate(items)]
    check_disjoint({where: records})
    return records


def check_disjoint(parts: Mapping[str, Sequence[QARecord]], where: str | None = None) -> None:
    """Each record id occurs once in ``parts`` and no cluster lies in two parts, else a RecordError."""
    id_at: dict[str, str] = {}
    cluster_at: dict[str, tuple[str, str]] = {}
    for part, records in parts.items():
        for i, r in enumerate(records):
            here = f"{part}[{i}]"
            if r.id in id_at:
                raise RecordError(
                    f"record id {r.id!r} is used twice, at {id_at[r.id]} and {here}; give each record its own id",
                    record=where,
                )
            id_at[r.id] = here
            first_part, first = cluster_at.setdefault(r.cluster, (part, here))
            if first_part != part:
                raise RecordError(
                    f"cluster {r.cluster!r} is in both the {first_part} split ({first}) and the {part} split "
                    f"({here}); a cluster must lie in one split: re-run the `split` rule",
                    record=where,
                )


@dataclass
class BenchmarkSplit:
    """Forget / retain / test records plus named utility sets (TOFU's Real Authors, World Facts)."""

    name: str
    style: str
    forget: list[QARecord]
    retain: list[QARecord]
    test: list[QARecord]
    utility: dict[str, list[QARecord]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"benchmark {self.name!r}"
        if self.style not in STYLES:
            raise RecordError(f"style {self.style!r} is not one of {STYLES}", record=where)
        for part in ("forget", "retain"):
            if not getattr(self, part):
                raise RecordError(f"the {part} split is empty", record=where)
        check_disjoint({"forget": self.forget, "retain": self.retain, "test": self.test}, where)
        for key, records in self.utility.items():
            check_disjoint({f"utility[{key!r}]": records}, where)

    @property
    def forget_train(self) -> list[QARecord]:
        """Records unlearning trains on: the base QA of forget clusters (all of them for TOFU-style)."""
        return [r for r in self.forget if r.kind in ("base", "qa")]

    @property
    def retain_train(self) -> list[QARecord]:
        return [r for r in self.retain if r.kind in ("base", "qa")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "style": self.style,
            "forget": [r.to_dict() for r in self.forget],
            "retain": [r.to_dict() for r in self.retain],
            "test": [r.to_dict() for r in self.test],
            "utility": {k: [r.to_dict() for r in v] for k, v in self.utility.items()},
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BenchmarkSplit:
        """A split from its :meth:`to_dict` form; a missing key or a bad record is a RecordError."""
        holds = "a split holds name, style, forget, retain, test, utility and meta"
        if not isinstance(data, dict):
            raise RecordError(f"a split must be a JSON object ({holds}), got {shown(data)}")

        def part(key: str) -> Any:
            return required(data, key, where="split", holds=holds)

        utility = data.get("utility", {})
        if not isinstance(utility, dict):
            raise RecordError(f"'utility' must be an object of record lists, got {shown(utility)}")
        return cls(
            name=text_field(part("name"), where="split", field="name"),
            style=part("style"),
            forget=records_from_dicts(part("forget"), "forget"),
            retain=records_from_dicts(part("retain"), "retain"),
            test=records_from_dicts(data.get("test", []), "test"),
            utility={k: records_from_dicts(v, f"utility[{k!r}]") for k, v in utility.items()},
            meta=data.get("meta", {}),
        )

    def save(self, path: str | Path) -> None:
        from ssiuu.io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> BenchmarkSplit:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"split file {path} does not exist: run the `split` rule first")
        with in_file(path):
            return cls.from_dict(read_json(path, "split file", fix="delete it and re-run the `split` rule"))
