"""FaithUn-style 3-option MCQA accuracy of greedy generations (App. C, Table 3 template).

Match rule (which option a generation names)
--------------------------------------------
Both texts are normalised: Unicode accents removed, lower-cased, every punctuation mark or quote replaced
by a space, the articles *a/an/the* dropped (unless an option consists of an article only, e.g. "A"),
whitespace collapsed; the result is a list of words.
An option is *mentioned* when its word list occurs as a contiguous run of whole words in the generation.
An option mentioned only inside a longer mentioned option does not count ("Guinea" inside "Equatorial
Guinea"). Then (rule ``"unique_mention"``, the default)

* exactly one option mentioned -> that option is the prediction; correct iff it is the gold answer;
* no option, or two or more different options mentioned -> no prediction; counted **wrong**.

Why: the template asks for "only the exact word", and an instruction-tuned model that obeys produces
exactly one option, which both this rule and a strict prefix rule accept. Small chat models (the
offline default SmolLM2-135M-Instruct) often answer in a sentence ("The capital of Japan is Tokyo.");
a prefix rule scores that as wrong although the model clearly chose an option, which would put the
pre-unlearning forget accuracy near chance and trigger the FS <= 0.33 early stop at step 0. Counting an
answer that names several options (an echo of the option list, "Beijing or Canberra") as wrong, rather
than taking the first one, keeps a model that merely repeats the options at 0 instead of rewarding it
with the first-listed option, which would be correct a third of the time by construction.

Rule ``"prefix"`` (stricter, closer to the template's literal instruction) is available too: the
generation must equal or start with exactly one option (longest option wins when one option is a
prefix of another); anything else is wrong.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ssiuu.data.records import QARecord

MATCH_RULES = ("unique_mention", "prefix")

_ARTICLES = {"a", "an", "the"}
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_EXTRA_PUNCT = set(string.punctuation) | set("‘’“”«»–—…·")


def normalize_answer(text: str, *, drop_articles: bool = True) -> list[str]:
    """Words of ``text`` after the normalisation described in the module docstring."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = "".join(" " if c in _EXTRA_PUNCT else c for c in text)
    words = _PUNCT.sub(" ", text).split()
    return [w for w in words if w not in _ARTICLES] if drop_articles else words


def _occurrences(haystack: list[str], needle: list[str]) -> list[tuple[int, int]]:
    n = len(needle)
    if n == 0:
        return []
    return [(i, i + n) for i in range(len(haystack) - n + 1) if haystack[i : i + n] == needle]


def match_option(generation: str, options: Sequence[str], rule: str = "unique_mention") -> str | None:
    """The option ``generation`` names under ``rule`` (see module docstring), or ``None``."""
    if rule not in MATCH_RULES:
        raise ValueError(f"unknown MCQA match rule {rule!r}; choose one of {MATCH_RULES}")
    # An option that is only an article ("A", a blood type or a letter) keeps the articles everywhere.
    drop = all(normalize_answer(opt) for opt in options)
    gen = normalize_answer(generation, drop_articles=drop)
    norm = {opt: normalize_answer(opt, drop_articles=drop) for opt in options}
    if rule == "prefix":
        spans = {opt: [(0, len(w))] for opt, w in norm.items() if w and gen[: len(w)] == w}
    else:
        spans = {opt: occ for opt, w in norm.items() if (occ := _occurrences(gen, w))}
    # Drop an option all of whose occurrences lie inside an occurrence of a longer mentioned option.
    kept = []
    for opt, occ in spans.items():
        others = [s for o, ss in spans.items() if o != opt and len(norm[o]) > len(norm[opt]) for s in ss]
        if all(any(a <= i and j <= b for a, b in others) for i, j in occ):
            continue
        kept.append(opt)
    # Two option strings that normalise identically are one mention of an ambiguous answer: wrong.
    return kept[0] if len(kept) == 1 else None


@dataclass
class MCQAResult:
    """Accuracy and per-item details (``id``, ``generation``, ``prediction``, ``correct``)."""

    accuracy: float
    items: list[dict[str, Any]] = field(default_factory=list)


def score_generations(
    records: Sequence[QARecord], generations: Sequence[str], *, rule: str = "unique_mention"
) -> MCQAResult:
    """Score already generated MCQA answers against the records' gold options."""
    if len(records) != len(generations):
        raise ValueError(f"{len(records)} records but {len(generations)} generations")
    items = []
    for rec, gen in zip(records, generations, strict=True):
        pred = match_option(gen, rec.options, rule)
        items.append({"id": rec.id, "generation": gen, "prediction": pred, "correct": pred == rec.answer})
    acc = sum(it["correct"] for it in items) / len(items) if items else float("nan")
    return MCQAResult(accuracy=acc, items=items)
