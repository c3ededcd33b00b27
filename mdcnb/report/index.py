"""index.html of a report directory: headline numbers, links to every page and table, what could not be read.

Built from the executed notebooks (the headlines and unreadable records their pages recorded in their outputs), the
CSV files beside them and the dataset's manifest (its pull log), so it also lists pages of notebooks run earlier
for the same week. Every value is escaped by Jinja's autoescape: names come from the cloud.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from mdcnb import __version__
from mdcnb.core.package_data import read_json
from mdcnb.measures.registry import formatted
from mdcnb.report import page as page_files
from mdcnb.report.export import TEMPLATES
from mdcnb.tables.mask import Masker

ACTIONS: list[dict[str, str]] = read_json(__package__, "actions.json")["actions"]
SKIP_COLUMNS = ["notebook", "source", "location", "record_type", "reason"]
MAX_SKIPS_SHOWN = 200
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


def recorded(executed: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The headlines and the unreadable records a page recorded in the outputs of its executed notebook."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, json.JSONDecodeError):
        return [], []
    headlines, skips = [], []
    for cell in cells:
        for output in cell.get("outputs", []):
            if page_files.HEADLINE_KEY in output.get("metadata", {}):
                headlines.append(output["metadata"][page_files.HEADLINE_KEY])
            skips += output.get("data", {}).get(page_files.SKIPS_MIME, [])
    return headlines, skips


def page_title(page: Path) -> str:
    match = _TITLE.search(page.read_text(encoding="utf-8", errors="replace")[:20000])
    return html.unescape(match.group(1)).strip() if match else page.stem


def collect_skips(week_dir: Path) -> pd.DataFrame:
    """Every record a notebook reported as unreadable, once each (several notebooks read the same dataset)."""
    rows = []
    for path in sorted((week_dir / "notebooks").glob("*.ipynb")):
        rows += [{"notebook": path.stem, **row} for row in recorded(path)[1]]
    frame = pd.DataFrame(rows, columns=SKIP_COLUMNS)
    first = frame.drop_duplicates(subset=SKIP_COLUMNS[1:])
    return first.reset_index(drop=True)


def _pages(week_dir: Path, results: Sequence[Any]) -> list[dict[str, Any]]:
    by_name = {r.name: r for r in results}
    names = sorted({p.stem for p in week_dir.glob("*.html") if p.name != "index.html"} | set(by_name))
    pages = []
    for name in names:
        html_path = week_dir / f"{name}.html"
        result = by_name.get(name)
        pages.append({
            "name": name,
            "href": html_path.name if html_path.exists() else None,
            "title": page_title(html_path) if html_path.exists() else name,
            "status": "earlier run" if result is None else ("ok" if result.ok else "failed"),
            "error": None if result is None or result.ok else result.failure(),
            "seconds": None if result is None else result.seconds,
            "headlines": recorded(week_dir / "notebooks" / f"{name}.ipynb")[0],
            "csv": [p.relative_to(week_dir).as_posix()
                    for p in page_files.csv_files(week_dir / page_files.CSV_DIR / name)],
        })
    return pages


def actions(pages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What to do this week (`actions.json`): each action whose measure a page recorded with a figure calling for
    work (not zero, not none), with that figure and a link to the page."""
    recorded = {}
    for page in pages:
        for h in page["headlines"]:
            recorded.setdefault(h["measure"], (h, page))
    found = []
    for action in ACTIONS:
        headline, page = recorded.get(action["measure"], (None, None))
        if headline is None or headline["value"] in (None, 0, 0.0, "none"):
            continue
        found.append({"text": action["text"].format(figure=headline["text"]), "href": page["href"],
                      "page": page["title"]})
    return found


def scope_text(manifest: dict[str, Any]) -> str:
    """The scope a reader can take in: tenant, management group, subscriptions and connectors counted."""
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    parts = [f"tenant {scope['tenant_id']}" if scope.get("tenant_id") else "",
             f"management group {scope['management_group']}" if scope.get("management_group") else "",
             f"{formatted(counts['subscriptions'], 'count')} subscriptions"
             if isinstance(counts.get("subscriptions"), int) else "",
             f"{formatted(counts['securityconnectors'], 'count')} AWS/GCP connectors"
             if isinstance(counts.get("securityconnectors"), int) else ""]
    return " · ".join(p for p in parts if p) or "scope not recorded"


def write_index(week_dir: Path, *, dataset: Path, manifest: dict[str, Any], results: Sequence[Any],
                masker: Masker | None = None) -> Path:
    """Write index.html, skips.csv and report.json into `week_dir`; return the index path."""
    mask = masker.text if masker else (lambda text: text)
    pages = _pages(week_dir, results)
    skips = collect_skips(week_dir)
    (week_dir / "skips.csv").write_bytes(mask(page_files.csv_text(skips)).encode("utf-8"))
    pull_log = [row for row in manifest.get("pull_log", []) if isinstance(row, dict)]
    context = {
        "week": week_dir.name,
        "dataset": str(dataset),
        "manifest": {k: manifest.get(k) for k in ("source", "as_of", "created", "tool_version")},
        "scope_text": scope_text(manifest),
        "actions": actions(pages),
        "counts": manifest.get("counts", {}),
        "pages": pages,
        "pull_log": pull_log,
        "pull_log_columns": sorted({k for row in pull_log for k in row}),
        "skips": skips.head(MAX_SKIPS_SHOWN).fillna("").to_dict("records"),
        "skip_count": len(skips),
        "version": __version__,
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    index = week_dir / "index.html"
    index.write_text(mask(env.get_template("index.html.j2").render(**context)), encoding="utf-8")
    summary = {k: context[k] for k in ("week", "manifest", "pages", "skip_count")}
    (week_dir / "report.json").write_text(mask(json.dumps(summary, indent=1, default=str)) + "\n", encoding="utf-8")
    return index
