"""The result JSON files behind Tables 1-2 and Figs. 2 and 7, read and validated — no torch, no model.

Results layout (``R`` = results dir)::

    R/<benchmark>/<model>/base.json                                   Default row
    R/<benchmark>/<model>/<method>/seed<s>/unlearn.json               one unlearning run
    R/<benchmark>/<model>/<method>/seed<s>/attacks/harmful_p<p>_lr<lr>_run<r>.json
    R/<benchmark>/<model>/<method>/seed<s>/attacks/benign_lr<lr>_run<r>.json
    R/<benchmark>/<model>/<method>/seed<s>/calibration/...           the attack calibration sweep (Fig. 7b, c)

JSON holds fractions; RS is the test-set score on MCQA-style benchmarks and the retain-set score on ROUGE-style
ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu import layout
from ssiuu.io import read_json

STYLES = ("mcqa", "rouge")


def lr_matches(lr: float, lrs: Iterable[float]) -> bool:
    """Learning rates compared with a relative tolerance (file names round them to ``1e-05`` style)."""
    return any(math.isclose(float(lr), float(x), rel_tol=1e-6) for x in lrs)


DEFAULT = "Default"
ATTACK_COLUMNS = [
    "benchmark",
    "model",
    "method",
    "seed",
    "kind",
    "p",
    "lr",
    "run",
    "end_fs",
    "n_attack",
    "key",
    "path",
]


class ResultError(ValueError):
    """A result file is malformed or a required one is missing."""


class ResultFiles:
    """The result files a report reads: exactly the paths its rule passes (Snakemake's ``input``).

    Paths follow :mod:`ssiuu.layout`; ``root`` is their common results directory. The report reads these files
    and no others: what is not listed does not exist for it."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.paths = sorted({Path(p) for p in paths})
        roots = {self._root_of(p) for p in self.paths}
        if len(roots) > 1:
            raise ResultError(f"result files from several results directories {sorted(map(str, roots))}")
        self.root = roots.pop() if roots else Path("results")  # no files: nothing under any root

    @staticmethod
    def _root_of(path: Path) -> Path:
        kind = layout.kind_of(str(path), RESULT_KINDS)
        if kind is None:
            raise ResultError(f"{path}: not a result file of the layout in ssiuu/layout.py")
        return Path(layout.parse(kind, str(path))["results"])

    def of(self, kind: str) -> list[Path]:
        """The listed files of one layout kind (``base``, ``unlearn``, ``harmful``, ``influence`` ...)."""
        return [p for p in self.paths if layout.kind_of(str(p), (kind,))]

    def __contains__(self, path: object) -> bool:
        return Path(str(path)) in set(self.paths)

    def __str__(self) -> str:
        return str(self.root)


#: The layout kinds a report may be given.
RESULT_KINDS = (
    "split",
    "base",
    "pretrain",
    "pretrain_never_learned",
    "unlearn",
    "harmful",
    "benign",
    "calibration_harmful",
    "calibration_benign",
    "influence",
    "distributions",
    "logit_lens",
)


def attack_key(kind: str, p: float | None = None) -> str:
    """Column name of an attack: ``harmful_p0.1`` / ``benign``."""
    if kind == "benign":
        return "benign"
    if kind != "harmful" or p is None:
        raise ValueError(f"attack kind must be 'harmful' (with p) or 'benign', got {kind!r}, p={p!r}")
    return f"harmful_p{float(p):g}"


@dataclass(frozen=True)
class AttackGrid:
    """The attack results a table cell, a Fig. 2 bar or claim 2 aggregates: the configured learning rates of
    each attack and the harmful fractions p (the calibration sweep of Fig. 7b, c is read on its own)."""

    harmful_lrs: tuple[float, ...]
    benign_lrs: tuple[float, ...]
    harmful_ps: tuple[float, ...] = (0.1, 0.3)

    def __init__(
        self,
        harmful_lrs: Sequence[float],
        benign_lrs: Sequence[float],
        harmful_ps: Sequence[float] = (0.1, 0.3),
    ) -> None:
        for name, values in (
            ("harmful_lrs", harmful_lrs),
            ("benign_lrs", benign_lrs),
            ("harmful_ps", harmful_ps),
        ):
            object.__setattr__(self, name, tuple(float(v) for v in values))

    @property
    def harmful_keys(self) -> list[str]:
        """Column names of the harmful attacks: ``harmful_p0.1``, ..."""
        return [attack_key("harmful", p) for p in self.harmful_ps]

    @property
    def keys(self) -> list[str]:
        """Column names of every attack: the harmful ones, then ``benign``."""
        return [*self.harmful_keys, "benign"]

    @property
    def lrs(self) -> dict[str, tuple[float, ...]]:
        """The learning rates aggregated per attack kind."""
        return {"harmful": self.harmful_lrs, "benign": self.benign_lrs}


def _score(obj: Mapping[str, Any], key: str, path: Path, *, allow_null: bool = False) -> float:
    if key not in obj:
        raise ResultError(f"{path}: missing key {key!r} (expected a fraction in [0, 1])")
    value = obj[key]
    if value is None and allow_null:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultError(f"{path}: {key!r} must be a number in [0, 1], got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ResultError(
            f"{path}: {key!r} = {value!r} is not a fraction in [0, 1] (scores are stored as fractions; "
            "tables convert to %)"
        )
    return value


def _scores(obj: Mapping[str, Any], path: Path, style: str) -> dict[str, float]:
    """FS, retain, test, US and RS (test on MCQA-style benchmarks, retain on ROUGE-style ones)."""
    row = {
        "FS": _score(obj, "forget_score", path),
        "retain": _score(obj, "retain_score", path),
        "test": _score(obj, "test_score", path, allow_null=True) if "test_score" in obj else math.nan,
        "US": _score(obj, "US", path, allow_null=True),
    }
    if style == "mcqa" and math.isnan(row["test"]):
        raise ResultError(
            f"{path}: MCQA-style results need 'test_score' (Table 1 reports test accuracy as RS)"
        )
    row["RS"] = row["test"] if style == "mcqa" else row["retain"]
    return row


def read_result(path: Path) -> dict[str, Any]:
    """A result file's JSON object; :class:`ResultError` when it is not one."""
    try:
        obj = read_json(path)
    except ValueError as err:  # json.JSONDecodeError
        raise ResultError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(obj, dict):
        raise ResultError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def benchmark_model_dirs(results: ResultFiles) -> list[Path]:
    """The ``<benchmark>/<model>`` directories whose ``base.json`` is listed."""
    dirs = sorted(p.parent for p in results.of("base"))
    if not dirs:
        raise FileNotFoundError(
            f"no {results}/<benchmark>/<model>/base.json found: run the base_eval rules first"
        )
    return dirs


def run_dirs(results: ResultFiles, bm_dir: Path) -> list[tuple[str, int, Path]]:
    """(method, seed, directory) of every listed ``<method>/seed<s>/unlearn.json`` under one (benchmark, model)."""
    runs = [
        (layout.parse("unlearn", str(p)), p.parent)
        for p in results.of("unlearn")
        if p.parent.parent.parent == bm_dir
    ]
    return [(w["method"], w["seed"], seed_dir) for w, seed_dir in runs]


def load_base(path: str | Path) -> dict[str, Any]:
    """Validated ``base.json``: the Default row. Returns benchmark, model, style, FS, retain, test, US, RS."""
    path = Path(path)
    obj = read_result(path)
    style = obj.get("style")
    if style not in STYLES:
        raise ResultError(f"{path}: 'style' must be one of {STYLES}, got {style!r}")
    bench, model = obj.get("benchmark", path.parent.parent.name), obj.get("model", path.parent.name)
    if (bench, model) != (path.parent.parent.name, path.parent.name):
        raise ResultError(
            f"{path}: benchmark/model in the file ({bench}/{model}) do not match its "
            f"directory ({path.parent.parent.name}/{path.parent.name})"
        )
    return {"benchmark": bench, "model": model, "style": style} | _scores(obj, path, style)


def load_unlearn(path: str | Path, style: str) -> dict[str, Any]:
    """Validated ``unlearn.json`` of ``<method>/seed<s>/``."""
    path = Path(path)
    obj = read_result(path)
    where = layout.parse("unlearn", str(path))
    method, seed = where["method"], where["seed"]
    if obj.get("method", method) != method:
        raise ResultError(f"{path}: 'method' is {obj.get('method')!r} but the directory says {method!r}")
    if int(obj.get("seed", seed)) != seed:
        raise ResultError(f"{path}: 'seed' is {obj.get('seed')!r} but the directory says {seed}")
    return (
        {"method": method, "seed": seed}
        | _scores(obj, path, style)
        | {
            "converged": bool(obj.get("converged", True)),
            "lr": float(obj["lr"]) if obj.get("lr") is not None else math.nan,
            "steps": obj.get("steps"),
            "lambda": _lambda_of(method, obj.get("params") or {}),
        }
    )


def _lambda_of(method: str, params: Mapping[str, Any]) -> float:
    """SSIUU's regularisation weight: ``params['lambda_']`` or the ``-lambda<x>`` suffix of the method name."""
    for key in ("lambda_", "lambda", "lam"):
        if params.get(key) is not None:
            return float(params[key])
    _, overrides = layout.method_variant(method)
    return float(overrides["lambda"]) if "lambda" in overrides else math.nan


def _attack_name(path: Path) -> tuple[str, dict[str, Any]]:
    """(kind, wildcards) of an attack file path (:mod:`ssiuu.layout`)."""
    kind = layout.kind_of(str(path), ("harmful", "benign"))
    if kind is None:
        raise ResultError(
            f"{path}: not an attack file path ({layout.TEMPLATES['harmful']} / {layout.TEMPLATES['benign']})"
        )
    return kind, layout.parse(kind, str(path))


def _attack_p(obj: Mapping[str, Any], kind: str, name: Mapping[str, Any], path: Path) -> float | None:
    """The harmful attack's fraction p (``None`` for benign), checked against the file name."""
    if kind != "harmful":
        return None
    if obj.get("p") is None:
        raise ResultError(f"{path}: harmful attack without 'p'")
    p = float(obj["p"])
    if not math.isclose(p, name["p"], rel_tol=1e-9):
        raise ResultError(f"{path}: 'p' = {p:g} but the file name says {name['p']:g}")
    return p


def _check_curve(curve: list[Any], path: Path) -> None:
    for point in curve:
        if not (isinstance(point, (list, tuple)) and len(point) == 2):
            raise ResultError(f"{path}: fs_curve entries must be [step, fs] pairs, got {point!r}")
        _score({"fs": point[1]}, "fs", path)


def _end_fs(obj: Mapping[str, Any], path: Path) -> float:
    """The attack's score: ``end_fs`` (docs/results.md), else the old files' ``max_fs``; NaN without either."""
    for key in ("end_fs", "max_fs"):
        if key in obj:
            return _score(obj, key, path, allow_null=True)
    return math.nan


def load_attack(path: str | Path) -> dict[str, Any]:
    """Validated attack JSON; its kind, p, lr and run must agree with the file name."""
    path = Path(path)
    kind, name = _attack_name(path)
    obj = read_result(path)
    if obj.get("kind", kind) != kind:
        raise ResultError(f"{path}: 'kind' is {obj.get('kind')!r} but the file name says {kind!r}")
    for key in ("lr", "run"):
        if key not in obj:
            raise ResultError(f"{path}: missing key {key!r}")
    lr, run = float(obj["lr"]), int(obj["run"])
    if not lr_matches(lr, [name["lr"]]):
        raise ResultError(f"{path}: 'lr' = {lr:g} but the file name says {layout.fmt_lr(name['lr'])}")
    if run != name["run"]:
        raise ResultError(f"{path}: 'run' = {run} but the file name says {name['run']}")
    p = _attack_p(obj, kind, name, path)
    _check_curve(obj.get("fs_curve") or [], path)
    return {
        "kind": kind,
        "p": p,
        "lr": lr,
        "run": run,
        "end_fs": _end_fs(obj, path),
        "n_attack": obj.get("n_attack"),
        "key": attack_key(kind, p),
        "path": str(path),
    }


def collect_base(results: ResultFiles) -> pd.DataFrame:
    """One Default row per (benchmark, model) from ``base.json`` (fractions)."""
    return pd.DataFrame([load_base(d / "base.json") for d in benchmark_model_dirs(results)])


def collect_attacks(results: ResultFiles) -> pd.DataFrame:
    """One row per attack file: benchmark, model, method, seed, kind, p, lr, run, key, end_fs (fraction), path."""
    rows = []
    attack_files = results.of("harmful") + results.of("benign")
    for bm in benchmark_model_dirs(results):
        for method, seed, seed_dir in run_dirs(results, bm):
            for f in sorted(f for f in attack_files if f.parent.parent == seed_dir):
                where = {"benchmark": bm.parent.name, "model": bm.name, "method": method, "seed": seed}
                rows.append(where | load_attack(f))
    return pd.DataFrame(rows, columns=ATTACK_COLUMNS)
