"""Prompt templates: the paper's MCQA template (Table 3) and chat wrapping."""

from __future__ import annotations

from typing import Any

from ssiuu.data.records import QARecord

#: The FaithUn evaluation template, verbatim from Table 3 of the paper.
MCQA_TEMPLATE = (
    "Answer the following question by simply selecting a proper answer among the given options. "
    "You must generate only the exact word without an explanation.\n"
    "Question: {question}\nOptions: {options}\nYour Answer:"
)

#: The preferred ("positive") answer DPO trains towards (App. C.2).
REFUSAL_ANSWER = "I can't answer the question."


def format_options(options: tuple[str, ...] | list[str]) -> str:
    """Options as they appear after ``Options:`` — comma separated, in the record's fixed order."""
    return ", ".join(options)


def rotate_options(options: tuple[str, ...] | list[str], shift: int) -> tuple[str, ...]:
    """``options`` rotated left by ``shift``: shift 1 turns (A, B, C) into (B, C, A). Shifts 0 .. n-1 give the
    n cyclic orders, in which every option stands once in every position (the split's probe)."""
    k = shift % len(options) if options else 0
    return (*options[k:], *options[:k])


def mcqa_prompt(record: QARecord, shift: int = 0) -> str:
    """The user message for MCQA evaluation of ``record``: its options in the record's fixed order, or in that
    order rotated by ``shift`` (:func:`rotate_options`; evaluation always asks with shift 0)."""
    if not record.false_options:
        raise ValueError(f"record {record.id!r} has no false options and cannot be asked as MCQA")
    options = rotate_options(record.options, shift)
    return MCQA_TEMPLATE.format(question=record.question, options=format_options(options))


def chat_prompt(tokenizer: Any, user_text: str) -> str:
    """Wrap a user message in the tokenizer's chat template when it has one; else return it raw.

    The returned text ends where the assistant's answer starts (``add_generation_prompt=True``).
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True
        )
    return user_text + " "


def template_prefix_length(tokenizer: Any) -> int:
    """Number of leading tokens the chat template puts before every user message (0 without a template).

    Found as the common token prefix of two wrapped messages that differ in their first character, so
    it holds the system prompt and the user-turn header, identical in every example.
    """
    first, second = (
        tokenizer(chat_prompt(tokenizer, text), add_special_tokens=False)["input_ids"]
        for text in ("apple", "zebra")
    )
    return next((i for i, (a, b) in enumerate(zip(first, second)) if a != b), min(len(first), len(second)))
