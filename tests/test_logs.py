"""Rule logs (issue 18, section 5): long steps write plain progress lines, and no deprecation warnings."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch

from ssiuu.analysis.logit_lens import logit_lens_accuracy
from ssiuu.attribution import neuron_attribution
from ssiuu.data.records import QARecord
from ssiuu.evaluation.generation import greedy_generate
from ssiuu.forward import answer_nll, shares_prefix
from ssiuu.methods.klue import mean_attribution
from ssiuu.methods.simu import SIMU
from ssiuu.progress import progress
from ssiuu.training import encode, nll_loss, train

PAIRS = [("What is the capital of France?", "Paris"), ("Which continent is Brazil in?", "South America")]
CONTROL = ("\r", "\x1b[")


def _plain_lines(text: str, desc: str) -> list[str]:
    """The lines of ``text`` that show ``desc``'s progress; fails on carriage returns or cursor codes."""
    assert not any(code in text for code in CONTROL), repr(text[:300])
    return [line for line in text.splitlines() if line.startswith(f"{desc}:")]


def test_a_bar_in_a_log_writes_a_first_and_a_last_line(capsys):
    bar = progress(total=3, desc="steps")
    for step in range(3):
        bar.set_postfix(loss=f"{step:.1f}", refresh=False)
        bar.update(1)
    bar.close()
    lines = _plain_lines(capsys.readouterr().err, "steps")
    assert len(lines) == 2 and "0/3" in lines[0] and "3/3" in lines[1] and "loss=2.0" in lines[1]


def test_nested_bars_in_a_log_are_lines(capsys):
    for _ in progress(range(2), desc="outer"):
        for _ in progress(range(2), desc="inner", leave=False):
            pass
    err = capsys.readouterr().err
    assert len(_plain_lines(err, "outer")) == 2 and len(_plain_lines(err, "inner")) == 4


def test_training_progress_reaches_a_log(tiny, capsys):
    model, tok = tiny
    train(model, tok, nll_loss, {"all": PAIRS}, lr=1e-4, max_steps=2, batch_size=2, desc="pretrain wf")
    lines = _plain_lines(capsys.readouterr().err, "pretrain wf")
    assert lines[-1].startswith("pretrain wf: 100% 2/2")


@pytest.mark.parametrize(
    "desc, run",
    [
        ("attribution", lambda m, t: neuron_attribution(m, t, PAIRS, batch_size=1)),
        (
            "KLUE",
            lambda m, t: mean_attribution(
                m, t, PAIRS, target="prob", batch_size=1, max_length=64, desc="KLUE"
            ),
        ),
        (
            "logit lens",
            lambda m, t: logit_lens_accuracy(
                m,
                t,
                [
                    QARecord(
                        id=f"q{i}",
                        cluster="c",
                        entity="e",
                        kind="base",
                        question=q,
                        answer=a,
                        false_options=("Oslo", "Lima"),
                    )
                    for i, (q, a) in enumerate(PAIRS)
                ],
            ),
        ),
        ("SIMU attribution", lambda m, t: SIMU(m, t, forget=PAIRS, retain=PAIRS, ig_steps=1)),
    ],
)
def test_analysis_progress_reaches_a_log(tiny, capsys, desc: str, run: Callable):
    run(*tiny)
    assert _plain_lines(capsys.readouterr().err, desc)


@contextmanager
def _no_deprecation() -> Iterator[None]:
    """Fail on any FutureWarning/DeprecationWarning, or transformers' logged cache-rename notice."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    logging.Logger.warning_once.cache_clear()  # type: ignore[attr-defined]  # transformers' once-only cache
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        hf_logger.removeHandler(handler)
    deprecations = [w for w in caught if issubclass(w.category, FutureWarning | DeprecationWarning)]
    assert not deprecations, [str(w.message) for w in deprecations]
    assert not [r for r in records if "deprecated" in r.getMessage()]


def test_the_shared_prefix_forward_uses_the_current_cache_api(tiny):
    model, tok = tiny
    batch = encode(tok, PAIRS, torch.device("cpu"))
    assert shares_prefix(model, batch["input_ids"])
    with _no_deprecation():
        answer_nll(model, batch)


def test_generation_uses_the_current_cache_api(tiny):
    model, tok = tiny
    with _no_deprecation():
        answers = greedy_generate(model, tok, [q for q, _ in PAIRS], max_new_tokens=3)
    assert len(answers) == 2
