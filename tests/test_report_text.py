"""No Markdown syntax leaks into the weekly report: what a reader sees is text, not backticks or asterisks.

Read over every page of one real report of the sample tenant (the session's `sample_report`): the visible text of
each HTML page (not scripts, styles or the paste-ready filters in `<pre>`, whose characters are the content), and
the text of every chart (titles, axis titles, legend entries, bar labels, annotations) from the executed notebooks.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LEAKS = ("`", "**", "](")
HEADING = re.compile(r"^\s*#+\s", re.MULTILINE)
PLOTLY_MIME = "application/vnd.plotly.v1+json"
CHART_TEXT_KEYS = {"text", "name", "title"}
HIDDEN = {"head", "script", "style", "template", "pre"}
BLOCKS = {"p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "br", "table"}


class VisibleText(HTMLParser):
    """The text a browser shows of a page: no head, scripts, styles, templates or `<pre>` blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in HIDDEN
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        self.hidden -= tag in HIDDEN
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(page: Path) -> str:
    parser = VisibleText()
    parser.feed(page.read_text(encoding="utf-8"))
    return "".join(parser.parts)


def chart_texts(value, key: str = "") -> list[str]:
    """Every string a plotly figure draws: under `text`, `name` and `title` keys, at any depth."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in chart_texts(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in chart_texts(v, key)]
    return [value] if isinstance(value, str) and key in CHART_TEXT_KEYS else []


def leaks(text: str) -> list[str]:
    """The lines of `text` that hold Markdown syntax."""
    return [line.strip() for line in text.splitlines()
            if any(mark in line for mark in LEAKS) or HEADING.match(line)]


def test_markdown_is_detected():
    """The checks find what they look for (and nothing in plain text)."""
    assert leaks("run `mdcnb prices refresh`\n**bold**\n[link](x.html)\n## Heading") == [
        "run `mdcnb prices refresh`", "**bold**", "[link](x.html)", "## Heading"]
    assert leaks("Secure score: 38.59 %\n2 x 3 = 6 #1 issue") == []


def test_no_markdown_in_the_visible_text_of_any_page(sample_report):
    pages = sorted(sample_report.week_dir.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "00_summary.html", "50_cost.html"}
    found = {p.name: leaks(visible_text(p)) for p in pages}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_no_markdown_in_any_chart(sample_report):
    notebooks = sorted((sample_report.week_dir / "notebooks").glob("*.ipynb"))
    assert notebooks
    found = {}
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        figures = [o["data"][PLOTLY_MIME] for c in cells for o in c.get("outputs", [])
                   if PLOTLY_MIME in o.get("data", {})]
        texts = [t for fig in figures for t in chart_texts(fig)]
        assert figures and texts, path.name
        found[path.name] = [t for t in texts if leaks(t)]
    assert {name: texts for name, texts in found.items() if texts} == {}
