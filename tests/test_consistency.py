"""One number, one definition: every registered measure reads the same on every surface that shows it.

Real `mdcnb report` runs (papermill kernels, the one-way pipeline) on the sample tenant and on a second generated
tenant, unfiltered and filtered; for each, every headline the pages recorded, the index, the CSV behind the charts
that show a measure, the trend point of the report's week, `--json` of the commands and the widget panels' headline
views must equal the registry's value computed here from the same dataset and filters, to the displayed rounding.
Severity and standard, which the report's command line does not take, are checked through the page helper, the
command line and the panels.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mdcnb import snapshot, widgets
from mdcnb.cli import main
from mdcnb.measures import registry
from mdcnb.measures.history import trend
from mdcnb.measures.registry import Filters
from mdcnb.report import NOTEBOOKS_DIR
from mdcnb.report.index import recorded
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import load_tables

pytestmark = pytest.mark.slow
WEEK = "2026-W48"


@dataclass
class Run:
    """One report run: its dataset, filters, week folder, and the snapshot the registry values come from."""

    name: str
    dataset: Path
    filters: Filters
    week: Path
    store: Path
    snap: snapshot.Snapshot

    def reference(self, id: str, filters: Filters | None = None) -> Any:
        return registry.rounded(id, registry.value(id, self.snap, filters or self.filters))

    def csv(self, notebook: str, name: str) -> pd.DataFrame:
        return pd.read_csv(self.week / "csv" / notebook / f"{name}.csv")


def _same(id: str, shown: Any, expected: Any) -> bool:
    shown = registry.rounded(id, shown)
    if isinstance(expected, float) and math.isnan(expected):
        return shown is None or (isinstance(shown, float) and math.isnan(shown))
    if isinstance(expected, float) and shown is not None:
        return math.isclose(float(shown), expected, abs_tol=1e-9)
    return shown == expected


def _cli(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(list(args)) == 0
    return json.loads(out.getvalue())


def _options(flag: str, values: tuple[str, ...] | list[str]) -> list[str]:
    return [part for value in values for part in (flag, value)]


def _report(name: str, dataset: Path, root: Path, **filters: list[str]) -> Run:
    store, out = root / f"{name}.duckdb", root / name
    options = [*_options("--environment", filters.get("environments", [])),
               *_options("--subscription", filters.get("subscriptions", [])),
               *_options("--account", filters.get("accounts", []))]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["report", "--dataset", str(dataset), "--out", str(out), "--history", str(store), *options])
    assert code == 0, err.getvalue()
    snap = snapshot.build(dataset, history=store)
    week = next(out.iterdir())
    return Run(name, dataset, Filters.of(**filters), week, store, snap)


@pytest.fixture(scope="module")
def second_tenant(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tenant2") / "dataset"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sample", "--out", str(out), "--seed", "7", "--scale", "20", "--weeks", "3"]) == 0
    return out


def _an_aws_account(dataset: Path) -> str:
    connectors = load_tables(dataset).connectors
    return sorted(connectors.loc[connectors["environment"] == "AWS", "hierarchy_id"].dropna())[0]


def _a_subscription(dataset: Path) -> str:
    return sorted(load_tables(dataset).subscriptions["subscription_id"])[0]


@pytest.fixture(scope="module", params=["sample", "sample-aws", "sample-subscription-account", "tenant2"])
def run(request, tmp_path_factory, second_tenant) -> Run:
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "sample":
        return _report("sample", SAMPLE_DATASET, root)
    if request.param == "sample-aws":
        return _report("sample-aws", SAMPLE_DATASET, root, environments=["AWS"])
    if request.param == "sample-subscription-account":
        return _report("sample-sa", SAMPLE_DATASET, root, subscriptions=[_a_subscription(SAMPLE_DATASET)],
                       accounts=[_an_aws_account(SAMPLE_DATASET)])
    return _report("tenant2", second_tenant, root)


def _headlines(run: Run) -> list[dict]:
    found = []
    for path in sorted((run.week / "notebooks").glob("*.ipynb")):
        found += recorded(path)[0]
    return found


def test_every_headline_is_the_registry_value(run: Run):
    headlines = _headlines(run)
    assert {h["notebook"] for h in headlines} == {p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")}  # every page
    for h in headlines:
        filters = Filters.of(**h["filters"])
        page_filters = run.filters.only(registry.measure(h["measure"]).filters)
        assert filters.but(standards=()) == page_filters.but(standards=()), h  # a per-standard headline adds one
        expected = run.reference(h["measure"], filters)
        assert _same(h["measure"], h["value"], expected), (h, expected)
        assert h["text"] == registry.text(h["measure"], registry.value(h["measure"], run.snap, filters),
                                          currency=run.snap.prices.currency)


def test_the_index_shows_each_headline_as_its_page_does(run: Run):
    index = (run.week / "index.html").read_text(encoding="utf-8")
    summary = json.loads((run.week / "report.json").read_text(encoding="utf-8"))
    shown = {(h["notebook"], h["label"], h["text"]) for p in summary["pages"] for h in p["headlines"]}
    assert shown == {(h["notebook"], h["label"], h["text"]) for h in _headlines(run)}
    for _, label, text in shown:
        assert f"<b>{text}</b>" in index, (label, text)


def test_the_same_measure_reads_the_same_on_every_page(run: Run):
    by_measure: dict[tuple[str, str], set] = {}
    for h in _headlines(run):
        by_measure.setdefault((h["measure"], json.dumps(h["filters"], sort_keys=True)), set()).add(h["text"])
    assert all(len(texts) == 1 for texts in by_measure.values()), by_measure
    assert ("score.overall", json.dumps(run.filters.only(registry.measure("score.overall").filters).as_dict(),
                                        sort_keys=True)) in by_measure  # on the summary and the score page alike


def test_chart_data_and_trend_points_agree_with_the_measures(run: Run):
    r = run.reference
    overall = run.csv("00_summary", "score_trend")
    this_week = overall[(overall["scope_id"] == "overall") & (overall["week"] == run.week.name)]
    assert _same("score.overall", this_week["percentage"].item(), r("score.overall"))
    points = trend("score.overall", run.snap, run.filters)
    assert _same("score.overall", points["value"].iloc[-1], r("score.overall"))
    by_scope = run.csv("10_secure_score", "score_by_scope").set_index("scope_id")["percentage"]
    expected = r("score.by_scope").set_index("scope_id")["percentage"]
    assert by_scope.round(2).to_dict() == expected.round(2).to_dict()
    controls = run.csv("10_secure_score", "controls_ranked").set_index("control_name")["potential_increase"]
    assert controls.round(2).to_dict() == r("score.controls").set_index("control_name")["potential_increase"] \
        .round(2).to_dict()
    week_on_week = run.csv("00_summary", "headline").set_index("measure")
    assert _same("score.overall", week_on_week.loc["score.overall", "value"], r("score.overall"))
    assert _same("history.score_change", week_on_week.loc["score.overall", "change"], r("history.score_change"))
    standards = run.csv("20_compliance", "standards").set_index("standard")
    expected = r("compliance.by_standard").set_index("standard")
    assert standards["passed_controls"].to_dict() == expected["passed_controls"].astype(int).to_dict()
    assert standards["failed_controls"].sum() == r("compliance.failed")
    daily = run.csv("40_cloudtrail", "daily_by_actor")
    assert daily.loc[daily["actor"] == "cspm", "read_only_events"].sum() == r("cloudtrail.cspm_read_events")
    share = run.csv("40_cloudtrail", "read_share_table")
    assert share["cspm_read_events"].sum() == r("cloudtrail.cspm_read_events")
    assert share["cspm_sign_ins"].sum() == r("cloudtrail.cspm_sign_ins")
    if not run.filters.accounts:  # the summary's CloudTrail trend covers every account (its title says so)
        weekly = run.csv("00_summary", "cloudtrail_trend").set_index("week")  # the report week's own days only
        in_week = pd.to_datetime(daily["date"]).dt.isocalendar().week == int(run.week.name[-2:])
        assert weekly.loc[run.week.name, "cspm_read_events"] == \
            daily.loc[in_week & (daily["actor"] == "cspm"), "read_only_events"].sum()
    scenarios = run.csv("50_cost", "scenarios").set_index("scenario")
    assert _same("cost.plans_monthly", scenarios.loc["as configured", "monthly_total"], r("cost.plans_monthly"))
    assert _same("cost.enable_all_delta", scenarios.loc["enable all", "difference"], r("cost.enable_all_delta"))
    assert len(run.csv("30_coverage", "plans_off_with_resources")) == r("coverage.plans_off_with_resources")
    matrix = run.csv("30_coverage", "readiness_matrix")
    assert (matrix["status"] == "fail").sum() == r("readiness.failures")


def test_command_line_json_agrees_with_the_measures(run: Run):
    dataset, f = str(run.dataset), run.filters
    score = _cli("score", "--dataset", dataset, "--json", *_options("--environment", f.environments),
                 *_options("--subscription", f.subscriptions))
    for id, shown in score["measures"].items():
        assert _same(id, shown, run.reference(id, Filters(environments=f.environments,
                                                           subscriptions=f.subscriptions))), id
    assert _same("score.overall", score["overall"]["percentage"], run.reference(
        "score.overall", Filters(environments=f.environments, subscriptions=f.subscriptions)))
    compliance = _cli("compliance", "--dataset", dataset, "--json", *_options("--subscription", f.subscriptions))
    for id, shown in compliance["measures"].items():
        assert _same(id, shown, run.reference(id, Filters(subscriptions=f.subscriptions))), id
    logs = run.dataset / "cloudtrail"
    volume = _cli("cloudtrail", "volume", "--logs", str(logs), "--dataset", dataset, "--json")
    for id, shown in volume["measures"].items():
        assert _same(id, shown, run.reference(id, Filters())), id
    assert volume["cspm_read_events"] == run.reference("cloudtrail.cspm_read_events", Filters())
    assert volume["assume_role_events"] == run.reference("cloudtrail.cspm_sign_ins", Filters())
    scoped = [*_options("--environment", f.environments), *_options("--subscription", f.subscriptions)]
    governance_filters = Filters(environments=f.environments, subscriptions=f.subscriptions)
    shown = {**{f"governance.{k}": v for k, v in _cli("governance", "--dataset", dataset, "--json", *scoped).items()
                if k != "owners"},
             **{f"exemptions.{k}": v for k, v in _cli("exemptions", "--dataset", dataset, "--json", *scoped).items()},
             **{f"risk.{k.lower()}": v for k, v in _cli("risk", "--dataset", dataset, "--json", *scoped)[
                 "unhealthy_by_risk"].items()}}
    for id, value in shown.items():
        assert _same(id, value, run.reference(id, governance_filters)), id


@pytest.fixture
def shell():
    return InteractiveShell.instance()


def test_widget_panels_show_the_registry_values(run: Run, shell):
    f = run.filters
    panels = [widgets.score_explorer(run.snap, environments=f.environments, subscriptions=f.subscriptions,
                                     accounts=f.accounts),
              widgets.summary_explorer(run.snap, environments=f.environments, subscriptions=f.subscriptions),
              widgets.compliance_explorer(run.snap, subscriptions=f.subscriptions),
              widgets.coverage_explorer(run.snap, environments=f.environments, subscriptions=f.subscriptions,
                                        accounts=f.accounts),
              widgets.cloudtrail_explorer(run.snap, accounts=f.accounts),
              widgets.governance_explorer(run.snap, subscriptions=f.subscriptions)]
    for panel in panels:
        shown = panel.views[0].result
        assert len(shown), panel
        for row in shown.itertuples(index=False):
            assert _same(row.measure, row.value, run.reference(row.measure, panel.filters.measures())), row


def test_severity_and_standard_filters_reach_every_surface(shell):
    from mdcnb.report.page import Page

    snap = snapshot.build(SAMPLE_DATASET, with_history=False)
    page = Page("10_secure_score", snapshot=None, severities=["High"])
    page._snapshot = snap  # the snapshot built above (building it twice would double the test's time)
    high = registry.value("score.unhealthy", snap, Filters(severities=("High",)))
    assert high < registry.value("score.unhealthy", snap, Filters())
    assert page.value("score.unhealthy") == high
    panel = widgets.score_explorer(snap)
    panel.controls["severities"].value = ("High",)
    assert panel.views[0].result.set_index("measure").loc["score.unhealthy", "value"] == high
    standard = sorted(snap.tables.compliance_standards["standard"].unique())[0]
    only = Filters(standards=(standard,))
    passed = registry.value("compliance.passed", snap, only)
    assert passed < registry.value("compliance.passed", snap, Filters()) or passed == 0
    cli = _cli("compliance", "--dataset", str(SAMPLE_DATASET), "--json", "--standard", standard)
    assert cli["measures"]["compliance.passed"] == passed
    panel = widgets.compliance_explorer(snap, standards=[standard])
    assert panel.views[0].result.set_index("measure").loc["compliance.passed", "value"] == passed
