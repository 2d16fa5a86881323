"""Progress that reads well both in a terminal and in a rule's log file.

On a terminal, :func:`progress` is an ordinary tqdm bar. When stderr is not a terminal (a Snakemake rule
redirects it to its log), it is a :class:`LogLines` bar instead: one plain line when the step starts, one
every :data:`LOG_INTERVAL_S` seconds, and one when it ends, with no carriage returns or cursor movements.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

#: Seconds between two progress lines in a log file.
LOG_INTERVAL_S = 30.0

_LINE_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def interactive() -> bool:
    """Whether stderr is a terminal (else progress is written as plain log lines)."""
    return sys.stderr.isatty()


class LogLines(tqdm):
    """A tqdm bar that writes each refresh as a new line: nothing is overwritten, cleared or moved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        iterable = args[0] if args else kwargs.get("iterable")
        total = kwargs.get("total")
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        if total:
            kwargs.setdefault("bar_format", _LINE_FORMAT)
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Write the bar as one line; an empty ``msg`` (a request to erase the bar) writes nothing."""
        if msg == "":
            return False
        self.fp.write(f"{self if msg is None else msg}".strip() + "\n")
        self.fp.flush()
        return True

    def clear(self, nolock: bool = False) -> None:
        """Lines already written stay: nothing to erase."""

    def close(self) -> None:
        """Write a last line with the overall rate (unless the count is already shown), then close."""
        if not self.disable and getattr(self, "last_print_n", self.n) != self.n:
            self._ema_dt = lambda: None
            self.display()
        self.leave = False
        super().close()


def progress(iterable: Any = None, **kwargs: Any) -> tqdm:
    """A progress bar for a long step: tqdm on a terminal, :class:`LogLines` in a log file."""
    if interactive():
        return tqdm(iterable, **{"mininterval": 0.1, "dynamic_ncols": True, **kwargs})
    return LogLines(iterable, **kwargs)


def quiet_library_bars() -> None:
    """In a log file, turn off the short bars of transformers, huggingface_hub and (once imported)
    datasets: weight loading and data set building, rewritten with carriage returns, add nothing there."""
    if interactive():
        return
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    datasets = sys.modules.get("datasets")
    if datasets is not None:
        datasets.disable_progress_bars()


@contextmanager
def routed_progress(*modules: types.ModuleType) -> Iterator[None]:
    """Inside the block, the ``tqdm`` that each module imported is :func:`progress` (for a library's
    long loops, such as lm-eval's scoring, to reach a log file as lines)."""
    saved = {m: m.tqdm for m in modules}
    for module in modules:
        module.tqdm = progress
    try:
        yield
    finally:
        for module, original in saved.items():
            module.tqdm = original
