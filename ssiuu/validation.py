"""Config checks that name every problem in one short line: the key, the bad value and the fix.

:func:`schema_problem` words one JSON-schema error (a value listed twice names the value); :func:`config_problems`
checks what the schema cannot express (method names against the registry, method hyper-parameters against each
method's signature, split fractions, attack learning rates that their file names would round, device strings).
:func:`ssiuu.config.validate_config` runs both, for the Snakefile and the CLI alike. Nothing here imports torch,
so the checks also run where only Snakemake is installed.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from ssiuu.layout import fmt_lr
from ssiuu.references import REFERENCES

METHODS_DIR = Path(__file__).resolve().parent / "methods"
#: keyword-only arguments of every method's ``__init__`` that are no hyper-parameter (set by the pipeline)
PIPELINE_ARGS = frozenset({"forget", "retain", "seed"})
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICES = "auto, cpu, cuda, cuda:N or mps"
#: a number written as text (YAML reads ``1e-4`` as a string: a float needs a dot and a signed exponent)
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


def key_path(parts: Any) -> str:
    """``a.b.0`` for the path of a config value; ``<top level>`` for the root."""
    return ".".join(str(p) for p in parts) or "<top level>"


def _suggest(word: str, choices: Any) -> str:
    """``" (did you mean X?)"`` for a close match among ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _number_hint(value: str, expected: Any) -> str:
    """The fix for a number that YAML read as a string: ``1e-4`` needs a dot and a signed exponent."""
    if not NUMBER.fullmatch(value.strip()):
        return ""
    types = [expected] if isinstance(expected, str) else list(expected)
    mantissa, _, exponent = value.strip().lower().partition("e")
    if "number" in types:
        fixed = (mantissa if "." in mantissa else f"{mantissa}.0") + (
            f"e{int(exponent):+d}" if exponent else ""
        )
    elif "integer" in types and float(value).is_integer():
        fixed = str(int(float(value)))
    else:
        return ""
    if fixed == value.strip():
        return "; write it without quotes"
    return f"; YAML reads {value} as a string: write {fixed}"


def _first_repeat(items: list[Any]) -> tuple[Any, int, int] | None:
    """(value, first index, index of its repeat) of the first value that ``items`` holds twice, with JSON's
    equality (``1`` equals ``1.0``, ``true`` is no number); ``None`` when every value is distinct."""
    for again, value in enumerate(items):
        for first, earlier in enumerate(items[:again]):
            if earlier == value and isinstance(earlier, bool) == isinstance(value, bool):
                return value, first, again
    return None


def schema_problem(error: jsonschema.ValidationError) -> list[str]:
    """One line per problem of a schema error (an unknown-keys error holds one per key)."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.schema.get("additionalProperties") is False:
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [
            f"{key_path([*path, k])}: unknown key{_suggest(k, allowed)}; allowed here: {', '.join(allowed)}"
            for k in extra
        ]
    if error.validator == "uniqueItems" and (repeat := _first_repeat(error.instance)) is not None:
        value, first, again = repeat
        return [
            f"{key_path(path)}: {value!r} is listed twice (items {first} and {again}); list each value once"
        ]
    line = f"{key_path(path)}: {error.message}"
    if error.validator == "type" and isinstance(error.instance, str):
        line += _number_hint(error.instance, error.validator_value)
    return [line]


@functools.cache
def method_hparams() -> dict[str, frozenset[str]]:
    """Method name as the config spells it (the class name: GA, …, SIMU, Hider) -> hyper-parameter names, read
    from the sources of ``ssiuu/methods``.

    As :meth:`ssiuu.methods.base.UnlearningMethod.hparams`: the keyword-only ``__init__`` arguments of each
    class with a ``name``, less :data:`PIPELINE_ARGS` (tests/test_bad_input.py checks the two agree).
    """
    table: dict[str, frozenset[str]] = {}
    for path in sorted(METHODS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and _class_name(node):
                table[node.name] = _keyword_only(node) - PIPELINE_ARGS
    return table


def _class_name(node: ast.ClassDef) -> str | None:
    """The string assigned to a class's ``name`` attribute, if any."""
    for stmt in node.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
        value = getattr(stmt, "value", None)
        if isinstance(target, ast.Name) and target.id == "name" and isinstance(value, ast.Constant):
            return str(value.value) or None
    return None


def _keyword_only(node: ast.ClassDef) -> frozenset[str]:
    """The keyword-only argument names of a class's own ``__init__``."""
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            return frozenset(a.arg for a in stmt.args.kwonlyargs)
    return frozenset()


def _method_problem(key: str, name: Any) -> str | None:
    """A method name (or variant such as ``SSIUU-lambda0.01``) that is not in the registry; the calibration
    also takes the reference controls (Start, NeverLearned)."""
    valid = sorted(method_hparams())
    if key.startswith("analysis.attack_calibration."):
        valid += sorted({ref for refs in REFERENCES.values() for ref in refs})
    if str(name).split("-", 1)[0] in valid:
        return None
    spelled = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(str(name).lower(), list(spelled), n=1, cutoff=0.6)
    hint = f" (did you mean {spelled[close[0]]}?)" if close else ""
    return f"{key}: {name!r} is not a method{hint}; use one of {', '.join(valid)}"


def _method_lists(config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, method name) for every place that names a method: lists and per-method keys."""
    yield from ((f"methods.{i}", m) for i, m in enumerate(config["methods"]))
    yield from ((f"attacks.methods.{i}", m) for i, m in enumerate(config["attacks"]["methods"] or []))
    for key, value in config["analysis"].items():
        if key.endswith("_methods"):
            yield from ((f"analysis.{key}.{i}", m) for i, m in enumerate(value))
    calibrated = config["analysis"]["attack_calibration"]["methods"]
    yield from ((f"analysis.attack_calibration.methods.{i}", m) for i, m in enumerate(calibrated))
    sections = [("unlearning", config["unlearning"])] + [
        (f"benchmarks.{b}.unlearning", bcfg.get("unlearning", {})) for b, bcfg in config["benchmarks"].items()
    ]
    for prefix, section in sections:
        for key in ("method_learning_rates", "method_max_steps"):
            yield from ((f"{prefix}.{key}.{m}", m) for m in section.get(key, {}))


def _hparam_problems(params: dict[str, dict[str, Any]]) -> Iterator[str]:
    """``method_params.<M>.<key>`` that method ``M``'s constructor does not take."""
    table = method_hparams()
    for method, kwargs in params.items():
        valid = sorted(table.get(method, ()))
        for key in kwargs:
            if key not in valid:
                yield (
                    f"method_params.{method}.{key}: {method} has no hyper-parameter {key!r}"
                    f"{_suggest(key, valid)}; use one of {', '.join(valid) or '(none)'}"
                )


def _split_problems(benchmarks: dict[str, dict[str, Any]]) -> Iterator[str]:
    """MCQA-style splits whose forget, retain and test fractions add up to more than the whole."""
    from ssiuu.data import style_of

    for name, bcfg in benchmarks.items():
        fractions = bcfg["split"]
        total = sum(fractions.values())
        if style_of(bcfg["kind"]) == "mcqa" and total > 1 + 1e-9:
            terms = " + ".join(f"{k} {v:g}" for k, v in fractions.items())
            yield f"benchmarks.{name}.split: {terms} = {total:g} > 1; lower them so that they sum to at most 1"
        kinds = bcfg.get("forget_question_kinds")
        if kinds is not None and "base" not in kinds:
            yield (
                f"benchmarks.{name}.forget_question_kinds: {kinds} lacks 'base', the questions FS is scored on; "
                "add 'base' (or write null for every kind)"
            )


def _attack_rate_problems(config: dict[str, Any]) -> Iterator[str]:
    """Attack learning rates that their draws' file names, which keep one significant digit
    (:func:`ssiuu.layout.fmt_lr`) and are all the attack job reads of the rate, would spell as another rate."""
    calibration = config["analysis"]["attack_calibration"]
    lists = {
        f"attacks.{kind}.learning_rates": config["attacks"][kind]["learning_rates"]
        for kind in ("harmful", "benign")
    }
    lists |= {
        f"analysis.attack_calibration.{kind}.learning_rates": calibration[kind]["learning_rates"]
        for kind in ("harmful", "benign")
    }
    for key, rates in lists.items():
        for i, rate in enumerate(rates):
            spelled = fmt_lr(rate)
            if not math.isclose(float(spelled), rate, rel_tol=1e-9):
                yield (
                    f"{key}.{i}: {rate!r} would run as {spelled} (an attack draw's file name, which keeps one "
                    f"significant digit, is all its job reads of the rate); use {spelled} or another rate of one "
                    "significant digit"
                )


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem the schema cannot see, one line each, in a config that passed it (defaults filled)."""
    problems = [p for key, name in _method_lists(config) if (p := _method_problem(key, name))]
    problems += _hparam_problems(config["method_params"])
    problems += _split_problems(config["benchmarks"])
    problems += _attack_rate_problems(config)
    calibration, runs = config["analysis"]["attack_calibration"], config["attacks"]["runs"]
    if calibration["first_run"] < runs:
        problems.append(
            f"analysis.attack_calibration.first_run: {calibration['first_run']} < attacks.runs ({runs}): the "
            "calibration would repeat the tables' draws; set it to at least attacks.runs (e.g. 100)"
        )
    if not DEVICE.fullmatch(str(config["device"])):
        problems.append(f"device: {config['device']!r} is not a device; use {DEVICES}")
    return problems
