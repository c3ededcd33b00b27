"""The weekly report of the sample tenant in headless Chromium at 1366 x 768 with the network cut off.

Every page is opened from disk (`mdcnb.report.browser`): no console error, every plotly chart drawn with data and
as many charts as the notebook shows, nothing wider than the page, no chart label outside its chart, every local
link resolves, the resource named `<img src=x onerror=alert(1)>` shows as text and fires nothing, and the pages and
the week folder stay light enough to send. A full-page screenshot of each page is left in
`reports/browser-test/<week>/screenshots/` for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from mdcnb.report.browser import CHROMIUM, visit_report

pytestmark = pytest.mark.browser

SCREENSHOTS = "screenshots"
# Charts per page, counted by hand from the notebooks' `page.figure` cells.
CHARTS = {"00_summary.html": 4, "10_secure_score.html": 6, "20_compliance.html": 2, "30_coverage.html": 6,
          "40_cloudtrail.html": 7, "50_cost.html": 4, "60_governance.html": 3}
PAGE_MAX_BYTES = 1_500_000
WEEK_MAX_BYTES = 10_000_000


def _require_chromium() -> None:
    if CHROMIUM.exists() and shutil.which(str(CHROMIUM)):
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does it)"
    if os.environ.get("MDCNB_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and MDCNB_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report(request):
    _require_chromium()  # before the report is built: without Chromium nothing here runs
    return request.getfixturevalue("sample_report")


@pytest.fixture(scope="module")
def week_bytes(report) -> dict[str, int]:
    """Size of every file the report wrote (before the screenshots join them), by path in the week folder."""
    return {p.relative_to(report.week_dir).as_posix(): p.stat().st_size
            for p in report.week_dir.rglob("*") if p.is_file() and SCREENSHOTS not in p.parts}


@pytest.fixture(scope="module")
def visits(report, week_bytes):
    """index.html and every page, each opened once; screenshots in <week>/screenshots/."""
    return visit_report(report.week_dir, report.week_dir / SCREENSHOTS)


def test_every_page_opens_offline_without_errors(report, visits):
    assert set(visits) == {"index.html", *CHARTS}
    for name, seen in visits.items():
        assert (seen.errors, seen.blocked, seen.dialogs) == ([], [], []), name
    shots = sorted(p.name for p in (report.week_dir / SCREENSHOTS).glob("*.png"))
    assert shots == sorted(f"{Path(n).stem}.png" for n in visits)


def test_every_chart_is_drawn_with_data(visits):
    for name, count in CHARTS.items():
        charts = visits[name].charts
        assert len(charts) == count, name
        for number, chart in enumerate(charts, start=1):
            assert chart["svg"] >= 1 and chart["traces"] >= 1 and chart["points"] >= 1, (name, number, chart)


def test_nothing_is_wider_than_a_laptop_screen(visits):
    for name, seen in visits.items():
        assert seen.width["page"] == 1366 and not seen.overflows, (name, seen.width)


def test_no_chart_label_falls_outside_its_chart(visits):
    for name, seen in visits.items():
        assert seen.labels_outside == [], name


def test_pages_load_plotly_and_styles_from_the_week_folder_and_stay_light(report, week_bytes):
    scripts = [p for p in week_bytes if p.startswith("assets/plotly-")]
    styles = [p for p in week_bytes if p.startswith("assets/jupyterlab-")]
    assert len(scripts) == 1 and week_bytes[scripts[0]] > 3_000_000  # plotly.js, once
    assert len(styles) == 1 and week_bytes[styles[0]] > 100_000  # JupyterLab's stylesheet, once
    for name in CHARTS:
        page = (report.week_dir / name).read_text(encoding="utf-8")
        assert page.count(f'<script src="{scripts[0]}"></script>') == 1, name
        assert page.count(f'<link href="{styles[0]}" rel="stylesheet"/>') == 1, name
        assert week_bytes[name] <= PAGE_MAX_BYTES, (name, week_bytes[name])
    assert sum(week_bytes.values()) <= WEEK_MAX_BYTES, sum(week_bytes.values())


def test_every_local_link_resolves(visits):
    for name, seen in visits.items():
        for href in seen.links:
            assert Path(unquote(urlparse(href).path)).is_file(), (name, href)
    assert len(visits["index.html"].links) >= len(visits) - 1  # the index links every page


def test_cloud_names_render_as_text(visits):
    assert visits["10_secure_score.html"].xss_as_text >= 1
    for name, seen in visits.items():
        assert seen.xss_images == 0 and seen.dialogs == [], name


def test_paste_ready_filters_are_monospace_and_copy(report):
    """The SIEM filters of the CloudTrail page: set in a monospace font; Copy puts the filter on the clipboard."""
    from mdcnb.report.browser import VIEWPORT, chromium

    errors: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((report.week_dir / "40_cloudtrail.html").as_uri(), wait_until="load")
        snippets = page.locator(".mdcnb-snippet")
        assert snippets.count() >= 3  # Sentinel, Splunk, SQL
        code = snippets.nth(1).locator("pre.mdcnb-code")
        assert "monospace" in code.evaluate("e => getComputedStyle(e).fontFamily")
        button = snippets.nth(1).locator("button.mdcnb-copy")
        button.click()
        page.wait_for_function("b => b.textContent !== 'Copy'", arg=button.element_handle())
        assert button.text_content() == "Copied"
        assert page.evaluate("navigator.clipboard.readText()") == code.text_content()
        context.close()
    assert errors == []
