"""The card's figure (ssiuu/card/figure.py): written beside the Markdown card, one panel per test, and every
plotted point and interval is the number the card prints."""

from __future__ import annotations

import re

import pytest

from ssiuu import layout
from ssiuu.card.figure import card_panels, draw_card_figure
from ssiuu.card.render import Settings, load_results, make_card, rows_of
from ssiuu.config import load_config
from ssiuu.io import write_json
from tests.result_files import card_test_result

SETTINGS = Settings(confidence=0.95, n_resamples=999)
TESTS = ("plain", "quantized_8bit", "quantized_4bit", "in_context", "probe", "logit_lens")
#: per model, the share of its 30 items read right (different for every model, so the points differ)
SHARES = {"mine": 0.4, "Start": 0.9, "Hider": 0.8}
CELL = re.compile(r"(-?\d+\.\d\d) \[(-?\d+\.\d\d), (-?\d+\.\d\d)\]")


def card_files(root) -> list[str]:
    files = []
    for method, share in SHARES.items():
        for test in TESTS:
            path = layout.path(
                "card_test", results=str(root), benchmark="wf", model="tiny", method=method, seed=0, test=test
            )
            write_json(path, card_test_result(test, share))
            files.append(path)
    return files


def card_score_rows(text: str) -> list[list[tuple[float, float, float]]]:
    """Per test row of the card (its score row), the (value, low, high) of each model's cell, in column order."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 4 and cells[0] and cells[1] != "margin" and CELL.match(cells[3]):
            rows.append([tuple(map(float, CELL.match(c).groups())) for c in cells[3:-1]])
    return rows


def plotted(ax) -> list[tuple[float, float, float]]:
    """The (value, low, high) of each point of a panel, left to right."""
    points = []
    for container in ax.containers:
        (value,) = container.lines[0].get_ydata()
        (segment,) = container.lines[2][0].get_segments()
        points.append((float(value), float(segment[0][1]), float(segment[1][1])))
    return points


def test_the_figure_plots_the_cards_numbers(tmp_path):
    config = load_config(
        "workflow/configs/smoke.yaml",
        overrides={"checkpoints": {"mine": {"path": "/x", "model": "tiny", "benchmark": "wf"}}},
    )
    files = card_files(tmp_path)
    out, figure = tmp_path / "card.md", tmp_path / "card.png"
    text = make_card(
        config,
        benchmark="wf",
        model="tiny",
        method="mine",
        seed=0,
        results=files,
        out=str(out),
        figure=str(figure),
    )
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    own, controls = rows_of(load_results(files), "mine", 0)
    panels = card_panels("mine", own, controls, Settings.from_config(config))
    fig = draw_card_figure("mine", panels, 0.95)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    card = card_score_rows(text)
    assert len(axes) == len(card) == len(TESTS)
    for ax, panel, row in zip(axes, panels, card, strict=True):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["mine", "Start", "Hider"] == panel.models
        assert [tuple(round(v, 2) for v in point) for point in plotted(ax)] == row  # as the card prints them
    # the values themselves: 12 of 30 right for the model, 27 and 24 for Start and the Hider
    assert [point[0] for point in card[0]] == pytest.approx([0.4, 0.9, 0.8])
    assert [point[0] for point in card[-1]] == pytest.approx([0.45, 0.7, 0.65])  # logit lens shares
    assert panels[-1].chance == 0.5 and panels[0].chance == pytest.approx(1 / 3)
    assert panels[-1].title.startswith("logit lens (layers 1–3, chance 0.50)\n")
