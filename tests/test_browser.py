"""The weekly report of the sample tenant in headless Chromium with the network cut off.

Every page is opened from disk: no console error, every plotly chart drawn with data, every local link resolves,
the resource named `<img src=x onerror=alert(1)>` shows as text and fires nothing. A full-page screenshot of each
page is left in `reports/browser-test/<week>/screenshots/` for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from mdcnb.report.runner import ReportOptions, run_report

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("MDCNB_CHROMIUM", "/usr/bin/chromium"))
REPORT_ROOT = Path(__file__).resolve().parents[1] / "reports" / "browser-test"
XSS_NAME = "<img src=x onerror=alert(1)>"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _require_chromium() -> None:
    if CHROMIUM.exists() and shutil.which(str(CHROMIUM)):
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does it)"
    if os.environ.get("MDCNB_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and MDCNB_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report():
    _require_chromium()
    result = run_report(ReportOptions(out=REPORT_ROOT), log=lambda *a, **k: None)
    assert result.ok, [n.failure() for n in result.notebooks if not n.ok]
    return result


@dataclass
class Visit:
    """What one page did when opened offline."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    xss_as_text: int = 0
    xss_images: int = 0


CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
    svg: d.querySelectorAll('.main-svg').length,
    traces: (d.data || []).length,
    points: (d.calcdata || []).reduce((n, trace) => n + trace.length, 0)}))"""  # calcdata: what plotly drew


def visit(browser, path: Path, screenshot: Path) -> Visit:
    seen = Visit()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))

    def only_files(route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            seen.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    seen.charts = page.evaluate(CHARTS_JS)
    seen.links = [h for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                  if h.startswith("file://")]
    seen.xss_as_text = page.get_by_text(XSS_NAME, exact=True).count()
    seen.xss_images = page.locator('img[src="x"]').count()
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return seen


@pytest.fixture(scope="module")
def visits(report) -> dict[str, Visit]:
    """index.html and every page, each opened once; screenshots in <week>/screenshots/."""
    from playwright.sync_api import sync_playwright

    shots = report.week_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    paths = [report.index, *sorted(p for p in report.week_dir.glob("*.html") if p.name != "index.html")]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            return {p.name: visit(chromium, p, shots / f"{p.stem}.png") for p in paths}
        finally:
            chromium.close()


def test_every_page_opens_offline_without_errors(report, visits):
    assert {"index.html", "10_secure_score.html", "20_compliance.html"} <= set(visits)
    for name, seen in visits.items():
        assert (seen.errors, seen.blocked, seen.dialogs) == ([], [], []), name
    shots = sorted(p.name for p in (report.week_dir / "screenshots").glob("*.png"))
    assert shots == sorted(f"{Path(n).stem}.png" for n in visits)


def test_every_chart_is_drawn_with_data(visits):
    for name, seen in visits.items():
        if name == "index.html":
            continue
        assert seen.charts, f"{name}: no chart"
        for number, chart in enumerate(seen.charts, start=1):
            assert chart["svg"] >= 1 and chart["traces"] >= 1 and chart["points"] >= 1, (name, number, chart)


def test_every_local_link_resolves(visits):
    for name, seen in visits.items():
        for href in seen.links:
            assert Path(unquote(urlparse(href).path)).is_file(), (name, href)
    assert len(visits["index.html"].links) >= len(visits) - 1  # the index links every page


def test_cloud_names_render_as_text(visits):
    assert visits["10_secure_score.html"].xss_as_text >= 1
    for name, seen in visits.items():
        assert seen.xss_images == 0 and seen.dialogs == [], name
