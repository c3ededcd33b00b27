"""Filter panels: defaults from the parameters, and every control change re-rendering the views (no browser)."""

from __future__ import annotations

import html
import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest
import score_tables as st
from IPython.core.interactiveshell import InteractiveShell

from mdcnb import widgets
from mdcnb.analysis.coverage import PITFALL_CHECKS
from mdcnb.core import schema
from mdcnb.report.page import Page
from mdcnb.snapshot import Snapshot, build
from mdcnb.sources.dataset import default_dataset
from mdcnb.sources.prices import latest_price_table
from mdcnb.tables import Tables
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.history_weeks import WeeklyHistory
from mdcnb.tables.mask import AWS_ACCOUNT, KEY_ENV
from mdcnb.widgets.panel import FilterPanel, Filters, View, is_empty

WIDGET = "application/vnd.jupyter.widget-view+json"


def _says(view: View, text: str) -> None:
    """The view shows `text` in place of its result, and no (empty) figure or table."""
    shown = view.output.outputs[0]["data"]
    assert view.notice == text and WIDGET not in shown
    assert shown["text/html"] == f"<p><em>{html.escape(text)}</em></p>"


def _traces(figure: go.Figure | go.FigureWidget) -> list[dict]:
    """A figure's traces as plotly JSON, without the ids a FigureWidget gives them."""
    return [{k: v for k, v in json.loads(t.to_json()).items() if k != "uid"} for t in figure.data]


def _draws(view: View) -> None:
    """The view shows its result: a figure in its FigureWidget (holding the figure's traces), a table as a table."""
    shown = view.output.outputs[0]["data"]
    assert view.notice is None
    if isinstance(view.result, go.Figure):
        assert shown[WIDGET]["model_id"] == view.figure.model_id
        assert _traces(view.figure) == _traces(view.result)
    else:
        assert "<table" in shown["text/html"]


def _snapshot(tables: Tables, weeks: dict[str, Tables] | None = None,
              cloudtrail: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Snapshot:
    """Hand-built tables (and weeks, and CloudTrail volume) as a page's snapshot."""
    volume, hourly = cloudtrail or (schema.CLOUDTRAIL_VOLUME.frame(), schema.CLOUDTRAIL_HOURLY.frame())
    history = None
    if weeks:
        names = list(weeks)
        history = WeeklyHistory("test", None, weeks, cloudtrail={}, audits={}, folders={}, latest=weeks[names[-1]],
                                previous_tables=weeks[names[-2]] if len(names) > 1 else None, incomplete=[])
    return Snapshot(tables=tables, cloudtrail=VolumeResult(volume, hourly), audit=None, prices=latest_price_table(),
                    siem_price=None, history=history)


@pytest.fixture(autouse=True)
def shell():
    return InteractiveShell.instance()  # so views format their results into widget outputs as a kernel would


def test_panel_takes_defaults_and_reports_filters():
    panel = FilterPanel(environments=["AWS", "Azure"], scopes=[("Prod", "s1"), ("Dev", "s2")],
                        severities=["High", "Low"], dates=True,
                        defaults=Filters(environments=("AWS", "Nowhere"), scopes=("s2",)))
    assert panel.filters == Filters(environments=("AWS",), scopes=("s2",))
    assert "standards" not in panel.controls


def test_changing_a_control_rerenders_every_view():
    panel = FilterPanel(environments=["AWS", "Azure"], severities=["High", "Low"])
    seen: list[Filters] = []
    first = panel.view(lambda f: seen.append(f) or f"{len(seen)}: {f.environments}")
    second = panel.view(lambda f: f.severities)
    panel.controls["environments"].value = ("Azure",)
    panel.controls["severities"].value = ("High",)
    assert first.result == "3: ('Azure',)" and second.result == ("High",)
    assert [f.environments for f in seen] == [(), ("Azure",), ("Azure",)]
    assert first.output.outputs[0]["data"]["text/plain"] == "\"3: ('Azure',)\""


def test_a_failing_view_shows_why_and_recovers():
    panel = FilterPanel(environments=["AWS", "Azure"])
    view = panel.view(lambda f: 1 / len(f.environments))
    assert view.result is None and view.error == "ZeroDivisionError: division by zero"
    assert "Nothing to show for this selection" in view.output.outputs[0]["data"]["text/plain"]
    panel.controls["environments"].value = ("AWS", "Azure")
    assert view.result == 0.5 and view.error is None


@pytest.mark.parametrize(("figure", "empty"), [
    (go.Figure(), True), (go.Figure(go.Bar(x=[], y=[])), True), (go.Figure(go.Heatmap(z=[])), True),
    (go.Figure(go.Bar(x=[0], y=["none failed"])), False), (go.Figure(go.Indicator(value=0)), False),
    (go.Figure([go.Bar(x=[], y=[]), go.Scatter(x=["2026-11-01"], y=[3])]), False),
])
def test_a_figure_without_data_points_is_empty(figure, empty):
    assert is_empty(figure) is empty


def test_an_empty_result_shows_the_selection_that_matched_nothing():
    panel = FilterPanel(environments=["AWS", "Azure", "GCP"], scopes=[("Prod", "s1"), ("Dev", "s2")], dates=True)
    table = panel.view(lambda f: pd.DataFrame({"scope": [s for s in ("s1", "s2") if s in f.scopes or not f.scopes]}))
    chart = panel.view(lambda f: go.Figure(go.Bar(x=list(f.environments), y=[1] * len(f.environments))), "connectors")
    _draws(table)
    _says(chart, "No connectors.")
    panel.controls["environments"].value = ("GCP", "AWS")
    _draws(chart)
    assert list(chart.result.data[0].x) == ["GCP", "AWS"]
    panel.controls["scopes"].value = ("s2", "s1")
    panel.controls["since"].value = date(2026, 11, 6)
    panel.controls["environments"].value = ()
    _draws(table)
    _says(chart, "No connectors in scopes Dev, Prod since 2026-11-06.")  # labels as the control shows them
    panel.controls["until"].value = date(2026, 11, 26)
    _says(chart, "No connectors in scopes Dev, Prod from 2026-11-06 to 2026-11-26.")
    panel.controls["scopes"].value = ()
    panel.controls["since"].value = None
    _says(chart, "No connectors until 2026-11-26.")


def test_score_explorer_follows_the_environment_filter():
    panel = widgets.score_explorer(_snapshot(st.tables()), environments=["Azure"])
    ranked, stacked, table = (v.result for v in panel.views[1:])
    assert isinstance(ranked, go.Figure) and list(ranked.data[0].y) == ["Enable MFA"]
    assert [t.name for t in stacked.data] == ["High", "Medium"]
    assert set(table["control_name"]) == {"Enable MFA"}
    panel.controls["environments"].value = ("AWS",)
    assert list(panel.views[1].result.data[0].y) == ["Encrypt data"]
    # the redrawn figure is the widget inside the view's output (a figure displaying itself would land beside the
    # panel)
    _draws(panel.views[1])
    assert list(panel.views[1].figure.data[0].y) == ["Encrypt data"]
    panel.controls["severities"].value = ("High",)
    assert panel.views[3].result.empty  # the AWS control has only a Low recommendation
    _says(panel.views[3], "No recommendations in environment AWS of severity High.")


def test_panel_offers_account_and_region_controls():
    panel = FilterPanel(accounts=[("prod (111)", "111"), ("222", "222")], regions=["eu-west-1", "us-east-1"],
                        defaults=Filters(accounts=("111", "999"), regions=("us-east-1",)))
    assert panel.filters == Filters(accounts=("111",), regions=("us-east-1",))
    assert panel.controls["accounts"].options == (("prod (111)", "111"), ("222", "222"))
    panel.controls["regions"].value = ("eu-west-1", "us-east-1")
    assert panel.filters.regions == ("eu-west-1", "us-east-1")


# ---------------------------------------------------------------- summary (weekly history)

def _two_weeks() -> Snapshot:
    """st.tables() as week 47, and week 48 in which Prod (s1) went from 6 to 8 of 10 points."""
    later = st.tables()
    scores = later.secure_scores
    scores.loc[scores["scope_id"] == f"/subscriptions/{st.S1}", "current"] = 8
    return _snapshot(later, {"2026-W47": st.tables(), "2026-W48": later})


def test_summary_explorer_scores_the_selected_scopes_week_by_week():
    # MDC's aggregate: sum round(w x current / max, 2) / sum w' (weight 0 counts 1 below the line), by hand:
    # W47 Azure: (2 x 0.6 + 0) / (2 + 1) = 40.00 %; W48 Azure: (2 x 0.8 + 0) / 3 = 53.33 %; AWS both weeks 2/5 = 40 %
    panel = widgets.summary_explorer(_two_weeks(), environments=["Azure"])
    headlines, weekly, by_scope, trend = (v.result for v in panel.views)
    assert headlines.set_index("measure")["value"].to_dict() == {"score.overall": 53.33, "history.score_change": 13.33}
    assert weekly["week"].tolist() == ["2026-W47", "2026-W48"]
    assert weekly["percentage"].tolist() == [40.0, 53.33] and weekly["change"].iloc[1] == 13.33
    assert dict(zip(by_scope.data[0].y, by_scope.data[0].x, strict=True)) == {"Dev": 30.0, "Prod": 80.0}
    assert {t.name for t in trend.data} == {"Overall", "Prod", "Dev"}
    panel.controls["environments"].value = ("AWS",)
    assert panel.views[1].result["percentage"].tolist() == [40.0, 40.0]
    assert [t.name for t in panel.views[2].result.data] == ["AWS"]
    assert {t.name for t in panel.views[3].result.data} == {"Overall", "aws-acct"}


def test_summary_explorer_follows_scope_and_date_range():
    panel = widgets.summary_explorer(_two_weeks(), subscriptions=[st.S1], since="2026-11-23")  # Monday of W48
    assert panel.filters.since == date(2026, 11, 23) and panel.filters.scopes == (st.S1,)
    # Prod and the AWS connector it holds, W48 only: (2 x 0.8 + 1 x 0.4) / (2 + 1) = 66.67 %
    assert panel.views[1].result[["week", "percentage"]].values.tolist() == [["2026-W48", 66.67]]
    panel.controls["since"].value = None
    panel.controls["until"].value = date(2026, 11, 22)  # Sunday of W47
    # W47: (2 x 0.6 + 1 x 0.4) / 3 = 53.33 %
    assert panel.views[1].result[["week", "percentage"]].values.tolist() == [["2026-W47", 53.33]]
    assert list(panel.views[3].result.data[0].x) == ["2026-W47"]


def test_summary_explorer_says_when_the_date_window_holds_no_week():
    weeks = _two_weeks()
    assert all(week < "2026-W49" for week in weeks.history.weeks)  # December 2026 starts in W49
    panel = widgets.summary_explorer(weeks, environments=["Azure"], since="2026-12-01", until="2026-12-31")
    weekly, by_scope, trend = panel.views[1:]
    text = "No secure scores in environment Azure from 2026-12-01 to 2026-12-31."
    _says(weekly, text)
    _says(trend, text)
    _draws(by_scope)  # this week's scopes do not follow the window
    panel.controls["since"].value = date(2026, 11, 23)  # Monday of W48
    _draws(weekly)
    _draws(trend)
    assert weekly.result["week"].tolist() == ["2026-W48"]


# ---------------------------------------------------------------- coverage (the sample tenant)

@pytest.fixture(scope="module")
def sample() -> Snapshot:
    return build(default_dataset(), with_history=False)


def _pitfall_accounts(results: pd.DataFrame, accounts: set[str] | None = None) -> list[tuple[str, str]]:
    """(check, account) of every failed pitfall check, counted straight from the audit's rows."""
    failed = results[(results["status"] == "fail") & results["check_id"].isin(PITFALL_CHECKS.values())]
    rows = {(c, a) for c, a in zip(failed["check_id"], failed["account_id"], strict=True)
            if accounts is None or a in accounts}
    return sorted(rows)


def test_coverage_explorer_defaults_and_environment_filter(sample):
    tables, results = sample.tables, sample.audit.results
    panel = widgets.coverage_explorer(sample, environments=["GCP"])
    by_env, overview, matrix, off, counts, pitfalls = (v.result for v in panel.views[1:7])
    gcp = tables.connectors[tables.connectors["environment"] == "GCP"]
    assert sorted(overview["name"]) == sorted(gcp["name"]) and len(gcp) > 0
    assert [t.name for t in by_env.data] == sorted(set(gcp["kind"])) and sum(by_env.data[0].y) == len(gcp)
    assert set(matrix["level"]) == {"connector"} and off.empty
    assert pitfalls.empty and list(counts.data[0].x) == [0] * len(PITFALL_CHECKS)  # the AWS audit is left out
    panel.controls["environments"].value = ()
    expected = _pitfall_accounts(results)
    check_of = {title: check for title, check in PITFALL_CHECKS.items()}
    shown = sorted((check_of[p], a) for p, a in zip(panel.views[6].result["pitfall"],
                                                    panel.views[6].result["account_id"], strict=True))
    assert shown == expected and sum(panel.views[5].result.data[0].x) == len(expected)
    assert sorted(panel.views[2].result["name"]) == sorted(tables.connectors["name"])


def test_coverage_explorer_follows_scope_and_account(sample):
    tables, results = sample.tables, sample.audit.results
    account = "607116248894"  # on the classic and the native connector, per the sample's design
    panel = widgets.coverage_explorer(sample, accounts=[account])
    assert panel.filters.accounts == (account,)
    expected = _pitfall_accounts(results, {account})
    assert set(panel.views[6].result["account_id"]) == {account} and len(panel.views[6].result) == len(expected)
    connectors = tables.connectors[tables.connectors["hierarchy_id"] == account]
    assert sorted(panel.views[2].result["kind"]) == sorted(connectors["kind"]) == ["classic", "native"]
    subscription = tables.subscriptions.sort_values("display_name")["subscription_id"].iloc[0]
    panel.controls["accounts"].value = ()
    panel.controls["scopes"].value = (subscription,)
    plans = tables.plans[tables.plans["subscription_id"] == subscription]
    holds = tables.connectors[tables.connectors["subscription_id"] == subscription]
    assert len(panel.views[3].result) == plans["scope_id"].nunique() + holds["connector_id"].nunique()
    assert len(panel.views[2].result) == len(holds)


def _account_label(tables: Tables, account: str) -> str:
    """How the account control labels an account: `name (id)`, the name from its connector."""
    names = set(tables.connectors.loc[tables.connectors["hierarchy_id"] == account, "account_name"].dropna())
    assert len(names) == 1  # the classic connector names the account, the native one leaves it out
    return f"{names.pop()} ({account})"


def test_coverage_explorer_says_when_no_connector_matches(sample):
    tables = sample.tables
    account = "607116248894"  # an AWS account: no GCP connector holds it
    connectors = tables.connectors
    assert connectors[(connectors["environment"] == "GCP") & (connectors["hierarchy_id"] == account)].empty
    panel = widgets.coverage_explorer(sample, environments=["GCP"], accounts=[account])
    by_env, overview, matrix, off, counts, pitfalls = panel.views[1:7]
    text = f"No connectors in environment GCP for account {_account_label(tables, account)}."
    _says(by_env, text)
    _says(overview, text)
    _says(pitfalls, f"No onboarding pitfalls found in environment GCP for account {_account_label(tables, account)}.")
    _draws(matrix)  # the plan matrix follows environment and scope, not the account
    assert off.result.empty and off.notice.startswith("No plans off where resources exist in environment GCP")
    _draws(counts)  # every check with 0 found is still something to show
    assert list(counts.result.data[0].x) == [0] * len(PITFALL_CHECKS)
    panel.controls["environments"].value = ("AWS",)
    _draws(by_env)
    _draws(overview)
    assert set(overview.result["name"]) == set(connectors.loc[connectors["hierarchy_id"] == account, "name"])


def test_coverage_notice_masks_the_account(sample, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "widgets-test-key")
    page = Page("30_coverage", mask_ids=True, dataset=default_dataset())
    account = "607116248894"
    panel = widgets.coverage_explorer(sample, environments=["GCP"], accounts=[account], mask=page.mask)
    label = page.masker.pseudonym(account)
    assert account not in json.dumps([v.output.outputs for v in panel.views])
    assert panel.views[2].notice.startswith("No connectors in environment GCP for account ")
    assert label in panel.views[2].notice and panel.filters.accounts == (account,)


# ---------------------------------------------------------------- CloudTrail

A, B = "111122223333", "444455556666"


def _volume() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three days, two accounts, two regions; CSPM reads plus one other MDC role and someone else."""
    def row(day, account, region, source, name, actor, ro, role=None):
        return {"date": day, "account_id": account, "region": region, "event_source": source, "event_name": name,
                "actor": actor, "role_arn": role and f"arn:aws:iam::{account}:role/{role}", "role_name": role,
                "events": ro + (1 if actor == "mdc_other" else 0), "read_only_events": ro, "bytes": 100 * ro,
                "read_only_bytes": 100 * ro}
    volume = schema.CLOUDTRAIL_VOLUME.frame([
        row("2026-11-01", A, "us-east-1", "ec2.amazonaws.com", "DescribeInstances", "cspm", 10, "CspmMonitorAws"),
        row("2026-11-01", A, "eu-west-1", "ec2.amazonaws.com", "DescribeInstances", "cspm", 7, "CspmMonitorAws"),
        row("2026-11-02", A, "eu-west-1", "iam.amazonaws.com", "ListRoles", "cspm", 3, "CspmMonitorAws"),
        row("2026-11-02", B, "us-east-1", "s3.amazonaws.com", "ListBuckets", "cspm", 5, "CspmMonitorAws"),
        row("2026-11-03", B, "us-east-1", "ec2.amazonaws.com", "CreateSnapshot", "mdc_other", 2,
            "DefenderForCloud-AgentlessScanner"),
        row("2026-11-03", A, "us-east-1", "s3.amazonaws.com", "ListBuckets", "other", 4),
    ])
    hourly = volume.assign(hour=pd.to_datetime(volume["date"], utc=True) + pd.Timedelta(hours=6))
    return volume, schema.CLOUDTRAIL_HOURLY.conform(hourly)


def test_cloudtrail_explorer_follows_dates_accounts_and_regions():
    volume, hourly = _volume()
    panel = widgets.cloudtrail_explorer(_snapshot(st.tables(), cloudtrail=(volume, hourly)), since="2026-11-02")
    assert panel.filters.since == date(2026, 11, 2)
    assert panel.controls["accounts"].options == (A, B) and panel.controls["regions"].options == (
        "eu-west-1", "us-east-1")
    headlines, daily, per_region, per_hour, calls, services, roles = (v.result for v in panel.views)
    # CSPM's reads in the window, by hand from _volume: 3 (A, 2 Nov) + 5 (B, 2 Nov)
    assert headlines.set_index("measure").loc["cloudtrail.cspm_read_events", "value"] == 8
    cspm = next(t for t in daily.data if t.name == "CspmMonitorAws")
    assert dict(zip(cspm.x, cspm.y, strict=True)) == {"2026-11-02": 3 + 5}  # 1 Nov is before the range
    assert {t.name: list(t.y) for t in per_region.data} == {f"{A} / eu-west-1": [3], f"{B} / us-east-1": [5]}
    # one panel per account, zero-filled over the day: 24 hours, the reads at 06:00 (`_volume`'s hour)
    assert {t.name: (len(t.y), sum(t.y)) for t in per_hour.data} == {A: (24, 3), B: (24, 5)}
    assert dict(zip(calls.data[0].y, calls.data[0].x, strict=True)) == {"s3 ListBuckets": 5, "iam ListRoles": 3}
    assert services.set_index("event_source")["read_only_events"].to_dict() == {
        "s3.amazonaws.com": 5, "iam.amazonaws.com": 3}
    assert [t.name for t in roles.data] == ["read", "write"] and list(roles.data[1].y) == [1]
    panel.controls["since"].value = None
    panel.controls["regions"].value = ("eu-west-1",)
    assert {t.name for t in panel.views[2].result.data} == {f"{A} / eu-west-1"}
    assert dict(zip(panel.views[4].result.data[0].y, panel.views[4].result.data[0].x, strict=True)) == {
        "ec2 DescribeInstances": 7, "iam ListRoles": 3}
    assert len(panel.views[6].result.data[0].x) == 0  # the scanner ran in us-east-1 only
    panel.controls["regions"].value = ()
    panel.controls["accounts"].value = (B,)
    assert [t.name for t in panel.views[3].result.data] == [B]  # one panel per account
    assert sum(panel.views[3].result.data[0].y) == 5


def test_cloudtrail_explorer_masks_what_it_shows_and_filters_on_real_ids(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "widgets-test-key")
    page = Page("40_cloudtrail", mask_ids=True, dataset=default_dataset())
    page.masker.add([A, B], AWS_ACCOUNT)
    volume, hourly = _volume()
    panel = widgets.cloudtrail_explorer(_snapshot(st.tables(), cloudtrail=(volume, hourly)), accounts=[A],
                                        mask=page.mask)
    labels = [label for label, _ in panel.controls["accounts"].options]
    assert labels == [page.masker.pseudonym(A), page.masker.pseudonym(B)] and panel.filters.accounts == (A,)
    per_region = panel.views[2]
    assert {t.name for t in per_region.result.data} == {f"{A} / us-east-1", f"{A} / eu-west-1"}  # real ids inside
    shown = json.dumps(json.loads(per_region.figure.to_json()))  # what the view's FigureWidget draws
    assert A not in shown and f"{page.masker.pseudonym(A)} / eu-west-1" in shown


def test_cloudtrail_explorer_says_when_an_account_has_no_cspm_events_in_the_window():
    volume, hourly = _volume()
    cspm_days = volume.loc[(volume["account_id"] == B) & (volume["actor"] == "cspm"), "date"]
    assert cspm_days.max() < "2026-11-03"  # B's CSPM reads stop before the window; its scanner write is inside
    panel = widgets.cloudtrail_explorer(_snapshot(st.tables(), cloudtrail=(volume, hourly)), accounts=[B],
                                        since="2026-11-03")
    daily, per_region, per_hour, calls, services, roles = panel.views[1:]
    _says(per_region, f"No CspmMonitorAws reads for account {B} since 2026-11-03.")
    _says(per_hour, f"No CspmMonitorAws reads for account {B} since 2026-11-03.")
    _says(calls, f"No CspmMonitorAws API calls for account {B} since 2026-11-03.")
    _says(services, f"No CspmMonitorAws reads by service for account {B} since 2026-11-03.")
    _draws(daily)
    _draws(roles)
    scanner = volume[(volume["account_id"] == B) & (volume["actor"] == "mdc_other")]
    reads = scanner["read_only_events"].sum()
    assert {t.name: sum(t.y) for t in roles.result.data} == {"read": reads, "write": scanner["events"].sum() - reads}
    panel.controls["until"].value = date(2026, 11, 26)
    panel.controls["regions"].value = ("eu-west-1",)  # nothing at all of B there
    _says(daily, f"No CloudTrail events for account {B} in region eu-west-1 from 2026-11-03 to 2026-11-26.")
    panel.controls["regions"].value = ()
    panel.controls["since"].value = None
    for view in (per_region, per_hour, calls, services):
        _draws(view)
    assert sum(sum(t.y) for t in per_hour.result.data) == volume.loc[cspm_days.index, "read_only_events"].sum()


def test_cloudtrail_notice_names_the_account_by_its_pseudonym(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "widgets-test-key")
    page = Page("40_cloudtrail", mask_ids=True, dataset=default_dataset())
    page.masker.add([A, B], AWS_ACCOUNT)
    volume, hourly = _volume()
    panel = widgets.cloudtrail_explorer(_snapshot(st.tables(), cloudtrail=(volume, hourly)), accounts=[B],
                                        since="2026-11-03", mask=page.mask)
    assert panel.views[2].notice == f"No CspmMonitorAws reads for account {page.masker.pseudonym(B)} since 2026-11-03."
    assert B not in json.dumps([v.output.outputs for v in panel.views])
