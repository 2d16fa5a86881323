"""forget_score and evaluate_split: which records feed FS, retain, test, by_kind and US."""

from __future__ import annotations

import pytest

import ssiuu.evaluation as ev
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.evaluation import evaluate_split, forget_score


def _mc(cid: str, kind: str, answer: str, n: int = 0) -> QARecord:
    return QARecord(
        id=f"{cid}/{kind}{n}",
        cluster=cid,
        entity=cid,
        kind=kind,
        question=f"{cid} {kind} {n}?",
        answer=answer,
        false_options=(f"{answer}x", f"{answer}y"),
    )


def _qa(i: int, answer: str) -> QARecord:
    return QARecord(
        id=f"t{i}", cluster=f"a{i}", entity=f"a{i}", kind="qa", question=f"tofu question {i}?", answer=answer
    )


def _oracle(correct_ids: set[str], records: list[QARecord]):
    """A fake greedy_generate answering gold for ``correct_ids`` and a distractor otherwise."""
    by_question = {}
    for r in records:
        by_question[r.question] = r.answer if r.id in correct_ids else r.false_options[0]

    def fake(model, tok, prompts, *, max_new_tokens, batch_size, desc=""):
        out = []
        for p in prompts:
            q = p.split("Question: ")[1].split("\nOptions:")[0]
            out.append(by_question[q])
        return out

    return fake


def test_evaluate_split_mcqa(monkeypatch, tiny):
    forget = [
        _mc("f1", "base", "A"),
        _mc("f1", "paraphrase", "A"),
        _mc("f1", "multihop", "B"),
        _mc("f2", "base", "C"),
        _mc("f2", "paraphrase", "C"),
        _mc("f2", "same_answer", "C"),
    ]
    retain = [
        _mc("r1", "base", "D"),
        _mc("r1", "paraphrase", "D"),
        _mc("r2", "base", "E"),
        _mc("r3", "base", "F"),
    ]
    test = [
        _mc("t1", "base", "G"),
        _mc("t1", "multihop", "H"),
        _mc("t2", "base", "I"),
        _mc("t3", "base", "J"),
    ]
    split = BenchmarkSplit(name="wf", style="mcqa", forget=forget, retain=retain, test=test)
    correct = {
        "f1/base0",
        "f1/paraphrase0",
        "f2/same_answer0",
        "r1/base0",
        "r2/base0",
        "t1/base0",
        "t3/base0",
    }
    monkeypatch.setattr(ev, "greedy_generate", _oracle(correct, forget + retain + test))
    model, tok = tiny
    out = evaluate_split(
        model, tok, split, utility_tasks=[], utility_limit=None, work_dir="unused", batch_size=4
    )
    assert out["forget_score"] == pytest.approx(1 / 2)  # base questions only: f1 right, f2 wrong
    assert out["retain_score"] == pytest.approx(2 / 3)  # retain base only
    assert out["test_score"] == pytest.approx(2 / 4)  # all kinds
    assert out["by_kind"] == {"base": 0.5, "paraphrase": 0.5, "multihop": 0.0, "same_answer": 1.0}
    assert out["US"] is None and out["utility"] == {}
    assert [it["id"] for it in out["per_item"]["retain"]] == ["r1/base0", "r2/base0", "r3/base0"]
    assert len(out["per_item"]["forget"]) == 6
    limited = evaluate_split(
        model,
        tok,
        split,
        utility_tasks=[],
        utility_limit=None,
        work_dir="unused",
        test_limit=2,
        retain_limit=1,
    )
    assert limited["test_score"] == 0.5 and limited["retain_score"] == 1.0
    base_only = evaluate_split(
        model, tok, split, utility_tasks=[], utility_limit=None, work_dir="unused", forget_kinds=["base"]
    )
    assert [it["id"] for it in base_only["per_item"]["forget"]] == ["f1/base0", "f2/base0"]
    assert base_only["forget_score"] == out["forget_score"] and base_only["by_kind"] == {"base": 0.5}
    assert base_only["retain_score"] == out["retain_score"] and base_only["test_score"] == out["test_score"]


def test_evaluate_split_rouge_with_utility_sets(monkeypatch, tiny):
    forget = [_qa(0, "born in London"), _qa(1, "writes fantasy novels")]
    retain = [_qa(2, "her father was a doctor")]
    utility = {"real_authors": [_qa(3, "Jane Austen")], "world_facts": [_qa(4, "Paris"), _qa(5, "Tokyo")]}
    split = BenchmarkSplit(name="tofu", style="rouge", forget=forget, retain=retain, test=[], utility=utility)
    answers = {
        "tofu question 0?": "She was born in London.",  # recall 1
        "tofu question 1?": "fantasy",  # 1/3
        "tofu question 2?": "a doctor",  # LCS "a doctor" = 2 of 5 reference words
        "tofu question 3?": "Jane",  # 1/2
        "tofu question 4?": "Paris",  # 1
        "tofu question 5?": "Kyoto",  # 0
    }

    def fake(model, tok, prompts, *, max_new_tokens, batch_size, desc=""):
        assert max_new_tokens == 64
        return [answers[p] for p in prompts]

    monkeypatch.setattr(ev, "greedy_generate", fake)
    model, tok = tiny
    out = evaluate_split(
        model, tok, split, utility_tasks=["us_city_state"], utility_limit=5, work_dir="unused"
    )
    assert out["forget_score"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["retain_score"] == pytest.approx(2 / 5)
    assert out["test_score"] is None
    assert out["utility"]["tasks"] == pytest.approx({"real_authors": 0.5, "world_facts": 0.5})
    assert out["US"] == pytest.approx(0.5)
    assert out["by_kind"] == pytest.approx({"qa": (1 + 1 / 3) / 2})


def test_evaluate_split_mcqa_runs_lm_eval(tiny, tmp_path):
    model, tok = tiny
    split = BenchmarkSplit(
        name="wf", style="mcqa", forget=[_mc("f1", "base", "A")], retain=[_mc("r1", "base", "D")], test=[]
    )
    out = evaluate_split(
        model,
        tok,
        split,
        utility_tasks=["ssiuu_us_state_code"],
        utility_limit=3,
        work_dir=tmp_path,
        batch_size=4,
    )
    assert set(out["utility"]["tasks"]) == {"ssiuu_us_state_code"}
    assert out["US"] == out["utility"]["US"] and 0.0 <= out["US"] <= 1.0
    assert out["test_score"] is None and out["forget_score"] in (0.0, 1.0)


def test_forget_score_styles(monkeypatch, tiny):
    model, tok = tiny
    recs = [_mc("f1", "base", "A"), _mc("f2", "base", "C")]
    monkeypatch.setattr(ev, "greedy_generate", _oracle({"f1/base0"}, recs))
    assert forget_score(model, tok, recs, "mcqa") == 0.5
    monkeypatch.setattr(ev, "greedy_generate", lambda m, t, p, **k: ["A", "nothing"])
    assert forget_score(model, tok, recs, "rouge") == 0.5
    with pytest.raises(ValueError, match="style"):
        forget_score(model, tok, recs, "bleu")


def test_forget_answers_given_are_scored_not_generated_again(monkeypatch, tiny):
    """The unlearning job's last FS check answered the forget records at the final weights: the final
    evaluation scores those answers and generates only the rest, with the same result as generating all."""
    forget = [_mc("f1", "base", "A"), _mc("f2", "base", "C"), _mc("f2", "paraphrase", "C")]
    retain, test = [_mc("r1", "base", "D")], [_mc("t1", "base", "G")]
    split = BenchmarkSplit(name="wf", style="mcqa", forget=forget, retain=retain, test=test)
    model, tok = tiny
    options = {"utility_tasks": [], "utility_limit": None, "work_dir": "unused", "mcqa_max_new_tokens": 4}
    everything = evaluate_split(model, tok, split, **options)
    base = [r for r in forget if r.kind == "base"]
    checked = ev.answer_items(model, tok, base, "mcqa", max_new_tokens=4)
    answers = {it["id"]: it["generation"] for it in checked}

    generated: list[str] = []
    real = ev.greedy_generate

    def counting(model, tok, prompts, **kw):
        generated.extend(prompts)
        return real(model, tok, prompts, **kw)

    monkeypatch.setattr(ev, "greedy_generate", counting)
    reused = evaluate_split(model, tok, split, forget_answers=answers, **options)
    assert reused == everything
    assert len(generated) == 3  # the paraphrase, the retain and the test record; not the two base records
    assert not any("f1 base" in p or "f2 base" in p for p in generated)
    # and the given answers are what is scored: the gold option for both base records makes FS 1
    gold = evaluate_split(model, tok, split, forget_answers={r.id: r.answer for r in base}, **options)
    assert gold["forget_score"] == 1.0 and everything["forget_score"] < 1.0
