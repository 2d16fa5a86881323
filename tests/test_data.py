"""Loaders for external benchmark files (FaithUn, TOFU, Alpaca), the registry, and instruction data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ssiuu.data import BENCHMARK_KINDS, load_benchmark, style_of
from ssiuu.data.faithun import load_faithun, load_faithun_records, read_split_indices
from ssiuu.data.instructions import load_alpaca, offline_instructions
from ssiuu.data.records import BenchmarkSplit, RecordError, read_rows
from ssiuu.data.tofu import load_tofu

FIX = Path(__file__).parent / "fixtures"
FAITHUN = FIX / "faithun" / "FaithUn_Dataset.json"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _faithun_copy(tmp_path: Path, mutate) -> Path:
    data = json.loads(FAITHUN.read_text())
    mutate(data)
    p = tmp_path / "faithun.json"
    p.write_text(json.dumps(data))
    return p


# ---------------------------------------------------------------- FaithUn
def test_faithun_records_map_sets_to_kinds_and_clusters():
    recs = load_faithun_records(FAITHUN)
    clusters = sorted({r.cluster for r in recs})
    assert clusters == [f"faithun/{i:03d}" for i in range(5)]  # 2 + 2 + 1 hop1_unlearn questions, file order
    by_id = {r.id: r for r in recs}
    base = by_id["faithun/000/base"]
    assert (base.kind, base.entity, base.answer) == ("base", "Barack Obama", "United States")
    assert base.false_options == ("Canada", "Kenya")
    assert by_id["faithun/000/multihop/0"].answer == "Washington, D.C."
    assert [r.id for r in recs if r.cluster == "faithun/000" and r.kind == "same_answer"] == [
        "faithun/000/same_answer/0",
        "faithun/000/same_answer/1",
    ]
    # keyed entity with aliases: Question/Answer/false_answers, and an `options` list holding the answer
    assert by_id["faithun/002/base"].answer == "ETH Zurich"
    assert by_id["faithun/002/base"].false_options == ("Sorbonne", "University of Oxford")
    assert by_id["faithun/003/base"].false_options == ("Fields Medal", "Copley Medal")
    assert by_id["faithun/003/same_answer/0"].question.startswith("Which prize did Marie Curie")
    # an answer given as a list of aliases takes the first; a null test element means none
    assert by_id["faithun/004/base"].answer == "Netherlands"
    assert not [r for r in recs if r.cluster == "faithun/004" and r.kind == "same_answer"]
    assert {r.kind for r in recs} == {"base", "paraphrase", "multihop", "same_answer"}
    assert sum(r.kind == "base" for r in recs) == 5


def test_faithun_official_split_files():
    split = load_faithun(FAITHUN)
    assert split.style == "mcqa"
    assert {r.cluster for r in split.forget} == {"faithun/001"}
    assert {r.cluster for r in split.retain} == {"faithun/000", "faithun/004"}
    assert {r.cluster for r in split.test} == {"faithun/002"}
    assert [r.id for r in split.forget_train] == ["faithun/001/base"]


def test_faithun_missing_file_says_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"FaithUn data file .*benchmarks\.faithun\.path"):
        load_faithun(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match=r"benchmarks\.faithun\.path"):
        load_benchmark("faithun", path=None)


def test_faithun_folder_without_data_file(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"no FaithUn data file \(FaithUn_Dataset\.json.*benchmarks\.faithun\.path"
    ):
        load_faithun(tmp_path)


def test_faithun_missing_split_file(tmp_path):
    p = tmp_path / "FaithUn_Dataset.json"
    shutil.copy(FAITHUN, p)
    with pytest.raises(FileNotFoundError, match=r"forget_set_split\.txt.*benchmarks\.faithun\.split_dir"):
        load_faithun(p)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (
            lambda d: d["Q76"]["hop1_unlearn"][0].pop("answer"),
            r"entity 'Q76', cluster 0 .*'hop1_unlearn'.*missing field 'answer'",
        ),
        (
            lambda d: d["Q76"]["hop1_test"][1].pop("false_options"),
            r"cluster 1 .*'hop1_test'.*missing field 'false_options'",
        ),
        (
            lambda d: d["Q76"]["hop2_test"][0][0].update(question=""),
            r"'hop2_test'.*field 'question' must be a non-empty string",
        ),
        (
            lambda d: d["Q5582"]["hop1_test"][0].update(false_options=["Netherlands", "France"]),
            r"contains the gold answer 'Netherlands'",
        ),
        (
            lambda d: d["Q76"]["hop2_test"].pop(),
            r"entity 'Q76': field 'hop2_test' has 1 elements but 'hop1_unlearn' has 2",
        ),
        (lambda d: d["Q937"].pop("hop1_unlearn"), r"entity 'Q937': missing field 'hop1_unlearn'"),
        (
            lambda d: d["Q937"]["hop1_test"].update(P999={}),
            r"'hop1_test' has keys \['P999'\] not in 'hop1_unlearn'",
        ),
    ],
)
def test_faithun_malformed_records_name_record_and_field(tmp_path, mutate, pattern):
    with pytest.raises(RecordError, match=pattern):
        load_faithun_records(_faithun_copy(tmp_path, mutate))


def test_faithun_bad_split_indices(tmp_path):
    d = tmp_path / "splits"
    shutil.copytree(FIX / "faithun" / "splits", d)
    (d / "test_set_split.txt").write_text("1\n")
    with pytest.raises(ValueError, match="cluster index 1 is in both the forget and the test split"):
        load_faithun(FAITHUN, split_dir=d)
    (d / "test_set_split.txt").write_text("9\n")
    with pytest.raises(ValueError, match="test index 9 is out of range: there are 5 clusters"):
        load_faithun(FAITHUN, split_dir=d)
    (d / "test_set_split.txt").write_text("two\n")
    with pytest.raises(RecordError, match="line 1: expected a cluster index, got 'two'"):
        read_split_indices(d / "test_set_split.txt")
    (d / "forget_set_split.txt").write_text("\n")
    with pytest.raises(RecordError, match="forget_set_split.txt is empty"):
        read_split_indices(d / "forget_set_split.txt")


def test_faithun_invalid_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(RecordError, match="is not valid JSON"):
        load_faithun_records(p)


# ---------------------------------------------------------------- TOFU
def test_tofu_local_dir():
    split = load_tofu(FIX / "tofu")
    assert isinstance(split, BenchmarkSplit) and split.style == "rouge" and split.test == []
    assert len(split.forget) == 2 and len(split.retain) == 3
    assert {r.cluster for r in split.retain} == {"tofu/author000"}
    assert {r.cluster for r in split.forget} == {"tofu/author001"}  # forget authors come after retain ones
    f0, f1 = split.forget
    assert f0.id == "tofu/forget01/0000" and f0.kind == "qa"
    assert f0.paraphrased_answer == "That author's full name is Basil Mahfouz Al-Kuwaiti."
    assert len(f0.perturbed_answers) == 3
    assert f1.perturbed_answers == (
        "Basil Mahfouz Al-Kuwaiti is known for science fiction.",
        "Basil Mahfouz Al-Kuwaiti is known for poetry.",
    )
    assert set(split.utility) == {"real_authors", "world_facts"}
    assert split.utility["real_authors"][0].answer == "Jane Austen"
    assert split.utility["world_facts"][1].perturbed_answers == ("Alexandria", "Giza", "Luxor")
    assert split.forget_train == split.forget


def test_tofu_fixture_is_shaped_like_the_hub():
    """forget01 / retain99 hold questions and answers only; the wrong answers are in the *_perturbed configs."""
    for config in ("forget01", "retain99"):
        rows = read_rows(FIX / "tofu" / f"{config}.json", "TOFU file")
        assert all(set(row) == {"question", "answer"} for row in rows), config
    for config in ("forget01_perturbed", "retain_perturbed"):
        rows = read_rows(FIX / "tofu" / f"{config}.json", "TOFU file")
        assert all(
            {"paraphrased_answer", "perturbed_answer", "paraphrased_question"} <= set(row) for row in rows
        ), config


def test_tofu_retain_takes_the_perturbed_answers_retain_perturbed_holds():
    r0, r1, r2 = load_tofu(FIX / "tofu").retain
    assert r0.perturbed_answers == (
        "Lena Marvik was born in Bergen, Norway.",
        "Lena Marvik was born in Oslo, Norway.",
        "Lena Marvik was born in Malmo, Sweden.",
    )
    assert r0.paraphrased_answer == "Tromso, Norway, is Lena Marvik's birthplace."
    assert r1.perturbed_answers == () and r1.paraphrased_answer is None  # not in retain_perturbed: kept as is
    assert len(r2.perturbed_answers) == 3
    assert [r.id for r in (r0, r1, r2)] == [f"tofu/retain99/{i:04d}" for i in range(3)]


def test_tofu_forget_question_without_perturbed_answers_is_one_line(tmp_path):
    d = tmp_path / "t"
    shutil.copytree(FIX / "tofu", d)
    rows = read_rows(d / "forget01_perturbed.json", "TOFU file")
    (d / "forget01_perturbed.json").write_text(json.dumps(rows[:1]))
    with pytest.raises(RecordError) as info:
        load_tofu(d)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{d / 'forget01_perturbed.json'}: TOFU 'forget01' row 1: "), message
    for part in (
        "'What genre is Basil Mahfouz Al-Kuwaiti known for?'",
        "forget01_perturbed has no row",
        "save",
    ):
        assert part in message, message
    (d / "forget01_perturbed.json").write_text(json.dumps([rows[0], {**rows[1], "perturbed_answer": []}]))
    with pytest.raises(RecordError, match=r"row 1: .*forget01_perturbed holds it without perturbed_answer"):
        load_tofu(d)
    (d / "forget01_perturbed.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"forget01_perturbed\.json \(or \.jsonl\) is missing"):
        load_tofu(d)


def test_tofu_forget_row_keeps_its_own_perturbed_answers(tmp_path):
    d = tmp_path / "t"
    shutil.copytree(FIX / "tofu", d)
    rows = read_rows(d / "forget01.json", "TOFU file")
    rows[1]["perturbed_answer"] = ["Basil Mahfouz Al-Kuwaiti is known for horror."]
    (d / "forget01.json").write_text(json.dumps(rows))
    f0, f1 = load_tofu(d).forget
    assert len(f0.perturbed_answers) == 3  # from forget01_perturbed
    assert f1.perturbed_answers == ("Basil Mahfouz Al-Kuwaiti is known for horror.",)
    assert f1.paraphrased_answer == "French literature is the genre of Basil Mahfouz Al-Kuwaiti."  # filled in


def test_tofu_clusters_are_authors_of_twenty(tmp_path):
    def rows(n, tag, **fields):
        return [
            {"question": f"{tag} question {i}?", "answer": f"{tag} answer {i}.", **fields} for i in range(n)
        ]

    (tmp_path / "retain99.json").write_text(json.dumps(rows(60, "r")))  # JSON array form
    (tmp_path / "forget01.jsonl").write_text("\n".join(json.dumps(r) for r in rows(40, "f")))
    (tmp_path / "forget01_perturbed.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows(40, "f", perturbed_answer=["wrong."]))
    )
    (tmp_path / "retain_perturbed.json").write_text(json.dumps(rows(5, "r", perturbed_answer=["wrong."])))
    for cfg in ("real_authors_perturbed", "world_facts_perturbed"):
        (tmp_path / f"{cfg}.json").write_text(json.dumps(rows(2, cfg)))
    split = load_benchmark("tofu", path=str(tmp_path), seed=0)
    assert [r.cluster for r in split.retain[19:21]] == ["tofu/author000", "tofu/author001"]
    assert sorted({r.cluster for r in split.forget}) == ["tofu/author003", "tofu/author004"]
    assert all(r.perturbed_answers == ("wrong.",) for r in split.forget)
    assert [bool(r.perturbed_answers) for r in split.retain[3:7]] == [True, True, False, False]


def test_tofu_offline_without_dir_explains(offline):
    with pytest.raises(FileNotFoundError, match=r"hub is offline.*benchmarks\.tofu\.path"):
        load_tofu(None)
    with pytest.raises(FileNotFoundError, match=r"hub is offline.*benchmarks\.tofu\.path"):
        load_benchmark("tofu", path="locuslab/TOFU", seed=0)  # a hub id in `path`


def test_tofu_missing_config_file(tmp_path):
    shutil.copytree(FIX / "tofu", tmp_path / "t")
    (tmp_path / "t" / "forget01.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"forget01\.json \(or \.jsonl\) is missing"):
        load_tofu(tmp_path / "t")
    with pytest.raises(FileNotFoundError, match="TOFU directory .* does not exist"):
        load_tofu(tmp_path / "absent")


def test_tofu_malformed_and_empty(tmp_path):
    d = tmp_path / "t"
    shutil.copytree(FIX / "tofu", d)
    (d / "forget01.json").write_text(json.dumps([{"question": "Who?"}]))
    with pytest.raises(RecordError, match=r"TOFU 'forget01' row 0: missing field 'answer'"):
        load_tofu(d)
    (d / "forget01.json").write_text(
        json.dumps([{"question": "Who?", "answer": "Me.", "perturbed_answer": 3}])
    )
    with pytest.raises(RecordError, match=r"row 0: field 'perturbed_answer' must be a list of strings"):
        load_tofu(d)
    (d / "forget01.json").write_text("")
    with pytest.raises(RecordError, match=r"TOFU split 'forget01' is empty"):
        load_tofu(d)


# ---------------------------------------------------------------- registry
def test_registry_kinds_and_styles():
    assert BENCHMARK_KINDS == {"faithun", "tofu", "worldfacts", "fictitious"}
    assert [style_of(k) for k in ("faithun", "worldfacts", "tofu", "fictitious")] == [
        "mcqa",
        "mcqa",
        "rouge",
        "rouge",
    ]
    with pytest.raises(
        ValueError,
        match=r"unknown benchmark kind 'mmlu'; valid kinds: \['faithun', 'fictitious', 'tofu', 'worldfacts'\]",
    ):
        load_benchmark("mmlu", path=None, seed=0)
    with pytest.raises(ValueError, match="unknown benchmark kind"):
        style_of("nope")


def test_registry_dispatch_and_option_errors():
    split = load_benchmark("faithun", path=str(FAITHUN), seed=0)
    assert isinstance(split, BenchmarkSplit) and split.name == "faithun"
    assert (
        load_benchmark("faithun", path=str(FAITHUN.parent), seed=0).to_dict() == split.to_dict()
    )  # a folder works too
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) \['bogus'\]; worldfacts takes \['max_cities_per_country'"
    ):
        load_benchmark("worldfacts", path=None, seed=0, bogus=3)
    # one call can pass a whole config block: options of other kinds are ignored
    wf = load_benchmark(
        "worldfacts", path=None, seed=0, name="wf", n_authors=40, qa_per_author=20, max_clusters=3
    )
    assert len({r.cluster for r in wf}) == 3
    with pytest.raises(ValueError, match="is built in and takes no path"):
        load_benchmark("fictitious", path="x.json", seed=0)
    recs = load_benchmark("fictitious", path=None, seed=0, n_authors=5, qa_per_author=3)
    assert len(recs) == 15


# ---------------------------------------------------------------- instructions
def test_load_alpaca_local_file_and_dir():
    pairs = load_alpaca(str(FIX / "alpaca" / "alpaca_data.json"), n=5, seed=0)
    assert len(pairs) == 5  # the row with an empty output is skipped
    assert ("Translate the sentence into French.\n\nGood morning.", "Bonjour.") in pairs
    assert (
        "Write a haiku about rain.",
        "Soft rain on the roof / the garden drinks in silence / puddles hold the sky",
    ) in pairs
    a = load_alpaca(str(FIX / "alpaca"), n=3, seed=1)
    assert a == load_alpaca(str(FIX / "alpaca"), n=3, seed=1)
    assert len(a) == 3
    with pytest.raises(ValueError, match="asked for n=6 Alpaca instances but .* has 5 usable ones"):
        load_alpaca(str(FIX / "alpaca"), n=6)


def test_load_alpaca_errors(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match=r"hub is offline.*attacks\.benign\.source"):
        load_alpaca("tatsu-lab/alpaca", n=10)
    with pytest.raises(FileNotFoundError, match="Alpaca file .* does not exist"):
        load_alpaca(str(tmp_path / "missing.json"), n=10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "x"}]))
    with pytest.raises(ValueError, match="needs the fields 'instruction' and 'output'"):
        load_alpaca(str(bad), n=1)


def test_offline_instructions_are_distinct_deterministic_and_correct():
    pairs = offline_instructions(1000, seed=0)
    assert len(pairs) == 1000 and len({p for p, _ in pairs}) == 1000
    assert pairs == offline_instructions(1000, seed=0)
    assert pairs != offline_instructions(1000, seed=1)
    checked = 0
    for prompt, answer in pairs:
        if m := re.fullmatch(r"What is (\d+) \+ (\d+)\?", prompt):
            assert answer.endswith(f"= {int(m[1]) + int(m[2])}.")
            checked += 1
        elif m := re.fullmatch(r"Sort these numbers from smallest to largest: (.*)\.", prompt):
            assert answer == ", ".join(map(str, sorted(int(x) for x in m[1].split(", "))))
            checked += 1
        elif m := re.fullmatch(r"Write the word '(\w+)' backwards\.", prompt):
            assert answer.endswith(f"'{m[1][::-1]}'.")
            checked += 1
        elif m := re.fullmatch(r"How many times does the letter '(\w)' appear in the word '(\w+)'\?", prompt):
            assert f"appears {m[2].count(m[1])} time" in answer
            checked += 1
    assert checked > 200


def test_offline_instructions_share_nothing_with_worldfacts_entities():
    from ssiuu.data.worldfacts import load_countries

    text = " ".join(p + " " + a for p, a in offline_instructions(1000)).lower()
    words = set(re.findall(r"[a-z]+", text))
    for c in load_countries():
        for name in (c.name, c.capital):
            assert name.lower() not in words, name
