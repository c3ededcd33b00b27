"""Small notebooks and datasets for testing the report machinery without the real notebooks.

The names and ids here are the facts the tests check against: an attacker-controlled resource name, one
subscription and tenant id listed in the dataset, and one AWS account id that appears only inside an ARN.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

XSS_NAME = "<img src=x onerror=alert(1)>"
SCRIPT_NAME = "</script><script>alert(2)</script>"
SUBSCRIPTION = "291bba3f-e0a5-47bc-a099-3bdcb2a50a05"
TENANT = "31c75423-32d6-4322-88b7-c478bdde4858"
ACCOUNT = "123456789012"
ASSESSMENT_KEY = "4fb67663-9ab9-475d-b026-8c544cced439"  # a GUID that is not an id to mask
AS_OF = "2026-11-20T06:00:00Z"  # Friday of ISO week 2026-W47
WEEK = "2026-W47"

PARAMETERS = """dataset = None
since = None
until = None
environments = []
subscriptions = []
accounts = []
mask_ids = False
report_dir = None
snapshot = None"""

SETUP = """import pandas as pd
import plotly.express as px
from mdcnb.report.page import Page
page = Page({name!r}, report_dir=report_dir, mask_ids=mask_ids, dataset=dataset, snapshot=snapshot)"""

DATA = f"""df = pd.DataFrame({{
    "name": [{XSS_NAME!r}, {SCRIPT_NAME!r}, "vm-3"],
    "scope": ["/subscriptions/{SUBSCRIPTION}", "arn:aws:iam::{ACCOUNT}:role/CspmMonitorAws", "{TENANT}"],
    "key": ["{ASSESSMENT_KEY}"] * 3,
    "score": [1.5, 2.25, 4.25],
}})"""


def write_notebook(directory: Path, name: str, *, fail: bool = False, title: str = "Test page") -> Path:
    """A notebook using the page helpers: a headline (the number of subscriptions: `write_dataset` lists one), a chart
    with its data, a table; `fail` raises in cell 6."""
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\nWhat the reader sees."),
             nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(SETUP.format(name=name)),
             nbformat.v4.new_code_cell(DATA),
             nbformat.v4.new_code_cell("page.measure('coverage.subscriptions')"),
             nbformat.v4.new_code_cell("page.figure(px.bar(df, x='name', y='score', hover_data=['scope']), "
                                       "'scores', data=df)"),
             nbformat.v4.new_code_cell("page.table(df, 'score_table', title='Scores by name')")]
    if fail:
        cells.insert(5, nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(directory) / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_dataset(directory: Path) -> Path:
    """A dataset holding only what the report machinery reads itself: manifest (as-of, pull log) and ids."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"created": AS_OF, "source": "sample", "scope": {"subscriptions": [SUBSCRIPTION]},
                "tool_version": "0.1.0",
                "pull_log": [{"request": f"GET /subscriptions/{SUBSCRIPTION}/providers/Microsoft.Security/pricings",
                              "status": 403, "note": XSS_NAME}]}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "subscriptions.jsonl").write_text(
        json.dumps({"id": f"/subscriptions/{SUBSCRIPTION}", "subscriptionId": SUBSCRIPTION, "tenantId": TENANT,
                    "displayName": "Production"}) + "\n")
    return directory
