"""The results layout: every file the pipeline writes, built from its wildcards and parsed back.

One template per kind of file. The Snakemake rules take their input and output patterns from
:func:`pattern` (the wildcards left as ``{name}``), the report parses the paths Snakemake hands it with
:func:`parse`, and the method-variant grammar of the ablations (``SSIUU-lambda0.0001``) is
:func:`variant_name` / :func:`method_variant`, and the model-state grammar of the analyses
(``GD-seed0-attacked``) is :func:`state_name` / :func:`parse_state`. ``{results}`` is the config's ``results_dir`` (what a run
publishes) and ``{work}`` its ``work_dir`` (models, checkpoints and logs, which regeneration never needs).
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

TEMPLATES: dict[str, str] = {
    # published results (results_dir)
    "split": "{results}/{benchmark}/{model}/split.json",
    "base": "{results}/{benchmark}/{model}/base.json",
    "pretrain": "{results}/{benchmark}/{model}/pretrain.json",
    "pretrain_never_learned": "{results}/{benchmark}/{model}/pretrain_neverlearned.json",
    "unlearn": "{results}/{benchmark}/{model}/{method}/seed{seed}/unlearn.json",
    "harmful": "{results}/{benchmark}/{model}/{method}/seed{seed}/attacks/harmful_p{p}_lr{lr}_run{run}.json",
    "benign": "{results}/{benchmark}/{model}/{method}/seed{seed}/attacks/benign_lr{lr}_run{run}.json",
    # the attack calibration sweep (Fig. 7b, c): the same draws, run for analysis.attack_calibration's epochs
    "calibration_harmful": "{results}/{benchmark}/{model}/{method}/seed{seed}/calibration/harmful_p{p}_lr{lr}_run{run}.json",
    "calibration_benign": "{results}/{benchmark}/{model}/{method}/seed{seed}/calibration/benign_lr{lr}_run{run}.json",
    "influence": "{results}/{benchmark}/{model}/analysis/influence",
    "distributions": "{results}/{benchmark}/{model}/analysis/distributions",
    "logit_lens": "{results}/{benchmark}/{model}/analysis/logit_lens.csv",
    "table": "{results}/tables/{name}.{ext}",
    "figure": "{results}/figures/{name}.{ext}",
    "claims": "{results}/claims.{ext}",
    # the erase-or-hide card (the default run's cards and target `card`): one test's per-item results, one card
    "card_test": "{results}/{benchmark}/{model}/{method}/seed{seed}/card/{test}.json",
    "card": "{results}/cards/{benchmark}/{model}/{method}/seed{seed}.md",
    "card_figure": "{results}/cards/{benchmark}/{model}/{method}/seed{seed}.png",
    # every card of one benchmark and model at a glance: a table of every model's scores and a figure
    "card_overview": "{results}/cards/{benchmark}/{model}/overview.md",
    "card_overview_figure": "{results}/cards/{benchmark}/{model}/overview.png",
    # intermediate files (work_dir)
    "records": "{work}/data/{benchmark}/records.json",
    "base_model": "{work}/models/{model}/base",
    "pretrained_model": "{work}/models/{model}/pretrained-{benchmark}",
    "never_learned_model": "{work}/models/{model}/neverlearned-{benchmark}",
    "checkpoint": "{work}/checkpoints/{benchmark}/{model}/{method}/seed{seed}",
    "attribution": "{work}/attribution/{benchmark}/{model}/{state}.pt",
}

#: What each wildcard may hold (Snakemake's ``wildcard_constraints`` and :func:`parse`).
WILDCARDS: dict[str, str] = {
    "results": r".+?",
    "work": r".+?",
    "benchmark": r"[A-Za-z0-9_.]+",
    "model": r"[A-Za-z0-9_.]+",
    "method": r"[A-Za-z0-9_.+-]+",
    "seed": r"\d+",
    "run": r"\d+",
    "p": r"[0-9.]+",
    "lr": r"[0-9.e+-]+",
    "state": r"base|[A-Za-z0-9_.+-]+-seed\d+(?:-attacked(?:-run[1-9]\d*)?)?",
    "name": r"[A-Za-z0-9_]+",
    "test": r"[a-z0-9_]+",
    "ext": r"[a-z]+",
}

#: ``method`` wildcards of the two shapes: a plain method or reference (attacked harmfully and benignly) and a
#: method variant, NAME-<key><number> (:func:`variant_name`; the λ ablation, attacked harmfully only).
PLAIN_METHOD = r"[A-Za-z0-9_.+]+"
METHOD_VARIANT = r"[A-Za-z0-9_.+]+-[A-Za-z0-9_.+-]+"

#: Wildcards parsed back as numbers.
_NUMERIC = {"seed": int, "run": int, "p": float, "lr": float}


def fmt_lr(lr: float | str) -> str:
    """A learning rate as file names spell it: ``1e-05``, ``5e-06`` (one significant digit, parseable)."""
    return f"{float(lr):.0e}"


def _spell(name: str, value: Any) -> str:
    if name == "lr" and not isinstance(value, str):
        return fmt_lr(value)
    return str(value)


def _fields(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def pattern(kind: str, **values: Any) -> str:
    """The template of ``kind`` with the given wildcards filled in and the others left as ``{name}``."""
    template = TEMPLATES[kind]
    unknown = set(values) - set(_fields(template))
    if unknown:
        raise KeyError(f"layout {kind!r} has no wildcard(s) {sorted(unknown)}; it has {_fields(template)}")
    return template.format(
        **{f: _spell(f, values[f]) if f in values else f"{{{f}}}" for f in _fields(template)}
    )


def path(kind: str, **values: Any) -> str:
    """The path of one ``kind`` file; every wildcard of its template must be given."""
    missing = [f for f in _fields(TEMPLATES[kind]) if f not in values]
    if missing:
        raise KeyError(f"layout {kind!r} needs the wildcard(s) {missing}")
    return pattern(kind, **values)


def _regex(kind: str) -> re.Pattern[str]:
    parts, seen = [], set()
    for literal, field, _, _ in string.Formatter().parse(TEMPLATES[kind]):
        parts.append(re.escape(literal))
        if field:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>{WILDCARDS[field]})")
            seen.add(field)
    return re.compile("".join(parts))


def parse(kind: str, file: str) -> dict[str, Any]:
    """The wildcards of a ``kind`` path (``seed``/``run`` as int, ``p``/``lr`` as float).

    Raises ValueError naming the file and the expected layout when it does not match."""
    match = _regex(kind).fullmatch(str(file))
    if match is None:
        raise ValueError(f"{file}: not a {kind} result path; expected {TEMPLATES[kind]}")
    return {k: _NUMERIC[k](v) if k in _NUMERIC else v for k, v in match.groupdict().items()}


def kind_of(file: str, kinds: tuple[str, ...]) -> str | None:
    """Which of ``kinds`` a path is, or None."""
    return next((k for k in kinds if _regex(k).fullmatch(str(file))), None)


# ---------------------------------------------------------------------------------------------------
# method variants: NAME-<key><number>, e.g. SSIUU-lambda0.0001 (the λ ablation of Fig. 7a)
# ---------------------------------------------------------------------------------------------------
def variant_name(method: str, **overrides: float) -> str:
    """``variant_name("SSIUU", lambda_=1e-4)`` → ``SSIUU-lambda0.0001`` (one override)."""
    if len(overrides) != 1:
        raise ValueError(f"a method variant overrides exactly one hyper-parameter, got {sorted(overrides)}")
    ((key, value),) = overrides.items()
    return f"{method}-{key.rstrip('_')}{float(value):g}"


def method_variant(name: str) -> tuple[str, dict[str, Any]]:
    """Split a method name into its registry name and overrides: ``SSIUU-lambda0.01`` → SSIUU, {lambda: 0.01}."""
    base, _, rest = name.partition("-")
    if not rest:
        return base, {}
    key = rest.rstrip("0123456789.e-+")
    value = rest[len(key) :]
    if not key or not value:
        raise ValueError(f"method variant {name!r} must look like NAME-<key><number>, e.g. SSIUU-lambda0.01")
    return base, {key: json.loads(value) if value[0] != "." else float(value)}


# ---------------------------------------------------------------------------------------------------
# model states of the analyses: base, <method>-seed<s> (unlearned), <method>-seed<s>-attacked
# ---------------------------------------------------------------------------------------------------
BASE_STATE = "base"
ATTACKED = "-attacked"
#: ``<method>[-seed<s>][-attacked[-run<r>]]``; the analysis CSVs label states without the seed, and the
#: distributions CSV spells the attacked one ``<method>+attack`` (read as attacked too)
_STATE = re.compile(
    r"^(?P<method>.+?)(?:-seed(?P<seed>\d+))?"
    r"(?:(?P<attacked>-attacked|\+attack(?:ed)?|_attacked)(?:-run(?P<run>\d+))?)?$"
)


def state_name(method: str, seed: int | str, *, attacked: bool = False, run: int = 0) -> str:
    """``state_name("GD", 0, attacked=True)`` → ``GD-seed0-attacked``: a checkpoint, unlearned or after draw
    ``run`` of the harmful attack (the ``state`` wildcard; ``base`` is :data:`BASE_STATE`). Draw 0 is spelled
    without a run (``GD-seed0-attacked``), draw r ≥ 1 with one (``GD-seed0-attacked-run1``)."""
    if run and not attacked:
        raise ValueError(f"an attack run ({run}) needs attacked=True")
    if run < 0:
        raise ValueError(f"attack run must be ≥ 0, got {run}")
    suffix = (ATTACKED + (f"-run{run}" if run else "")) if attacked else ""
    return f"{method}-seed{seed}{suffix}"


def parse_state(state: str) -> tuple[str, int | None, bool]:
    """``GD-seed0-attacked`` → (``GD``, 0, True); ``GD`` → (``GD``, None, False); ``base`` → (``base``, None,
    False); ``NPO+attack`` (the distributions CSV) → (``NPO``, None, True). ValueError when it does not parse."""
    match = _STATE.match(str(state).strip())
    if match is None:
        raise ValueError(f"cannot parse the model state label {state!r}")
    seed = match.group("seed")
    return match.group("method"), int(seed) if seed else None, bool(match.group("attacked"))


def attack_run(state: str) -> int | None:
    """The harmful attack's draw of an attacked state (``GD-seed0-attacked`` → 0, ``GD-seed0-attacked-run1``
    → 1); None for a state not attacked."""
    match = _STATE.match(str(state).strip())
    if match is None:
        raise ValueError(f"cannot parse the model state label {state!r}")
    if not match.group("attacked"):
        return None
    return int(match.group("run") or 0)
