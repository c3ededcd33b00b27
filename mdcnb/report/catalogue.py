"""The table of every measure for docs/architecture.md: where it is defined and where it is shown.

`python -m mdcnb.report.catalogue` rewrites the table between the markers in docs/architecture.md;
tests/test_architecture_doc.py fails when the committed table is not what this writes.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

from mdcnb.measures import registry
from mdcnb.measures.history import CLOUDTRAIL_WEEKS, WEEK_ON_WEEK
from mdcnb.report import NOTEBOOKS_DIR

START, END = "<!-- measures: start (python -m mdcnb.report.catalogue) -->", "<!-- measures: end -->"
PANELS = ("score", "compliance", "history", "coverage", "cloudtrail", "governance")  # widgets modules with HEADLINES
COMMANDS = {"score": "score", "compliance": "compliance", "cloudtrail": "cloudtrail volume", "cost": "cost",
            "governance": "governance", "exemptions": "exemptions", "risk": "risk"}
SUMMARY_TRENDS = ("score.overall", "score.by_scope", "compliance.by_standard", *CLOUDTRAIL_WEEKS.values())
_USE = re.compile(r"""page\.(measure|value)\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""")


def notebook_uses() -> dict[str, list[str]]:
    """Measure id -> the notebooks that show it (as a headline, or as the data of a chart or table)."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(NOTEBOOKS_DIR).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for kind, id in _USE.findall("\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")):
            label = f"{path.stem} ({'headline' if kind == 'measure' else 'chart/table + CSV'})"
            if label not in found.setdefault(id, []):
                found[id].append(label)
    return found


def panel_uses() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in PANELS:
        for id in importlib.import_module(f"mdcnb.widgets.{name}").HEADLINES:
            found.setdefault(id, []).append(f"{name} panel")
    return found


def table() -> str:
    """The Markdown table: one row per measure."""
    pages, panels = notebook_uses(), panel_uses()
    rows = ["| measure | label | unit | filters honoured | defined in | shown on |", "|---|---|---|---|---|---|"]
    for m in sorted(registry.measures().values(), key=lambda m: m.id):  # whatever order they were imported in
        module = inspect.getmodule(m.compute).__name__.replace("mdcnb.", "")
        shown = [*pages.get(m.id, []), *panels.get(m.id, [])]
        if m.feature in COMMANDS and not m.table:
            shown.append(f"`mdcnb {COMMANDS[m.feature]} --json`")
        if m.id in WEEK_ON_WEEK:
            shown.append("00_summary (this week and last week)")
        if m.id in SUMMARY_TRENDS:
            shown.append("00_summary trend")
        filters = ", ".join(sorted(m.filters)) or "none"
        rows.append(f"| `{m.id}` | {m.label} | {m.unit or 'text'} | {filters} | `{module}` | "
                    f"{'; '.join(shown) or 'not shown'} |")
    return "\n".join(rows)


def rewrite(doc: Path) -> bool:
    """Put the current table between the markers of `doc`; True when it changed."""
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{table()}\n{END}{tail}"
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/architecture.md")
    print(f"{target}: {'rewritten' if rewrite(target) else 'unchanged'}")
