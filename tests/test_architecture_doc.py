"""docs/architecture.md lists every measure as the registry defines it (python -m mdcnb.report.catalogue)."""

from __future__ import annotations

from pathlib import Path

from mdcnb.measures import registry
from mdcnb.report import catalogue

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_the_measure_table_is_current():
    text = DOC.read_text(encoding="utf-8")
    committed = text.split(catalogue.START, 1)[1].split(catalogue.END, 1)[0].strip()
    assert committed == catalogue.table(), "run: python -m mdcnb.report.catalogue"


def test_every_measure_has_a_row_and_is_shown_somewhere():
    rows = catalogue.table().splitlines()[2:]
    assert len(rows) == len(registry.measures())
    assert not [row for row in rows if row.endswith("| not shown |")]


def test_the_readme_links_the_architecture_page():
    assert "docs/architecture.md" in (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
