"""Executed notebook -> one HTML page: code hidden, plotly interactive offline, nothing fetched from the network.

Notebooks keep plotly's default renderer (a small, diff-able JSON output); at export time `PlotlyToHTML` gives
each plotly output an HTML twin (reference/stack-notes.md §2). plotly.js (4.6 MB) and JupyterLab's stylesheet
(0.24 MB) are written once per report folder, `assets/plotly-<version>.min.js` and `assets/jupyterlab-<nbconvert
version>.css`, and every page loads them by relative path: the folder opens from disk or from an unzipped
attachment, offline, and a page weighs its own content only. The template `mdcnb_offline` is
JupyterLab's without the require.js, MathJax, mermaid and widget-manager scripts it would load from CDNs; widget
outputs are dropped (a static page cannot run them).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import nbconvert
import nbformat
import plotly
import plotly.io as pio
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
from plotly.offline import get_plotlyjs

from mdcnb.core.package_data import package_dir
from mdcnb.tables.mask import Masker

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TEMPLATES = package_dir(__package__) / "templates"
# Cells left out of the page: the parameters, and anything a notebook marks as interactive-only.
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "report-hide"})
# Where a page finds plotly.js, relative to the page (the version in the name: a newer plotly never reuses it).
PLOTLY_JS = f"assets/plotly-{plotly.__version__}.min.js"
LAB_CSS = f"assets/jupyterlab-{nbconvert.__version__}.css"  # the lab template's static/index.css


class PlotlyToHTML(Preprocessor):
    """Give each plotly output an offline `text/html` twin; the page template loads `PLOTLY_JS` when one exists."""

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if PLOTLY_MIME in data and "text/html" not in data:
                    data["text/html"] = pio.to_html(data[PLOTLY_MIME], full_html=False, include_plotlyjs=False,
                                                    validate=False, config={"displaylogo": False})
                    resources["mdcnb_plotly_js"] = PLOTLY_JS
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


def write_asset(folder: Path, name: str, text) -> Path:
    """`folder/name`, written once from `text()` (atomically: the report's threads may export pages at once, so
    each writes its own partial file)."""
    target = Path(folder) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text(text(), encoding="utf-8")
        os.replace(partial, target)
    return target


def lab_css(exporter: HTMLExporter) -> str:
    """JupyterLab's stylesheet as the lab template would inline it in every page."""
    for folder in exporter.template_paths:
        path = Path(folder) / "static" / "index.css"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("the nbconvert lab template's static/index.css")


def export_html(notebook: Path, page: Path, *, title: str, masker: Masker | None = None) -> Path:
    """Write the HTML page of an executed notebook (masked when a masker is given), and the assets it loads: the
    stylesheet, and plotly.js if the page has a chart."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    exporter = html_exporter()
    body, resources = exporter.from_notebook_node(nb, resources={"mdcnb_lab_css": LAB_CSS})
    if masker is not None:
        body = masker.text(body)
    page.parent.mkdir(parents=True, exist_ok=True)
    write_asset(page.parent, LAB_CSS, lambda: lab_css(exporter))
    if resources.get("mdcnb_plotly_js"):
        write_asset(page.parent, PLOTLY_JS, get_plotlyjs)
    page.write_text(body, encoding="utf-8")
    return page


def notebook_title(notebook: Path) -> str:
    """The notebook's first Markdown heading, else its file name."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, json.JSONDecodeError):
        return notebook.stem
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return notebook.stem
