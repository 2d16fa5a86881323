"""Unlearning methods and their registry.

A method is a loss plus an optional parameter mask, optimiser and per-step state (see
:class:`~ssiuu.methods.base.UnlearningMethod`); :func:`ssiuu.training.train` does the rest::

    cls = get_method("SSIUU")
    method = cls(model, tokenizer, forget=pairs_f, retain=pairs_r, seed=0, **params)
    train(model, tokenizer, method.loss, method.streams(), lr=..., max_steps=...,
          optimizer_factory=method.optimizer_factory(), param_mask=method.parameter_mask())
"""

from __future__ import annotations

from typing import Any

from ssiuu.methods.base import MethodConfigError, UnlearningMethod
from ssiuu.methods.dpo import DPO
from ssiuu.methods.ga import GA
from ssiuu.methods.gd import GD
from ssiuu.methods.hider import Hider
from ssiuu.methods.klue import KLUE
from ssiuu.methods.npo import NPO
from ssiuu.methods.rmu import RMU
from ssiuu.methods.simu import SIMU
from ssiuu.methods.ssiuu import SSIUU

#: lower-case name -> class. The config spells a method as its class name (GA, …, SIMU, Hider); Hider is the
#: known-hider control (:mod:`ssiuu.references`), not a method of the paper
METHODS: dict[str, type[UnlearningMethod]] = {
    cls.name: cls for cls in (GA, GD, DPO, NPO, RMU, KLUE, SSIUU, SIMU, Hider)
}


def get_method(name: str) -> type[UnlearningMethod]:
    """The method class for ``name`` (case-insensitive); ValueError listing the valid names otherwise."""
    key = str(name).strip().lower()
    if key not in METHODS:
        valid = ", ".join(cls.__name__ for cls in METHODS.values())
        raise ValueError(f"unknown unlearning method {name!r}; valid methods: {valid}")
    return METHODS[key]


def method_hparams(name: str) -> dict[str, Any]:
    """The hyper-parameters of a method and their defaults (the config keys it accepts)."""
    return get_method(name).hparams()


def build_method(
    name: str, model: Any, tokenizer: Any, *, forget: Any, retain: Any = (), **params: Any
) -> UnlearningMethod:
    """Instantiate a method, rejecting unknown hyper-parameters with the list of valid ones."""
    cls = get_method(name)
    cls.check_hparams(params)
    return cls(model, tokenizer, forget=forget, retain=retain, **params)


__all__ = [
    "DPO",
    "GA",
    "GD",
    "KLUE",
    "Hider",
    "METHODS",
    "NPO",
    "RMU",
    "SIMU",
    "SSIUU",
    "MethodConfigError",
    "UnlearningMethod",
    "build_method",
    "get_method",
    "method_hparams",
]
