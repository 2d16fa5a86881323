"""README.md leads with what the default found, and that block is generated: it is what
:mod:`ssiuu.report.claims.readme` writes from the committed results/ now. The README stays short, and every relative
link in it and in docs/ points to a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from result_files import result_files

from ssiuu.config import load_config
from ssiuu.report.claims import readme

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "results"
#: at most about 1,500 words, counted as `wc -w` counts them
MAX_WORDS = 1600
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def test_the_results_block_is_what_the_generator_writes_from_the_committed_results():
    config = load_config(RESULTS / "config.yaml")
    expected = readme.readme_block(
        result_files(RESULTS), config, claims_md=RESULTS / "claims.md", readme=README
    )
    assert readme.current_block(README.read_text()) == expected, (
        "README.md's results block is not what the committed results/ give now: run `make regenerate` "
        "(it rewrites the block), never edit it by hand"
    )


def test_the_readme_stays_short_and_leads_with_the_finding():
    text = README.read_text()
    words = len(text.split())
    assert words <= MAX_WORDS, f"README.md has {words} words (at most {MAX_WORDS}): move detail to docs/"
    first_screen = text[: text.index(readme.BEGIN)]
    for needed in ("make run", "make test", "docs/glossary.md", "## What the default found"):
        assert needed in first_screen, f"README.md's first screen lacks {needed!r}"


def _strip_code(text: str) -> str:
    """Markdown without fenced code blocks and inline code spans, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", _strip_code(page.read_text()), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _strip_code(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page: Path):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_the_link_checker_sees_a_broken_link(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](page.md#title) [gone](missing.md) `[code](nowhere.md)`\n")
    assert _links(page) == ["page.md#title", "missing.md"]
    assert _anchors(page) == {"title"}


# --- the generator on its own: markers, replacement, which README it may touch ---------------------------

FAKE = [
    SimpleNamespace(markdown=lambda how=True: ["1. **A claim** — *not supported*. b/m: x 1.0 [0.5, 1.5]."])
]


@pytest.fixture
def fake_claims(monkeypatch):
    """The generator with a fixed claims list: these tests are about the block, not the statistics."""
    monkeypatch.setattr(readme, "claims", lambda results, options: FAKE)


def _checkout(tmp_path: Path, block: str = f"{readme.BEGIN}\nold\n{readme.END}") -> tuple[Path, Path]:
    (tmp_path / "results" / "tables").mkdir(parents=True)
    claims_md = tmp_path / "results" / "claims.md"
    claims_md.write_text("# claims\n")
    page = tmp_path / "README.md"
    page.write_text(f"# Title\n\nbefore\n\n{block}\n\nafter\n")
    return page, claims_md


def test_replace_block_keeps_everything_outside_the_markers():
    text = f"a\n{readme.BEGIN}\nold\n{readme.END}\nb\n"
    assert readme.replace_block(text, f"{readme.BEGIN}\nnew\n{readme.END}") == (
        f"a\n{readme.BEGIN}\nnew\n{readme.END}\nb\n"
    )


@pytest.mark.parametrize(
    "text",
    ["no markers", f"{readme.END}\n{readme.BEGIN}", f"{readme.BEGIN}\n{readme.BEGIN}\n{readme.END}"],
    ids=["missing", "reversed", "repeated"],
)
def test_markers_missing_reversed_or_repeated_are_refused(text: str):
    with pytest.raises(readme.ReadmeError):
        readme.replace_block(text, "x")


def test_update_writes_the_block_once_and_names_its_source(tmp_path: Path, fake_claims):
    page, claims_md = _checkout(tmp_path)
    config = load_config(RESULTS / "config.yaml")
    assert readme.update_readme(config, [], str(claims_md), str(page))
    text = page.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert readme.block_source(text) == "results/claims.md"
    assert "1. **A claim** — *not supported*." in text and "(results/tables/table1.md)" in text
    assert not readme.update_readme(config, [], str(claims_md), str(page))  # unchanged the second time
    assert page.read_text() == text


def test_update_leaves_a_readme_that_reports_other_results_alone(tmp_path: Path, fake_claims):
    block = f"{readme.BEGIN}\n{readme.SOURCE_LINE.format(source='results/other/claims.md')}\n{readme.END}"
    page, claims_md = _checkout(tmp_path, block)
    before = page.read_text()
    assert not readme.update_readme(load_config(RESULTS / "config.yaml"), [], str(claims_md), str(page))
    assert page.read_text() == before


def test_update_without_a_readme_or_its_markers_does_nothing(tmp_path: Path, fake_claims):
    config = load_config(RESULTS / "config.yaml")
    page, claims_md = _checkout(tmp_path, "no markers here")
    assert not readme.update_readme(config, [], str(claims_md), str(tmp_path / "absent.md"))
    assert not readme.update_readme(config, [], str(claims_md), str(page))
    assert "no markers here" in page.read_text()
