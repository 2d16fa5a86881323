"""Rule ``card_overview``: every erase-or-hide card of one benchmark and model at a glance.

One table (``layout.TEMPLATES["card_overview"]``) with a row per model, the controls first (as the cards label
them), then every model with a card, and a column per test in the cards' order
(:func:`ssiuu.card.render.ordered_tests`): the score with its interval and n as the card's score row prints it
(:func:`ssiuu.card.render.cell`), and for a model with a card the test's verdict and the card's summary as its
card gives them (:func:`ssiuu.card.render.rows_of`, the same controls;
:func:`ssiuu.card.render.verdicts_by_test`, :func:`ssiuu.card.render.card_summary`). Its figure
(``card_overview_figure``; :mod:`ssiuu.card.figure`'s drawing) has a panel per test with every model on the x
axis: the controls grey, the models with a card red, marked by their verdict on that test. A model without a
result of some test gets ``no result`` in that cell, ``no score`` in that panel, and a line under the table
naming it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssiuu import layout
from ssiuu.card import PLAIN
from ssiuu.card.checkpoints import own_start_method
from ssiuu.card.render import (
    CONTROL_COLUMNS,
    ERASES,
    HIDES,
    MEASURE_LABELS,
    Interval,
    Settings,
    card_summary,
    cell,
    chance_level,
    label_of_test,
    load_results,
    ordered_tests,
    rows_of,
    score_interval,
    verdicts_by_test,
)
from ssiuu.io import write_text

log = logging.getLogger(__name__)

#: a cell of a model without a result of the test
NO_RESULT = "no result"
#: the figure's marker of a card's model on a test, by its verdict (else a circle)
VERDICT_MARKERS = {HIDES: "^", ERASES: "v"}
Results = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One model of the overview: its name (the x axis), its label (the table), its results by test and, for a
    model with a card, each test's verdict and the card's summary (None for a control)."""

    name: str
    label: str
    tests: Results
    verdicts: dict[str, str] | None = None
    summary: str | None = None


def overview_rows(
    results: dict[tuple[str, int], Results], settings: Settings, checkpoints: dict[str, Any] | None = None
) -> list[Row]:
    """The controls (in the cards' order; a brought checkpoint's own starting model after them), then every
    other model of ``results`` (:func:`ssiuu.card.render.load_results`) in its order, each with the verdicts of
    its card (:func:`ssiuu.card.render.rows_of`: the same controls)."""
    own_starts = {own_start_method(method): method for method, _ in results}
    subjects = [key for key in results if key[0] not in CONTROL_COLUMNS and key[0] not in own_starts]
    if not subjects:
        raise ValueError(
            f"no model with a card among the results given (only {sorted({m for m, _ in results})})"
        )
    rows = [
        Row(name, f"{name} ({CONTROL_COLUMNS[name]})", tests)
        for control in CONTROL_COLUMNS
        for (name, _), tests in results.items()
        if name == control
    ]
    rows += [
        Row(name, f"{name} (starting model of {own_starts[name]})", tests)
        for (name, _), tests in results.items()
        if name in own_starts
    ]
    for method, seed in subjects:
        own, controls = rows_of(results, method, seed)
        brought = (checkpoints or {}).get(method)
        where = f"checkpoint: {brought.get('label') or brought['path']}" if brought else f"seed {seed}"
        verdicts = verdicts_by_test(own, controls, settings)
        rows.append(Row(method, f"{method} ({where})", own, verdicts, card_summary(own, controls, settings)))
    return rows


def overview_tests(rows: Sequence[Row]) -> list[str]:
    """Every test any model has, in the cards' order."""
    return ordered_tests(list(dict.fromkeys(name for row in rows for name in row.tests)))


def missing_results(rows: Sequence[Row], tests: Sequence[str]) -> dict[str, list[str]]:
    """Model name → the tests of the overview it has no result of (only models that lack one)."""
    missing = {row.name: [t for t in tests if t not in row.tests] for row in rows}
    return {name: lacking for name, lacking in missing.items() if lacking}


def overview_cell(row: Row, test: str, settings: Settings) -> str:
    """One model's cell: the card's score cell, its n and, for a model with a card, the test's verdict."""
    result = row.tests.get(test)
    if result is None:
        return NO_RESULT
    text = f"{cell(result, 'score', settings)}, n = {result['n']}"
    return f"{text}: {row.verdicts[test]}" if row.verdicts and test != PLAIN else text


def column_header(test: str, rows: Sequence[Row]) -> str:
    """A test's column header: the card's label of the test and its score's name."""
    result = next(row.tests[test] for row in rows if test in row.tests)
    return f"{label_of_test(test, result)}: {MEASURE_LABELS.get(test, result['score_field'])}"


def overview_markdown(benchmark: str, model: str, rows: Sequence[Row], settings: Settings) -> str:
    """The overview's table (module docstring), a header line and a line per model lacking a test's result."""
    tests = overview_tests(rows)
    header = ["model", *(column_header(t, rows) for t in tests), "summary (the card's)"]
    table = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *(
            "| "
            + " | ".join([row.label, *(overview_cell(row, t, settings) for t in tests), row.summary or "–"])
            + " |"
            for row in rows
        ),
    ]
    missing = missing_results(rows, tests)
    level = f"{settings.confidence:.0%}".replace("%", " %")
    return "\n".join(
        [
            f"# Erase-or-hide cards at a glance: {benchmark}, {model}",
            "",
            f"Every model's score on each test of the erase-or-hide card, as mean [{level} interval], n (Wilson "
            "intervals; the numbers of the cards' score rows), the controls first; for each model with a card "
            "(`<method>/seed<s>.md` beside this file) the test's verdict and the card's summary, by the rule of "
            "docs/card.md (*The card and its rule*): a test's verdict at the row's level, the summary at "
            "Bonferroni-adjusted intervals over the card's tests.",
            "",
            *table,
            *([""] if missing else []),
            *(
                f"**No result:** {name} has no result of {', '.join(lacking)}."
                for name, lacking in missing.items()
            ),
            "",
        ]
    )


def overview_panels(rows: Sequence[Row], settings: Settings) -> list[Any]:
    """One panel per test (the cards' order): every model, its score and interval (none where it lacks the
    test); the controls grey, the models with a card red, marked by their verdict."""
    from ssiuu.card.figure import CONTROL_COLOR, MODEL_COLOR, Panel

    panels = []
    for test in overview_tests(rows):
        result = next(row.tests[test] for row in rows if test in row.tests)
        missing = Interval(math.nan, math.nan, math.nan, 0)
        verdicts = [(row.verdicts or {}).get(test) for row in rows]
        panels.append(
            Panel(
                title=label_of_test(test, result),
                models=[row.name for row in rows],
                scores=[
                    score_interval(row.tests[test], settings) if test in row.tests else missing
                    for row in rows
                ],
                chance=chance_level(result),
                colors=tuple(CONTROL_COLOR if row.verdicts is None else MODEL_COLOR for row in rows),
                markers=tuple(VERDICT_MARKERS.get(v, "o") for v in verdicts),
            )
        )
    return panels


def write_overview_figure(
    path: str, benchmark: str, model: str, rows: Sequence[Row], settings: Settings
) -> None:
    """The overview's figure (module docstring), written as PNG at ``path``."""
    from ssiuu.card.figure import draw_card_figure, write_card_figure

    note = (
        "grey: controls; red: models with a card, marked by the test's verdict: ▲ hides, ▼ erases, "
        "● cannot tell at this n (or no attack); dotted: chance"
    )
    fig = draw_card_figure(
        f"Erase-or-hide cards at a glance: {benchmark}, {model}",
        overview_panels(rows, settings),
        settings.confidence,
        note=note,
        panel_width=max(3.2, 0.8 + 0.35 * len(rows)),
    )
    write_card_figure(path, fig)


def check_files(files: Sequence[str], benchmark: str, model: str) -> None:
    """Every file a ``card_test`` result of ``benchmark`` and ``model`` (ValueError naming the first that is
    not)."""
    for file in files:
        where = layout.parse("card_test", file)
        if (where["benchmark"], where["model"]) != (benchmark, model):
            raise ValueError(
                f"{file}: a card result of {where['benchmark']}, {where['model']}, not of {benchmark}, {model}"
            )


def make_card_overview(
    config: dict[str, Any],
    *,
    benchmark: str,
    model: str,
    results: list[str],
    out: str,
    figure: str | None = None,
) -> str:
    """Command ``card-overview``: the overview of every card of ``benchmark`` and ``model`` (module docstring)
    from the ``card_test`` files of the controls and of every model with a card, written to ``out``; its figure
    to ``figure`` where given."""
    check_files(results, benchmark, model)
    settings = Settings.from_config(config)
    rows = overview_rows(load_results(results), settings, config["checkpoints"])
    text = overview_markdown(benchmark, model, rows, settings)
    for name, lacking in missing_results(rows, overview_tests(rows)).items():
        log.warning(
            "card overview of %s, %s: %s has no result of %s", benchmark, model, name, ", ".join(lacking)
        )
    write_text(Path(out), text)
    if figure:
        write_overview_figure(figure, benchmark, model, rows, settings)
    return text
