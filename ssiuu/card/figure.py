"""The card's figure: every test's score at a glance, the model beside the controls.

One panel per test, in the card's order (:func:`ssiuu.card.render.ordered_tests`); in each, the model and every
control that has the test, on the x axis, with the score and its interval on the y axis: the very numbers of the
card's score rows (:func:`ssiuu.card.render.score_interval`). A dotted line marks the test's chance level where
it has one; the panel's title gives the test and its verdict. Written as PNG beside the Markdown card
(``layout.TEMPLATES["card_figure"]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssiuu.card import PLAIN
from ssiuu.card.render import (
    CONTROL_COLUMNS,
    Interval,
    Settings,
    chance_level,
    label_of_test,
    ordered_tests,
    score_interval,
    verdict_of_test,
)

#: panels per row of the figure
PANELS_PER_ROW = 4
#: the model's colour and the controls' (the report's red and a grey)
MODEL_COLOR, CONTROL_COLOR = "#d62728", "0.45"


@dataclass(frozen=True)
class Panel:
    """One test's panel: its title, the models on its x axis (the model first) and their scores, the chance
    level (None where the test has none); each point's colour and marker where given (else the first model's
    :data:`MODEL_COLOR`, the others' :data:`CONTROL_COLOR`, all ``o``)."""

    title: str
    models: list[str]
    scores: list[Interval]
    chance: float | None
    colors: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()


def card_panels(
    name: str,
    model: dict[str, dict[str, Any]],
    controls: dict[str, dict[str, dict[str, Any]]],
    settings: Settings,
) -> list[Panel]:
    """The panels of the card of ``model`` (called ``name`` on the x axis) beside ``controls``."""
    panels = []
    for test in ordered_tests(model):
        result = model[test]
        at_test = {c: controls[c][test] for c in CONTROL_COLUMNS if test in controls.get(c, {})}
        decided = "no verdict" if test == PLAIN else verdict_of_test(result, at_test, settings)
        panels.append(
            Panel(
                title=f"{label_of_test(test, result)}\n{decided}",
                models=[name, *at_test],
                scores=[score_interval(r, settings) for r in (result, *at_test.values())],
                chance=chance_level(result),
            )
        )
    return panels


def draw_panel(ax: Any, panel: Panel) -> None:
    """One panel: a point with its interval per model (``no score`` where it has none), the chance level
    dotted."""
    for x, (model, score) in enumerate(zip(panel.models, panel.scores, strict=True)):
        if math.isnan(score.value):
            ax.text(x, 0.5, "no score", rotation=90, ha="center", va="center", fontsize=7, color="0.3")
            continue
        low = score.value if math.isnan(score.low) else score.low
        high = score.value if math.isnan(score.high) else score.high
        ax.errorbar(
            [x],
            [score.value],
            yerr=[[score.value - low], [high - score.value]],
            fmt=panel.markers[x] if panel.markers else "o",
            color=panel.colors[x] if panel.colors else MODEL_COLOR if x == 0 else CONTROL_COLOR,
            capsize=3,
            label=model,
        )
    if panel.chance is not None:
        ax.axhline(panel.chance, color="0.3", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(panel.models)), panel.models, rotation=30, ha="right")
    ax.set_xlim(-0.5, len(panel.models) - 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(panel.title, fontsize=9)


def draw_card_figure(
    title: str,
    panels: list[Panel],
    confidence: float,
    *,
    note: str = "dotted: chance",
    panel_width: float = 3.2,
) -> Any:
    """The figure of ``panels`` (a :class:`matplotlib.figure.Figure`), titled ``title`` above a line giving the
    intervals' level and ``note``; each panel ``panel_width`` inches wide."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ssiuu.report.figures.common import RC

    rows = max(1, math.ceil(len(panels) / PANELS_PER_ROW))
    columns = min(len(panels), PANELS_PER_ROW) or 1
    with mpl.rc_context(RC):
        fig = Figure(figsize=(panel_width * columns, 3.2 * rows + 0.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax, panel in zip(axes, panels, strict=False):
            draw_panel(ax, panel)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        axes[0].set_ylabel("score (per-item mean)")
        fig.suptitle(f"{title}\n{100 * confidence:g} % intervals; {note}", fontsize=10)
    return fig


def write_card_figure(path: str | Path, fig: Any) -> Path:
    """Write ``fig`` as PNG at ``path``, atomically."""
    from ssiuu.io import atomic_path
    from ssiuu.report.figures.common import DPI

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path
