"""Instruction data for the benign retraining attack (SSIUU §6.2.2: retrain on 1,000 Alpaca instances).

* :func:`load_alpaca` — Alpaca (Taori et al., 2023) from a local JSON / JSON-lines file (config key
  ``attacks.benign.source``) or from the hub id ``tatsu-lab/alpaca`` through ``datasets``.
* :func:`offline_instructions` — the offline stand-in: generated benign instructions with exactly
  computed answers — arithmetic, unit conversion, parity, rectangle areas, sorting and picking the
  largest of numbers, and string tasks (reversing, upper-casing, counting letters or words, first and
  last letters, alphabetical order) over a pool of common nouns. It mentions no person, place,
  country, currency or author, so it shares no knowledge with any forget set; like Alpaca it only
  exercises instruction following.

Both return ``(user message, answer)`` pairs, the ``QAPair`` format of :mod:`ssiuu.training`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssiuu.data.records import RecordError, in_file, read_rows, shown, text_field

ALPACA_HUB_ID = "tatsu-lab/alpaca"


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
        for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )


def _how_to_provide() -> str:
    return (
        "Download alpaca_data.json (fields instruction, input, output) from the Stanford Alpaca release or the "
        f"hub dataset {ALPACA_HUB_ID}, and set the config key `attacks.benign.source` to the file; "
        "or use the generated offline instruction set (`attacks.benign.source: offline`)."
    )


def _looks_like_path(s: str) -> bool:
    """Hub ids look like ``owner/name``; anything else path-like is treated as a (missing) local file."""
    return s.startswith((".", "/", "~")) or s.endswith((".json", ".jsonl")) or s.count("/") > 1


def _alpaca_rows(src: str) -> tuple[list[Any], str | Path]:
    """The raw rows of Alpaca from a file, a folder or the hub, and where they came from."""
    p = Path(src).expanduser()
    if p.is_dir():
        found = [
            p / f for f in ("alpaca_data.json", "train.json", "train.jsonl", "data.json") if (p / f).is_file()
        ]
        if not found:
            raise FileNotFoundError(
                f"no Alpaca file (alpaca_data.json, train.json[l], data.json) in {p}. " + _how_to_provide()
            )
        return read_rows(found[0], "Alpaca file"), found[0]
    if p.is_file():
        return read_rows(p, "Alpaca file"), p
    if _looks_like_path(src):
        raise FileNotFoundError(f"Alpaca file {p} does not exist. " + _how_to_provide())
    if _offline():
        raise FileNotFoundError(
            f"cannot download Alpaca ({src}): the Hugging Face hub is offline. " + _how_to_provide()
        )
    try:
        import datasets

        return [dict(r) for r in datasets.load_dataset(src, split="train")], f"hub dataset {src}"
    except Exception as exc:  # network, auth or cache errors all mean the same to the user
        raise FileNotFoundError(
            f"could not load Alpaca from the hub ({src}): {exc}. " + _how_to_provide()
        ) from exc


def _alpaca_pair(row: Any, where: str) -> tuple[str, str] | None:
    """(instruction[+input], output) of one Alpaca row; ``None`` when the instruction or output is empty."""
    if not isinstance(row, dict) or "instruction" not in row or "output" not in row:
        raise RecordError(f"needs the fields 'instruction' and 'output', got {shown(row, 200)}", record=where)
    instr, out = (
        text_field(row[k], where=where, field=k, empty_ok=True, max_chars=None)
        for k in ("instruction", "output")
    )
    inp = row.get("input") or ""
    text_field(inp, where=where, field="input", empty_ok=True, max_chars=None)
    instr, inp, out = instr.strip(), inp.strip(), out.strip()
    if not (instr and out):
        return None
    return (f"{instr}\n\n{inp}" if inp else instr), out


def load_alpaca(path_or_hub_id: str = ALPACA_HUB_ID, n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` Alpaca (instruction[+input], output) pairs drawn with ``random.Random(seed)``.

    The user message is the instruction, followed by a blank line and the input when there is one.
    Rows with an empty instruction or output are skipped; a field that is not a string is an error.
    """
    src = str(path_or_hub_id)
    rows, source = _alpaca_rows(src)
    with in_file(source):
        pairs = [pair for i, row in enumerate(rows) if (pair := _alpaca_pair(row, f"row {i}")) is not None]
    if n < 1 or n > len(pairs):
        raise ValueError(f"asked for n={n} Alpaca instances but {src} has {len(pairs)} usable ones")
    idx = sorted(random.Random(seed).sample(range(len(pairs)), n))
    return [pairs[i] for i in idx]


WORDS = (
    "apple banana window garden pencil rocket blanket candle orange ladder bottle guitar button "
    "carpet dragonfly feather hammer jacket kettle lemon mirror needle pillow puzzle rabbit saddle "
    "teapot tunnel umbrella violin wallet yogurt zipper basket cookie forest helmet island marble "
    "notebook pepper planet rainbow sandwich spoon tomato turtle wagon whistle cabbage"
).split()
SENTENCES_NOUNS = ["cat", "dog", "bird", "child", "farmer", "baker", "robot", "teacher"]
SENTENCES_VERBS = ["sleeps", "sings", "reads", "jumps", "waits", "smiles", "runs", "cooks"]
SENTENCES_TAILS = [
    "in the morning",
    "near the river",
    "after lunch",
    "under the tree",
    "every day",
    "on the roof",
]

Task = Callable[[random.Random], tuple[str, str]]


def _add(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 999), r.randint(2, 999)
    return f"What is {a} + {b}?", f"{a} + {b} = {a + b}."


def _sub(r: random.Random) -> tuple[str, str]:
    a, b = sorted((r.randint(2, 999), r.randint(2, 999)), reverse=True)
    return f"Subtract {b} from {a}.", f"{a} - {b} = {a - b}."


def _mul(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 99), r.randint(2, 12)
    return f"Calculate {a} times {b}.", f"{a} × {b} = {a * b}."


_UNITS = [
    ("kilometers", "meters", 1000),
    ("meters", "centimeters", 100),
    ("kilograms", "grams", 1000),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("liters", "milliliters", 1000),
    ("days", "hours", 24),
    ("feet", "inches", 12),
    ("weeks", "days", 7),
]


def _convert(r: random.Random) -> tuple[str, str]:
    src, dst, k = r.choice(_UNITS)
    v = r.randint(2, 250)
    return f"Convert {v} {src} to {dst}.", f"{v} {src} is {v * k} {dst}."


def _parity(r: random.Random) -> tuple[str, str]:
    v = r.randint(1, 9999)
    return f"Is {v} an even or an odd number?", f"{v} is {'even' if v % 2 == 0 else 'odd'}."


def _area(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 40), r.randint(2, 40)
    return (
        f"What is the area of a rectangle that is {a} cm long and {b} cm wide?",
        f"The area is {a} × {b} = {a * b} square centimeters.",
    )


def _sort_numbers(r: random.Random) -> tuple[str, str]:
    nums = r.sample(range(1, 500), r.randint(4, 7))
    return (
        f"Sort these numbers from smallest to largest: {', '.join(map(str, nums))}.",
        ", ".join(map(str, sorted(nums))),
    )


def _largest(r: random.Random) -> tuple[str, str]:
    nums = r.sample(range(1, 1000), r.randint(4, 7))
    return (
        f"Which is the largest of these numbers: {', '.join(map(str, nums))}?",
        f"The largest number is {max(nums)}.",
    )


def _reverse(r: random.Random) -> tuple[str, str]:
    w = r.choice(WORDS)
    return f"Write the word '{w}' backwards.", f"'{w}' written backwards is '{w[::-1]}'."


def _sentence(r: random.Random) -> str:
    return f"the {r.choice(SENTENCES_NOUNS)} {r.choice(SENTENCES_VERBS)} {r.choice(SENTENCES_TAILS)}"


def _upper(r: random.Random) -> tuple[str, str]:
    s = _sentence(r)
    return f"Convert this sentence to uppercase: '{s}'", s.upper()


def _count_letter(r: random.Random) -> tuple[str, str]:
    w = r.choice(WORDS)
    ch = r.choice(sorted(set(w)))
    k = w.count(ch)
    return (
        f"How many times does the letter '{ch}' appear in the word '{w}'?",
        f"The letter '{ch}' appears {k} time{'s' if k != 1 else ''} in '{w}'.",
    )


def _count_words(r: random.Random) -> tuple[str, str]:
    s = _sentence(r)
    return f"How many words are in the sentence '{s}'?", f"The sentence has {len(s.split())} words."


def _alphabetize(r: random.Random) -> tuple[str, str]:
    ws = r.sample(WORDS, r.randint(3, 6))
    return f"Sort these words in alphabetical order: {', '.join(ws)}.", ", ".join(sorted(ws))


def _first_last(r: random.Random) -> tuple[str, str]:
    w = r.choice(WORDS)
    if r.random() < 0.5:
        return f"What is the first letter of the word '{w}'?", f"The first letter of '{w}' is '{w[0]}'."
    return f"What is the last letter of the word '{w}'?", f"The last letter of '{w}' is '{w[-1]}'."


def _length(r: random.Random) -> tuple[str, str]:
    w = r.choice(WORDS)
    return f"How many letters does the word '{w}' have?", f"The word '{w}' has {len(w)} letters."


TASKS: list[Task] = [
    _add,
    _sub,
    _mul,
    _convert,
    _parity,
    _area,
    _sort_numbers,
    _largest,
    _reverse,
    _upper,
    _count_letter,
    _count_words,
    _alphabetize,
    _first_last,
    _length,
]


def offline_instructions(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct generated benign instructions with correct answers (see the module docstring).

    Tasks are drawn round-robin (a task whose prompts are used up is skipped), so every kind is
    represented; deterministic given ``seed``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = random.Random(f"offline-instructions:{seed}")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"could not generate {n} distinct instructions (got {len(out)})")
        prompt, answer = TASKS[attempts % len(TASKS)](
            rng
        )  # tasks with few distinct prompts drop out when exhausted
        if prompt not in seen:
            seen.add(prompt)
            out.append((prompt, answer))
    return out
