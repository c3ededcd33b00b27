"""Executed notebook -> one self-contained HTML page: code hidden, plotly interactive offline, nothing fetched.

Notebooks keep plotly's default renderer (a small, diff-able JSON output); at export time `PlotlyToHTML` gives
each plotly output an HTML twin and inlines plotly.js once per page (reference/stack-notes.md §2). The template
`mdcnb_offline` is JupyterLab's without the require.js, MathJax, mermaid and widget-manager scripts it would load
from CDNs; widget outputs are dropped (a static page cannot run them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from mdcnb.tables.mask import Masker

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TEMPLATES = Path(__file__).resolve().parent / "templates"
# Cells left out of the page: the parameters, and anything a notebook marks as interactive-only.
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "report-hide"})


class PlotlyToHTML(Preprocessor):
    """Give each plotly output an offline `text/html` twin; plotly.js is inlined in the first one only."""

    def preprocess(self, nb, resources):
        first = True
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if PLOTLY_MIME in data and "text/html" not in data:
                    data["text/html"] = pio.to_html(data[PLOTLY_MIME], full_html=False, include_plotlyjs=first,
                                                    validate=False, config={"displaylogo": False})
                    first = False
        return nb, resources


class DropWidgets(Preprocessor):
    """Remove widget outputs and widget state: a static page cannot run them and must not fetch a manager."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            if "outputs" in cell:
                cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
        return nb, resources


def html_exporter() -> HTMLExporter:
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="mdcnb_offline",
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True), enabled=True)
    exporter.register_preprocessor(DropWidgets(), enabled=True)
    exporter.register_preprocessor(PlotlyToHTML(), enabled=True)
    return exporter


def export_html(notebook: Path, page: Path, *, title: str, masker: Masker | None = None) -> Path:
    """Write the HTML page of an executed notebook (masked when a masker is given)."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    body, _ = html_exporter().from_notebook_node(nb)
    if masker is not None:
        body = masker.text(body)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    return page
