"""What a per-model command works on, as one object each: the rules' wildcards and input files that every such
command shares, built once by the command table (:mod:`ssiuu.cli`) from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelOnSplit:
    """One model directory, trained or scored on one benchmark's split (``split.json``)."""

    benchmark: str
    model: str
    model_dir: str
    split: str


@dataclass(frozen=True)
class MethodRun(ModelOnSplit):
    """One unlearning method and seed on a model and split (or a reference model standing in for one)."""

    method: str
    seed: int

    def header(self) -> dict[str, Any]:
        """The fields that open its result file (``unlearn.json``)."""
        return {"benchmark": self.benchmark, "model": self.model, "method": self.method, "seed": self.seed}
