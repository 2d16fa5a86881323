"""The split's probe: a base question counts as known only if it is answered right under every cyclic
option order, and split.json's meta records the rule and its outcome."""

from __future__ import annotations

import re

import pytest

import ssiuu.evaluation
import ssiuu.models
from ssiuu.config import validate_config
from ssiuu.data.build import build_benchmark, known_under_orders, make_split
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.data.templates import mcqa_prompt, rotate_options

OPTIONS = re.compile(r"\nOptions: (.*)\nYour Answer:")


def shown_options(prompt: str) -> list[str]:
    """The options an MCQA prompt lists, in the order it lists them."""
    match = OPTIONS.search(prompt)
    assert match, prompt
    return match.group(1).split(", ")


def first_option(prompt: str) -> str:
    """A model that answers by position: always the first option listed ("A")."""
    return shown_options(prompt)[0]


def record(cid: str, answer: str, false: tuple[str, str], kind: str = "base") -> QARecord:
    return QARecord(f"{cid}/{kind}", cid, cid, kind, f"Question about {cid} ({kind})?", answer, false)


def records() -> list[QARecord]:
    out = []
    for i in range(6):
        cid = f"c{i}"
        out += [
            record(cid, f"Gold{i}", (f"Wrong{i}a", f"Wrong{i}b")),
            record(cid, f"Gold{i}", ("X", "Y"), "paraphrase"),
        ]
    return out


def test_rotations_put_every_option_once_in_every_position():
    opts = ("Paris", "Lyon", "Nice")
    orders = [rotate_options(opts, k) for k in range(3)]
    assert orders == [("Paris", "Lyon", "Nice"), ("Lyon", "Nice", "Paris"), ("Nice", "Paris", "Lyon")]
    for pos in range(3):
        assert {order[pos] for order in orders} == set(opts)
    assert rotate_options(opts, 3) == opts


def test_evaluation_prompt_keeps_the_records_own_order():
    rec = records()[0]
    assert mcqa_prompt(rec) == mcqa_prompt(rec, 0)
    assert shown_options(mcqa_prompt(rec)) == list(rec.options)
    assert shown_options(mcqa_prompt(rec, 1)) == list(rec.options[1:] + rec.options[:1])


def test_a_positional_guess_right_under_one_order_is_rejected_and_known_facts_kept():
    recs = records()
    base = [r for r in recs if r.kind == "base"]
    lucky = [r for r in base if r.options[0] == r.answer]  # gold first in the record's own order
    assert lucky and len(lucky) < len(base)
    knows = {"c1/base", "c4/base"}
    questions = {r.question: r for r in base}
    calls: list[tuple[int, list[str]]] = []

    def generate(prompts: list[str], shift: int) -> list[str]:
        calls.append((shift, prompts))
        answers = []
        for p in prompts:
            rec = questions[p.split("Question: ")[1].split("\n")[0]]
            answers.append(rec.answer if rec.id in knows else first_option(p))
        return answers

    strict = known_under_orders(recs, generate)
    assert strict.known == knows  # every lucky position guess is dropped, both known facts are kept
    assert strict.orders == 3 and strict.rule == "right under all 3 cyclic option orders"
    assert [shift for shift, _ in calls] == [0, 1, 2]  # one generation pass per order
    # order 0 asks every base question once; later orders only the questions still passing
    assert len(calls[0][1]) == len(base)
    first_pass = {r.id for r in lucky} | knows
    assert strict.passed[0] == len(first_pass) and strict.passed[-1] == len(knows)
    assert len(calls[1][1]) == len(first_pass)
    # a known question was asked under three different orders, with the gold answer in every position
    asked_c1 = [shown_options(p) for _, ps in calls for p in ps if "c1 (base)" in p]
    assert len(asked_c1) == 3
    assert sorted(order.index("Gold1") for order in asked_c1) == [0, 1, 2]
    assert strict.chance_pass == pytest.approx(1 / 27)

    # under the record's own order alone (the earlier rule) the lucky guesses pass as "known"
    calls.clear()
    single = known_under_orders(recs, generate, orders=1)
    assert single.known == first_pass and single.known > strict.known
    assert single.rule == "right under the record's own option order" and len(calls) == 1


def test_a_model_that_knows_every_fact_loses_nothing():
    recs = records()
    by_question = {r.question: r.answer for r in recs}
    result = known_under_orders(
        recs, lambda prompts, _: [by_question[p.split("Question: ")[1].split("\n")[0]] for p in prompts]
    )
    assert result.known == {r.id for r in recs if r.kind == "base"}
    assert result.passed == [6, 6, 6]


def test_probe_orders_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        known_under_orders(records(), lambda prompts, _: prompts, orders=0)


def test_split_json_meta_carries_the_probe_rule_and_counts(tmp_path, monkeypatch):
    config = validate_config(
        {
            "benchmarks": {
                "wf": {
                    "kind": "worldfacts",
                    "min_country_population": 50_000_000,  # a small benchmark: 20-odd countries, big cities
                    "max_cities_per_country": 1,
                    "split": {"forget": 0.25, "retain": 0.25, "test": 0.5},
                }
            }
        }
    )
    records_path = tmp_path / "records.json"
    data = build_benchmark(config, "wf", str(records_path))
    recs = [QARecord.from_dict(d) for d in data["records"]]
    base = [r for r in recs if r.kind == "base"]
    assert len({r.cluster for r in recs}) == len(base) < 120  # the size keys reached the builder
    # the model knows the continent clusters and guesses the first option everywhere else
    gold = {r.question: r.answer for r in base}
    knows = {r.question for r in base if "/continent/" in r.cluster}
    asked: list[int] = []

    def fake_generate(model, tokenizer, prompts, **_options):
        asked.append(len(prompts))
        return [
            gold[q] if (q := p.split("Question: ")[1].split("\n")[0]) in knows else first_option(p)
            for p in prompts
        ]

    monkeypatch.setattr(ssiuu.models, "load_for", lambda *a, **k: (object(), object()))
    monkeypatch.setattr(ssiuu.evaluation, "greedy_generate", fake_generate)
    out = tmp_path / "split.json"
    make_split(config, "wf", "m", records=str(records_path), model_dir="unused", out=str(out))
    meta = BenchmarkSplit.load(out).meta

    lucky = sum(r.options[0] == r.answer for r in base if r.question not in knows)
    assert lucky > 0  # some unknown clusters were right by position under the record's own order
    assert meta["probe_rule"] == "right under all 3 cyclic option orders"
    assert meta["probe_orders"] == 3 and len(asked) == 3
    assert meta["clusters_before_probe"] == len(base)
    assert meta["clusters_after_probe"] == len(knows)
    assert meta["clusters_right_first_order"] == len(knows) + lucky
    assert meta["clusters_right_by_orders"] == [len(knows) + lucky, len(knows), len(knows)]
    assert meta["probe_accuracy"] == pytest.approx(len(knows) / len(base))
    assert meta["probe_chance_pass"] == pytest.approx(1 / 27)
    split = BenchmarkSplit.load(out)
    assert all("/continent/" in r.cluster for r in split.forget + split.retain + split.test)
