"""Brought checkpoints: unlearned models made elsewhere, named in the config's ``checkpoints:`` section.

Each entry names a Hugging Face ``save_pretrained`` directory (``path``), the model key of the config it was
unlearned from (``model``: the card's split, controls and loading settings are that model's) and the benchmark
whose forget set it targets (``benchmark``). An entry unlearned from a model this config does not prepare (TOFU's
forget01/05/10 checkpoints, FaithUn's) names that starting model's ``save_pretrained`` directory as ``start``: it
is tested as the card's starting model under the method :func:`own_start_method` of the entry's name. The card
(:mod:`ssiuu.card.run`) tests the checkpoint beside the controls, at :data:`ssiuu.references.REFERENCE_SEED` (its
results lie where a method's first seed would). Every problem is one line naming the entry, the bad value and
the fix: :func:`checkpoint_problems` (config keys, run before the DAG is built), :func:`check_checkpoint_dir`
(weights on disk, when the DAG is built) and :func:`check_same_tokenizer` (the job).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ssiuu.model_dirs import checkpoint_dir_problem
from ssiuu.references import CONTROL_LABELS, START


class CheckpointError(ValueError):
    """A brought checkpoint that cannot be tested; the message is one line naming the entry and the fix."""


def checkpoint_problems(config: dict[str, Any], reserved: Iterable[str] = ()) -> list[str]:
    """One line per problem of the ``checkpoints`` section (an unknown model or benchmark key, or a name that a
    method, a control or another row of the results (``reserved``) already uses) and of ``card.methods`` (a
    method the run does not unlearn)."""
    taken = set(config.get("methods", [])) | set(CONTROL_LABELS) | set(reserved)
    problems = []
    for name, entry in config.get("checkpoints", {}).items():
        for key, section in (("model", "models"), ("benchmark", "benchmarks")):
            if entry[key] not in config[section]:
                problems.append(
                    f"checkpoints.{name}.{key}: {entry[key]!r} is not a key of `{section}`; use one of "
                    f"{sorted(config[section])}"
                )
        if name in taken:
            problems.append(
                f"checkpoints.{name}: the name is already a method's or a control's, whose results it would "
                "overwrite; rename the entry"
            )
    for method in config.get("card", {}).get("methods", []):
        if method not in config.get("methods", []):
            problems.append(
                f"card.methods: {method!r} is not one of `methods` {config.get('methods', [])}; list only "
                "methods the run unlearns (a brought checkpoint goes under `checkpoints`)"
            )
    return problems


def check_checkpoints(config: dict[str, Any], reserved: Iterable[str] = ()) -> None:
    """A :class:`CheckpointError` listing :func:`checkpoint_problems`, if any."""
    problems = checkpoint_problems(config, reserved)
    if problems:
        raise CheckpointError("\n".join(problems))


def check_checkpoint_dir(name: str, path: str | Path, key: str = "path") -> Path:
    """``path`` if it is a ``save_pretrained`` directory (``config.json`` and weights), else a one-line
    :class:`CheckpointError` naming the entry's ``key`` (``path``, or ``start`` for its own starting model)."""
    path = Path(path)
    where = f"checkpoints.{name}.{key}: {path}"
    if not path.is_dir():
        raise CheckpointError(f"{where} is not a directory; give the directory model.save_pretrained() wrote")
    if problem := checkpoint_dir_problem(path):
        raise CheckpointError(f"{where} {problem}")
    return path


def own_start_method(name: str) -> str:
    """The ``method`` wildcard under which the card tests a brought checkpoint's own starting model (its entry's
    ``start``): ``<name>+start``, which no entry's name (no ``+``), method or control can be."""
    return f"{name}+start"


def brought_entry(checkpoints: dict[str, Any], method: str) -> tuple[str, str] | None:
    """``(name, key)`` of the ``checkpoints`` entry whose weights the card tests as ``method``: its ``path`` (the
    method is its name) or its ``start`` (the method is :func:`own_start_method` of its name); None for the
    run's methods and controls."""
    if method in checkpoints:
        return method, "path"
    for name, entry in checkpoints.items():
        if "start" in entry and method == own_start_method(name):
            return name, "start"
    return None


def brought_dir(checkpoints: dict[str, Any], method: str) -> str | None:
    """The checked directory (:func:`check_checkpoint_dir`) of the brought weights the card tests as ``method``;
    None where ``method`` is not brought."""
    found = brought_entry(checkpoints, method)
    if found is None:
        return None
    name, key = found
    return str(check_checkpoint_dir(name, checkpoints[name][key], key))


def own_start_dir(checkpoints: dict[str, Any], method: str) -> str | None:
    """The checked ``start`` directory of the entry that ``method`` belongs to (its checkpoint or its own
    starting model); None where there is none (the starting model is then the config's)."""
    found = brought_entry(checkpoints, method)
    if found is None or "start" not in checkpoints[found[0]]:
        return None
    return brought_dir(checkpoints, own_start_method(found[0]))


def start_control(checkpoints: dict[str, Any], method: str) -> str:
    """The method whose card results fill the starting model's column of ``method``'s card: the entry's own
    starting model (:func:`own_start_method`) where it names one, else the config's (``Start``)."""
    entry = checkpoints.get(method, {})
    return own_start_method(method) if "start" in entry else START


def tokenizer_difference(tokenizer: Any, start: Any) -> str | None:
    """What differs between two tokenizers, in words (None when nothing the card depends on does): the
    vocabulary, the EOS token or the chat template."""
    if tokenizer.get_vocab() != start.get_vocab():
        return f"the vocabulary ({len(tokenizer.get_vocab())} tokens against {len(start.get_vocab())})"
    if tokenizer.eos_token != start.eos_token:
        return f"the EOS token ({tokenizer.eos_token!r} against {start.eos_token!r})"
    if getattr(tokenizer, "chat_template", None) != getattr(start, "chat_template", None):
        return "the chat template"
    return None


def check_same_tokenizer(
    name: str, path: str | Path, tokenizer: Any, start: Any, start_dir: str | Path
) -> None:
    """A one-line :class:`CheckpointError` when the brought checkpoint's tokenizer differs from its starting
    model's (:func:`tokenizer_difference`): its prompts and answers would not be the controls'."""
    difference = tokenizer_difference(tokenizer, start)
    if difference:
        raise CheckpointError(
            f"checkpoints.{name}.path: the tokenizer in {path} differs from the starting model's ({start_dir}) "
            f"in {difference}; save the starting model's tokenizer with the checkpoint "
            "(tokenizer.save_pretrained(path))"
        )


def load_tokenizer(name: str, path: str | Path, key: str = "path") -> Any:
    """The tokenizer saved in a brought model's directory (the entry's ``key``: ``path`` or ``start``), or a
    one-line :class:`CheckpointError` when there is none."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"checkpoints.{name}.{key}: {path} holds no tokenizer that transformers can load ({type(err).__name__}); "
            "save the starting model's tokenizer there with tokenizer.save_pretrained(path)"
        ) from err
