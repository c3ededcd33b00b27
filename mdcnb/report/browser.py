"""Open a report folder in headless Chromium at a laptop's 1366 x 768, offline, and measure what a reader sees.

Each page is opened from disk with every non-file request aborted. A `Visit` records console errors, blocked
requests, dialogs, the charts plotly drew, local links, the elements wider than the page and the chart labels that
fall outside their chart. `tests/test_browser.py` asserts on them; `make screenshots` (this module's `main`) runs
the sample report and leaves a full-page screenshot of the index and of every page in `docs/screenshots/`.
Needs Debian's chromium (`/usr/bin/chromium`, or `MDCNB_CHROMIUM`) and playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("MDCNB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}
XSS_NAME = "<img src=x onerror=alert(1)>"

# Every chart: how many SVG layers, traces and drawn points; every chart text outside its chart's box or cut by the
# clip path around it (a bar label beyond the plot area of a trace that clips on its axes).
CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => {
    const inside = (r, box) => r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1
                               && r.bottom <= box.bottom + 1;
    const clip = t => {
        const holder = t.closest('[clip-path]');
        const id = holder ? (holder.getAttribute('clip-path').match(/#([^)'"]+)/) || [])[1] : null;
        const shape = id ? d.querySelector('[id="' + id + '"] rect') : null;
        if (!shape) return null;  // a clip rect is not rendered: map its box from the holder's space to the screen
        const a = ['x', 'y', 'width', 'height'].map(k => parseFloat(shape.getAttribute(k)) || 0);
        const m = holder.getScreenCTM();
        const p = new DOMPoint(a[0], a[1]).matrixTransform(m);
        const q = new DOMPoint(a[0] + a[2], a[1] + a[3]).matrixTransform(m);
        return {left: Math.min(p.x, q.x), right: Math.max(p.x, q.x),
                top: Math.min(p.y, q.y), bottom: Math.max(p.y, q.y)};
    };
    const outside = Array.from(d.querySelectorAll('svg text')).filter(t => {
        if (!t.textContent.trim()) return false;
        const r = t.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) return false;
        const cut = clip(t);
        return !inside(r, d.getBoundingClientRect()) || (cut !== null && !inside(r, cut));
    }).map(t => t.textContent.slice(0, 80));
    return {svg: d.querySelectorAll('.main-svg').length, traces: (d.data || []).length,
            points: (d.calcdata || []).reduce((n, trace) => n + trace.length, 0), outside: outside};
})"""
# The page wider than the window, and every table or chart wider than the page or than the box it sits in.
WIDTH_JS = """() => {
    const page = document.documentElement.clientWidth;
    const wide = Array.from(document.querySelectorAll('table, .js-plotly-plot')).filter(e => {
        const r = e.getBoundingClientRect();
        const box = e.parentElement ? e.parentElement.clientWidth : page;
        return r.right > page + 1 || r.left < -1 || e.offsetWidth > box + 1;
    }).map(e => e.tagName + '.' + e.className + ' ' + e.offsetWidth + 'px');
    return {page: page, document: document.documentElement.scrollWidth, body: document.body.scrollWidth, wide: wide};
}"""


@dataclass
class Visit:
    """What one page did when opened offline at 1366 x 768."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    width: dict[str, Any] = field(default_factory=dict)
    xss_as_text: int = 0
    xss_images: int = 0

    @property
    def overflows(self) -> bool:
        return max(self.width["document"], self.width["body"]) > self.width["page"] or bool(self.width["wide"])

    @property
    def labels_outside(self) -> list[str]:
        return [label for chart in self.charts for label in chart["outside"]]


def visit(browser: Any, path: Path, screenshot: Path | None = None) -> Visit:
    """Open `path` in a new 1366 x 768 page, offline, and measure it (and screenshot it, full page)."""
    seen = Visit()
    page = browser.new_page(viewport=VIEWPORT)
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
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    seen.charts = page.evaluate(CHARTS_JS)
    seen.width = page.evaluate(WIDTH_JS)
    seen.links = [h for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                  if h.startswith("file://")]
    seen.xss_as_text = page.get_by_text(XSS_NAME, exact=True).count()
    seen.xss_images = page.locator('img[src="x"]').count()
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return seen


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def report_pages(week_dir: Path) -> list[Path]:
    """index.html first, then every page in file-name order."""
    return [week_dir / "index.html", *sorted(p for p in week_dir.glob("*.html") if p.name != "index.html")]


def visit_report(week_dir: Path, screenshots: Path | None = None) -> dict[str, Visit]:
    """Every page of a report folder, each opened once; a screenshot of each in `screenshots` (`<page>.png`)."""
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        return {p.name: visit(browser, p, screenshots / f"{p.stem}.png" if screenshots else None)
                for p in report_pages(week_dir)}


def main(argv: list[str] | None = None) -> int:
    """`make screenshots`: the sample's report, then a screenshot of each page in `docs/screenshots/`."""
    from mdcnb.report.runner import ReportOptions, run_report

    parser = argparse.ArgumentParser(prog="python -m mdcnb.report.browser", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="folder of the PNG files")
    parser.add_argument("--report", type=Path, default=Path("reports/screenshots"), help="where the report goes")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set MDCNB_CHROMIUM)", file=sys.stderr)
        return 2
    result = run_report(ReportOptions(out=args.report), log=lambda *a, **k: None)
    if not result.ok:
        print("\n".join(n.failure() for n in result.notebooks if not n.ok), file=sys.stderr)
        return 1
    for name, seen in visit_report(result.week_dir, args.out).items():
        problems = seen.errors + [f"wider than the page: {w}" for w in seen.width["wide"]] + seen.labels_outside
        print(f"{args.out / Path(name).with_suffix('.png').name}" + (f"  ({'; '.join(problems)})" if problems else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
