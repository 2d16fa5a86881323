"""Load and validate the pipeline configuration against workflow/schemas/config.schema.yaml.

The schema holds every default; this module fills them in (nested objects included) and turns every
validation failure into one line of a :class:`ConfigError` that names the key, the bad value and the fix
(the wording and the checks beyond the schema are in :mod:`ssiuu.validation`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ssiuu.layout import method_variant
from ssiuu.validation import config_problems, schema_problem

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
MCQA_THRESHOLD = 0.33
DEFAULT_SSIUU_LAMBDA = {"mcqa": 1e-3, "rouge": 1e-4}


class ConfigError(ValueError):
    """An invalid configuration; the message names the key and what is allowed."""


def _with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: dict, instance: Any, schema: dict) -> Any:
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _schema_problems(config: dict[str, Any]) -> list[str]:
    """Every schema error of ``config``, one line each (filling defaults in as it goes)."""
    errors = sorted(
        _Validator(load_schema()).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]
    )
    return [line for error in errors for line in schema_problem(error)]


def validate_config(config: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """Return a validated deep copy of ``config`` with every schema default filled in.

    A :class:`ConfigError` lists every problem, one line each (the schema's first, then those of
    :func:`ssiuu.validation.config_problems`); ``source`` names the config file(s) in its message.
    """
    config = copy.deepcopy(config)
    problems = _schema_problems(config)
    if not problems:  # a second pass checks the defaults that the first inserted inside nested objects
        problems = _schema_problems(config) or config_problems(config)
    if problems:
        where = f" in {source}" if source else ""
        raise ConfigError(
            f"invalid configuration{where} (see workflow/schemas/config.schema.yaml):\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return config


class _RepeatedKey(Exception):
    """A YAML mapping that holds ``key`` twice: first at ``first``, again at ``again`` (YAML marks)."""

    def __init__(self, key: Any, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping holding one key twice is an error (PyYAML keeps the last
    value silently). A merge key (``<<``) may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise _RepeatedKey(key, seen[key], key_node.start_mark)
                seen[key] = key_node.start_mark
            except TypeError:  # an unhashable key: the constructor below names it
                continue
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """The content of a YAML file; a missing or unreadable file, a syntax error or a key repeated in one mapping is
    a one-line :class:`ConfigError` that names the file (and the line)."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
    except _RepeatedKey as err:
        raise ConfigError(
            f"{path}:{err.again.line + 1}:{err.again.column + 1}: key {err.key!r} appears twice in one mapping "
            f"(first at line {err.first.line + 1}), and the second would silently replace the first; keep one"
        ) from None
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (in {Path.cwd()})"
        raise ConfigError(f"config file {path} does not exist{where}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8") from err
    except yaml.MarkedYAMLError as err:
        raise ConfigError(
            f"{path}:{_yaml_error(err)}; check the brackets, quotes and indentation there"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err


def _yaml_error(err: yaml.MarkedYAMLError) -> str:
    """``LINE:COLUMN: invalid YAML: problem (context at line N)`` of a YAML syntax error."""
    mark = err.problem_mark or err.context_mark
    text = f"{mark.line + 1}:{mark.column + 1}: invalid YAML: " if mark else " invalid YAML: "
    text += err.problem or err.context or "syntax error"
    if err.problem and err.context and err.context_mark:
        text += f" ({err.context} at line {err.context_mark.line + 1})"
    return text


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge (Snakemake's semantics for several --configfile)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(*paths: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read YAML files in order (later ones win), apply ``overrides``, validate, fill defaults."""
    config: dict[str, Any] = {}
    for path in paths:
        data = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        config = merge(config, data)
    return validate_config(merge(config, overrides or {}), source=", ".join(map(str, paths)) or None)


def benchmark_style(config: dict[str, Any], benchmark: str) -> str:
    from ssiuu.data import style_of

    return style_of(benchmark_config(config, benchmark)["kind"])


def _entry(config: dict[str, Any], section: str, kind: str, key: str) -> dict[str, Any]:
    """``config[section][key]``; a :class:`ConfigError` naming the configured keys when it is absent."""
    try:
        return config[section][key]
    except KeyError:
        raise ConfigError(
            f"{section}: no {kind} named {key!r}; configured: {sorted(config[section])}"
        ) from None


def benchmark_config(config: dict[str, Any], benchmark: str) -> dict[str, Any]:
    return _entry(config, "benchmarks", "benchmark", benchmark)


def model_config(config: dict[str, Any], model: str) -> dict[str, Any]:
    return _entry(config, "models", "model", model)


def method_params(config: dict[str, Any], method: str, benchmark: str) -> dict[str, Any]:
    """Constructor kwargs for a method (variant) on a benchmark, defaults from the schema applied."""
    base, overrides = method_variant(method)
    params = dict(config.get("method_params", {}).get(base, {}))
    if base.upper() == "SSIUU" and "lambda_" not in params:
        bench = benchmark_config(config, benchmark)
        params["lambda_"] = bench.get(
            "ssiuu_lambda", DEFAULT_SSIUU_LAMBDA[benchmark_style(config, benchmark)]
        )
    for key, value in overrides.items():
        params["lambda_" if key == "lambda" else key] = value
    return params


def unlearning_config(config: dict[str, Any], benchmark: str, method: str | None = None) -> dict[str, Any]:
    """The ``unlearning`` section with ``benchmarks.<benchmark>.unlearning`` overrides applied; with a
    ``method``, its ``method_max_steps`` entry (if any) replaces ``max_steps``."""
    ucfg = {**config["unlearning"], **benchmark_config(config, benchmark).get("unlearning", {})}
    if method is not None:
        base, _ = method_variant(method)
        ucfg["max_steps"] = ucfg.get("method_max_steps", {}).get(base, ucfg["max_steps"])
    return ucfg


def unlearn_settings(config: dict[str, Any], benchmark: str, method: str) -> dict[str, Any]:
    """The config one unlearning job depends on (rule ``unlearn``'s params: a change reruns that job only).

    The ``unlearning`` section with the benchmark's overrides and this method's learning rates and step
    budget resolved (so another method's entries are left out), and the method's constructor parameters."""
    per_method = ("learning_rates", "method_learning_rates", "max_steps", "method_max_steps")
    settings = {k: v for k, v in unlearning_config(config, benchmark, method).items() if k not in per_method}
    return {
        "unlearning": {
            **settings,
            "learning_rates": learning_rates(config, method, benchmark),
            "max_steps": unlearning_config(config, benchmark, method)["max_steps"],
        },
        "method": method_params(config, method, benchmark),
    }


def calibration_config(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """The config of an attack calibration draw (``analysis.attack_calibration``): the ``kind`` attack run for the
    calibration's epochs with an evaluation after every epoch; every other setting as in the attacks. (What a
    calibration draw scores beyond an attack's, its damage to the retain and test items, is decided by
    :func:`ssiuu.attacks.run_attacks` from the draw's path, not by this config.)"""
    calibrated = copy.deepcopy(config)
    calibrated["attacks"][kind] |= {
        "epochs": config["analysis"]["attack_calibration"][kind]["epochs"],
        "eval_every_steps": None,
    }
    return calibrated


def learning_rates(config: dict[str, Any], method: str, benchmark: str | None = None) -> list[float]:
    """Ascending learning rates to try: the method's own list, else the list for all methods, where a
    benchmark's overrides (``benchmarks.<benchmark>.unlearning``) replace the top-level keys."""
    base, _ = method_variant(method)
    ucfg = unlearning_config(config, benchmark) if benchmark is not None else config["unlearning"]
    rates = ucfg["method_learning_rates"].get(base, ucfg["learning_rates"])
    return sorted(rates)


def check_config(config: dict[str, Any]) -> None:
    """Command ``check-config``: loading validated the config already (YAML, schema, methods, parameters); then
    every model and data source must be readable here (:func:`ssiuu.sources.require_sources`)."""
    from ssiuu.sources import require_sources

    require_sources(validate_config(config))
