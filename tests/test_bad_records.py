"""Malformed benchmark and instruction files: each gets one error line naming the file, the record,
the field and the bad value (issue 18, section 3); FaithUn's alternative field names are accepted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssiuu.data import load_benchmark
from ssiuu.data.faithun import load_faithun, load_faithun_records
from ssiuu.data.instructions import load_alpaca
from ssiuu.data.records import MAX_TEXT_CHARS, BenchmarkSplit, QARecord, RecordError
from ssiuu.data.tofu import load_tofu

FIX = Path(__file__).parent / "fixtures"
FAITHUN = FIX / "faithun" / "FaithUn_Dataset.json"
HUGE = "x" * 1_200_000

Probe = Callable[[Path], tuple[Path, Callable[[], Any]]]


def _question(data: dict[str, Any]) -> dict[str, Any]:
    """The first base question of the FaithUn fixture."""
    return data["Q76"]["hop1_unlearn"][0]


def faithun(mutate: Callable[[dict[str, Any]], Any]) -> Probe:
    """A FaithUn fixture copy changed by ``mutate``, loaded with :func:`load_faithun_records`."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        data = json.loads(FAITHUN.read_text())
        mutate(data)
        path = tmp_path / "FaithUn_Dataset.json"
        path.write_text(json.dumps(data))
        return path, lambda: load_faithun_records(path)

    return make


def faithun_text(edit: Callable[[str], str | bytes]) -> Probe:
    """A FaithUn fixture copy whose raw text is changed by ``edit``."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        path = tmp_path / "FaithUn_Dataset.json"
        text = edit(FAITHUN.read_text())
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path, lambda: load_faithun_records(path)

    return make


def split_index(text: bytes) -> Probe:
    """The FaithUn fixture with a forget index file holding ``text``."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        shutil.copytree(FIX / "faithun" / "splits", tmp_path / "splits")
        path = tmp_path / "splits" / "forget_set_split.txt"
        path.write_bytes(text)
        return path, lambda: load_faithun(FAITHUN, split_dir=tmp_path / "splits")

    return make


def _record(rid: str, cluster: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "cluster": cluster,
        "entity": cluster,
        "kind": "base",
        "question": f"{rid}?",
        "answer": f"{rid} gold",
        "false_options": [f"{rid} x", f"{rid} y"],
    } | fields


def _split() -> dict[str, Any]:
    return {
        "name": "toy",
        "style": "mcqa",
        "forget": [_record("f0", "c0"), _record("f1", "c1")],
        "retain": [_record("r0", "c2")],
        "test": [_record("t0", "c3")],
        "utility": {},
        "meta": {},
    }


def split(mutate: Callable[[dict[str, Any]], Any] | None = None, raw: bytes | None = None) -> Probe:
    """A split file (a valid toy split changed by ``mutate``, or ``raw`` bytes) read by ``BenchmarkSplit.load``."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        data = _split()
        if mutate:
            mutate(data)
        path = tmp_path / "split.json"
        path.write_bytes(raw if raw is not None else json.dumps(data).encode())
        return path, lambda: BenchmarkSplit.load(path)

    return make


def tofu(rows: list[Any] | None = None, raw: bytes | None = None) -> Probe:
    """The TOFU fixture with ``forget01.json`` replaced by ``rows`` (or ``raw`` bytes)."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        shutil.copytree(FIX / "tofu", tmp_path / "tofu")
        path = tmp_path / "tofu" / "forget01.json"
        path.write_bytes(raw if raw is not None else json.dumps(rows).encode())
        return path, lambda: load_tofu(tmp_path / "tofu")

    return make


def alpaca(row: dict[str, Any] | None = None, raw: bytes | None = None) -> Probe:
    """An Alpaca file: one valid row plus ``row`` (or ``raw`` bytes)."""

    def make(tmp_path: Path) -> tuple[Path, Callable[[], Any]]:
        path = tmp_path / "alpaca_data.json"
        rows = [{"instruction": "Say hi.", "input": "", "output": "Hi."}, row]
        path.write_bytes(raw if raw is not None else json.dumps(rows).encode())
        return path, lambda: load_alpaca(str(path), n=1)

    return make


def _tofu_row(**fields: Any) -> dict[str, Any]:
    return {"question": "Who wrote it?", "answer": "Someone did."} | fields


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], **fields: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: path(d).update(fields)


def _options_only(options: Any) -> Callable[[dict[str, Any]], Any]:
    """Give the first FaithUn question an ``options`` list instead of its false options."""

    def mutate(d: dict[str, Any]) -> None:
        del _question(d)["false_options"]
        _question(d)["options"] = options

    return mutate


def _forget0(d: dict[str, Any]) -> dict[str, Any]:
    return d["forget"][0]


P = pytest.param
NON_UTF8 = b'{"name": "caf\xe9"}'
PROBES = [
    # FaithUn questions: options, answers and questions of the wrong type, empty or too long
    P(
        faithun(_set(_question, false_options="Rome")),
        ["'false_options'", "'Rome'", "list"],
        id="fu-options-str",
    ),
    P(faithun(_set(_question, false_options=[1, None])), ["'false_options[0]'", "1"], id="fu-options-int"),
    P(
        faithun(_set(_question, false_options=["Kenya", None])),
        ["'false_options[1]'", "None"],
        id="fu-options-none",
    ),
    P(faithun(_set(_question, false_options=[])), ["'false_options'", "[]"], id="fu-options-empty"),
    P(
        faithun(_set(_question, false_options={"a": "Kenya"})),
        ["'false_options'", "{'a': 'Kenya'}"],
        id="fu-options-dict",
    ),
    P(faithun(_set(_question, answer=True)), ["'answer'", "True"], id="fu-answer-bool"),
    P(faithun(_set(_question, answer=None)), ["'answer'", "None"], id="fu-answer-null"),
    P(faithun(_set(_question, answer=1961)), ["'answer'", "1961", '"1961"'], id="fu-answer-number"),
    P(faithun(_set(_question, answer=[None, "US"])), ["'answer[0]'", "None"], id="fu-answer-list-none"),
    P(faithun(_set(_question, question=None)), ["'question'", "None"], id="fu-question-null"),
    P(
        faithun(_set(_question, question=HUGE)),
        ["'question'", "1,200,000", f"{MAX_TEXT_CHARS:,}"],
        id="fu-question-huge",
    ),
    P(faithun(_options_only([1, "United States"])), ["'options[0]'", "1"], id="fu-options-list-int"),
    P(
        faithun(lambda d: d["Q76"]["hop1_unlearn"].__setitem__(0, "Who?")),
        ["'hop1_unlearn'", "'Who?'"],
        id="fu-question-str",
    ),
    P(faithun(lambda d: d.__setitem__("Q76", ["x"])), ["'Q76'", "['x']"], id="fu-entity-list"),
    # FaithUn files: duplicated keys, bytes that are not UTF-8, split index files
    P(
        faithun_text(lambda t: t.replace('"Q937"', '"Q76"')),
        ["'Q76'", "twice", "lines 2, 22"],
        id="fu-duplicate-entity",
    ),
    P(
        faithun_text(
            lambda t: t.replace('"answer": "United States"', '"answer": "US", "answer": "United States"', 1)
        ),
        ["'answer'", "twice"],
        id="fu-duplicate-field",
    ),
    P(
        faithun_text(lambda t: t.replace("Barack", "Bar\xe1ck").encode("latin-1")),
        ["UTF-8", "0xe1", "line 3"],
        id="fu-latin1",
    ),
    P(split_index(b"1\xff\n"), ["UTF-8", "0xff"], id="fu-index-bytes"),
    P(split_index(b"1\n1\n"), ["index 1", "twice"], id="fu-index-repeated"),
    # split files (BenchmarkSplit.load)
    P(split(raw=b""), ["empty", "split"], id="split-empty"),
    P(split(raw=b"{not json"), ["not valid JSON", "line 1"], id="split-not-json"),
    P(split(raw=NON_UTF8), ["UTF-8", "0xe9"], id="split-bytes"),
    P(split(raw=b"[]"), ["JSON object", "[]"], id="split-list"),
    P(split(lambda d: d.pop("forget")), ["'forget'", "missing"], id="split-no-forget"),
    P(
        split(lambda d: d.update(forget={"f0": {}})),
        ["'forget'", "list", "{'f0': {}}"],
        id="split-forget-dict",
    ),
    P(split(lambda d: d["forget"].__setitem__(1, "f1")), ["forget[1]", "'f1'"], id="split-record-str"),
    P(
        split(_set(_forget0, false_options="Rome")),
        ["forget[0]", "'false_options'", "'Rome'"],
        id="split-options-str",
    ),
    P(split(_set(_forget0, answer=True)), ["forget[0]", "'answer'", "True"], id="split-answer-bool"),
    P(
        split(_set(_forget0, perturbed_answers="Nope.")),
        ["'perturbed_answers'", "'Nope.'"],
        id="split-perturbed-str",
    ),
    P(
        split(_set(_forget0, question=HUGE)),
        ["forget[0]", "'question'", "1,200,000"],
        id="split-question-huge",
    ),
    P(
        split(lambda d: d["forget"][0].pop("answer")),
        ["forget[0]", "'answer'", "missing"],
        id="split-no-answer",
    ),
    P(
        split(lambda d: d["forget"].append(_record("f0", "c1"))),
        ["'f0'", "forget[0]", "forget[2]"],
        id="split-duplicate-id",
    ),
    P(
        split(lambda d: d["retain"].append(_record("f1", "c9"))),
        ["'f1'", "forget[1]", "retain[1]"],
        id="split-shared-id",
    ),
    P(
        split(lambda d: d["retain"].append(_record("r1", "c0"))),
        ["cluster 'c0'", "forget", "retain"],
        id="split-shared-cluster",
    ),
    P(
        split(lambda d: d["test"].append(_record("t1", "c2"))),
        ["cluster 'c2'", "retain", "test"],
        id="split-test-cluster",
    ),
    P(
        split(lambda d: d.update(utility={"u": [_record("u0", "u"), _record("u0", "u")]})),
        ["'u0'", "utility"],
        id="split-utility-duplicate",
    ),
    # TOFU config files
    P(tofu([_tofu_row(question=None)]), ["row 0", "'question'", "None"], id="tofu-question-null"),
    P(tofu([_tofu_row(answer=True)]), ["row 0", "'answer'", "True"], id="tofu-answer-bool"),
    P(
        tofu([_tofu_row(perturbed_answer=["No.", 3])]),
        ["'perturbed_answer[1]'", "3"],
        id="tofu-perturbed-int",
    ),
    P(
        tofu(raw=b'[{"question": "Who?", "question": "Why?", "answer": "Me."}]'),
        ["'question'", "twice", "(line 1)"],
        id="tofu-duplicate-field",
    ),
    P(tofu(raw=NON_UTF8), ["UTF-8", "0xe9"], id="tofu-bytes"),
    # Alpaca instruction files
    P(
        alpaca({"instruction": None, "input": "", "output": "Hi."}),
        ["row 1", "'instruction'", "None"],
        id="alpaca-instruction-null",
    ),
    P(
        alpaca({"instruction": "Say hi.", "input": "", "output": {"text": "Hi."}}),
        ["row 1", "'output'", "{'text': 'Hi.'}"],
        id="alpaca-output-dict",
    ),
    P(
        alpaca({"instruction": "Say hi.", "input": ["a"], "output": "Hi."}),
        ["row 1", "'input'", "['a']"],
        id="alpaca-input-list",
    ),
    P(alpaca(raw=NON_UTF8), ["UTF-8", "0xe9"], id="alpaca-bytes"),
]


@pytest.mark.parametrize(("make", "expected"), PROBES)
def test_malformed_input_gets_one_line_naming_file_field_and_value(tmp_path, make, expected):
    path, load = make(tmp_path)
    with pytest.raises(RecordError) as info:
        load()
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_long_values_are_shown_cut_short(tmp_path):
    path, load = faithun(_set(_question, question=HUGE))(tmp_path)
    with pytest.raises(RecordError) as info:
        load()
    assert len(str(info.value)) < 500


def test_question_at_the_limit_loads():
    record = QARecord(id="q", cluster="c", entity="e", kind="base", question="x" * MAX_TEXT_CHARS, answer="a")
    assert len(record.question) == MAX_TEXT_CHARS


def test_faithun_alternative_field_names(tmp_path):
    def rename(d: dict[str, Any]) -> None:
        q = _question(d)
        q["answers"] = [q.pop("answer"), "USA"]
        q["false_answer_options"] = q.pop("false_options")

    path, load = faithun(rename)(tmp_path)
    base = load()[0]
    assert (base.answer, base.false_options) == ("United States", ("Canada", "Kenya"))


def _renamed(d: dict[str, Any]) -> None:
    """Every question of the fixture with its fields renamed to prompt/gold_answer/wrong_choices."""
    names = {
        "question": "prompt",
        "Question": "prompt",
        "answer": "gold_answer",
        "Answer": "gold_answer",
        "false_options": "wrong_choices",
        "false_answers": "wrong_choices",
    }

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "options" in node:
                answer = node.get("answer")
                node["false_options"] = [o for o in node.pop("options") if o != answer]
            for old, new in names.items():
                if old in node:
                    node[new] = node.pop(old)
            for value in list(node.values()):
                walk(value)

    walk(d)


def test_faithun_field_names_from_config(tmp_path):
    path, _ = faithun(_renamed)(tmp_path)
    shutil.copytree(FIX / "faithun" / "splits", tmp_path / "splits")
    fields = {"question": "prompt", "answer": "gold_answer", "false_options": "wrong_choices"}
    split_obj = load_benchmark("faithun", path=str(path), fields=fields)
    assert split_obj.to_dict() == load_faithun(FAITHUN).to_dict()
    with pytest.raises(RecordError, match=r"missing field 'prompt'.*benchmarks\.<name>\.fields\.question"):
        load_benchmark("faithun", path=str(FAITHUN), fields=fields)


def test_faithun_field_names_reach_the_loader_from_the_config(tmp_path):
    from ssiuu.config import validate_config
    from ssiuu.data.build import build_benchmark

    path, _ = faithun(_renamed)(tmp_path)
    shutil.copytree(FIX / "faithun" / "splits", tmp_path / "splits")
    fields = {"question": "prompt", "answer": "gold_answer", "false_options": "wrong_choices"}
    config = validate_config({"benchmarks": {"fu": {"kind": "faithun", "path": str(path), "fields": fields}}})
    data = build_benchmark(config, "fu", str(tmp_path / "records.json"))
    assert len(data["split"]["forget"]) == len(load_faithun(FAITHUN).forget)
    assert validate_config({"benchmarks": {"fu": {"kind": "faithun"}}})["benchmarks"]["fu"]["fields"] == {
        "question": None,
        "answer": None,
        "false_options": None,
    }
