"""Filter panels: defaults from the parameters, and every control change re-rendering the views (no browser)."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest
import score_tables as st
from IPython.core.interactiveshell import InteractiveShell

from mdcnb import schema, widgets
from mdcnb.analysis.coverage import PITFALL_CHECKS
from mdcnb.audit import audit_dataset
from mdcnb.dataset import default_dataset
from mdcnb.mask import AWS_ACCOUNT, KEY_ENV
from mdcnb.report.page import Page
from mdcnb.tables import Tables, load_tables
from mdcnb.widgets import FilterPanel, Filters


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


def test_score_explorer_follows_the_environment_filter():
    panel = widgets.score_explorer(st.tables(), environments=["Azure"])
    ranked, stacked, table = (v.result for v in panel.views)
    assert isinstance(ranked, go.Figure) and list(ranked.data[0].y) == ["Enable MFA"]
    assert [t.name for t in stacked.data] == ["High", "Medium"]
    assert set(table["control_name"]) == {"Enable MFA"}
    panel.controls["environments"].value = ("AWS",)
    assert list(panel.views[0].result.data[0].y) == ["Encrypt data"]
    # the redrawn figure is inside the view's output (a figure displaying itself would land beside the panel)
    drawn = panel.views[0].output.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert list(drawn["data"][0]["y"]) == ["Encrypt data"]
    panel.controls["severities"].value = ("High",)
    assert panel.views[2].result.empty  # the AWS control has only a Low recommendation


def test_panel_offers_account_and_region_controls():
    panel = FilterPanel(accounts=[("prod (111)", "111"), ("222", "222")], regions=["eu-west-1", "us-east-1"],
                        defaults=Filters(accounts=("111", "999"), regions=("us-east-1",)))
    assert panel.filters == Filters(accounts=("111",), regions=("us-east-1",))
    assert panel.controls["accounts"].options == (("prod (111)", "111"), ("222", "222"))
    panel.controls["regions"].value = ("eu-west-1", "us-east-1")
    assert panel.filters.regions == ("eu-west-1", "us-east-1")


# ---------------------------------------------------------------- summary (weekly history)

def _two_weeks() -> dict[str, Tables]:
    """st.tables() as week 47, and week 48 in which Prod (s1) went from 6 to 8 of 10 points."""
    later = st.tables()
    scores = later.secure_scores
    scores.loc[scores["scope_id"] == f"/subscriptions/{st.S1}", "current"] = 8
    return {"2026-W47": st.tables(), "2026-W48": later}


def test_summary_explorer_scores_the_selected_scopes_week_by_week():
    # MDC's aggregate: sum round(w x current / max, 2) / sum w' (weight 0 counts 1 below the line), by hand:
    # W47 Azure: (2 x 0.6 + 0) / (2 + 1) = 40.00 %; W48 Azure: (2 x 0.8 + 0) / 3 = 53.33 %; AWS both weeks 2/5 = 40 %
    panel = widgets.summary_explorer(_two_weeks(), environments=["Azure"])
    weekly, by_scope, trend = (v.result for v in panel.views)
    assert weekly["week"].tolist() == ["2026-W47", "2026-W48"]
    assert weekly["percentage"].tolist() == [40.0, 53.33] and weekly["change"].iloc[1] == 13.33
    assert dict(zip(by_scope.data[0].y, by_scope.data[0].x, strict=True)) == {"Dev": 30.0, "Prod": 80.0}
    assert {t.name for t in trend.data} == {"Overall", "Prod", "Dev"}
    panel.controls["environments"].value = ("AWS",)
    assert panel.views[0].result["percentage"].tolist() == [40.0, 40.0]
    assert [t.name for t in panel.views[1].result.data] == ["AWS"]
    assert {t.name for t in panel.views[2].result.data} == {"Overall", "aws-acct"}


def test_summary_explorer_follows_scope_and_date_range():
    panel = widgets.summary_explorer(_two_weeks(), subscriptions=[st.S1], since="2026-11-23")  # Monday of W48
    assert panel.filters.since == date(2026, 11, 23) and panel.filters.scopes == (st.S1,)
    # Prod and the AWS connector it holds, W48 only: (2 x 0.8 + 1 x 0.4) / (2 + 1) = 66.67 %
    assert panel.views[0].result[["week", "percentage"]].values.tolist() == [["2026-W48", 66.67]]
    panel.controls["since"].value = None
    panel.controls["until"].value = date(2026, 11, 22)  # Sunday of W47
    # W47: (2 x 0.6 + 1 x 0.4) / 3 = 53.33 %
    assert panel.views[0].result[["week", "percentage"]].values.tolist() == [["2026-W47", 53.33]]
    assert list(panel.views[2].result.data[0].x) == ["2026-W47"]


# ---------------------------------------------------------------- coverage (the sample tenant)

@pytest.fixture(scope="module")
def sample() -> tuple[Tables, pd.DataFrame]:
    return load_tables(default_dataset()), audit_dataset(None).results


def _pitfall_accounts(results: pd.DataFrame, accounts: set[str] | None = None) -> list[tuple[str, str]]:
    """(check, account) of every failed pitfall check, counted straight from the audit's rows."""
    failed = results[(results["status"] == "fail") & results["check_id"].isin(PITFALL_CHECKS.values())]
    rows = {(c, a) for c, a in zip(failed["check_id"], failed["account_id"], strict=True)
            if accounts is None or a in accounts}
    return sorted(rows)


def test_coverage_explorer_defaults_and_environment_filter(sample):
    tables, results = sample
    panel = widgets.coverage_explorer(tables, results, environments=["GCP"])
    by_env, overview, matrix, off, counts, pitfalls = (v.result for v in panel.views)
    gcp = tables.connectors[tables.connectors["environment"] == "GCP"]
    assert sorted(overview["name"]) == sorted(gcp["name"]) and len(gcp) > 0
    assert [t.name for t in by_env.data] == sorted(set(gcp["kind"])) and sum(by_env.data[0].y) == len(gcp)
    assert set(matrix["level"]) == {"connector"} and off.empty
    assert pitfalls.empty and list(counts.data[0].x) == [0] * len(PITFALL_CHECKS)  # the AWS audit is left out
    panel.controls["environments"].value = ()
    expected = _pitfall_accounts(results)
    check_of = {title: check for title, check in PITFALL_CHECKS.items()}
    shown = sorted((check_of[p], a) for p, a in zip(panel.views[5].result["pitfall"],
                                                    panel.views[5].result["account_id"], strict=True))
    assert shown == expected and sum(panel.views[4].result.data[0].x) == len(expected)
    assert sorted(panel.views[1].result["name"]) == sorted(tables.connectors["name"])


def test_coverage_explorer_follows_scope_and_account(sample):
    tables, results = sample
    account = "607116248894"  # on the classic and the native connector, per the sample's design
    panel = widgets.coverage_explorer(tables, results, accounts=[account])
    assert panel.filters.accounts == (account,)
    expected = _pitfall_accounts(results, {account})
    assert set(panel.views[5].result["account_id"]) == {account} and len(panel.views[5].result) == len(expected)
    connectors = tables.connectors[tables.connectors["hierarchy_id"] == account]
    assert sorted(panel.views[1].result["kind"]) == sorted(connectors["kind"]) == ["classic", "native"]
    subscription = tables.subscriptions.sort_values("display_name")["subscription_id"].iloc[0]
    panel.controls["accounts"].value = ()
    panel.controls["scopes"].value = (subscription,)
    plans = tables.plans[tables.plans["subscription_id"] == subscription]
    holds = tables.connectors[tables.connectors["subscription_id"] == subscription]
    assert len(panel.views[2].result) == plans["scope_id"].nunique() + holds["connector_id"].nunique()
    assert len(panel.views[1].result) == len(holds)


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
    panel = widgets.cloudtrail_explorer(volume, hourly, since="2026-11-02")
    assert panel.filters.since == date(2026, 11, 2)
    assert panel.controls["accounts"].options == (A, B) and panel.controls["regions"].options == (
        "eu-west-1", "us-east-1")
    daily, per_region, per_hour, calls, services, roles = (v.result for v in panel.views)
    cspm = next(t for t in daily.data if t.name == "CspmMonitorAws")
    assert dict(zip(cspm.x, cspm.y, strict=True)) == {"2026-11-02": 3 + 5}  # 1 Nov is before the range
    assert {t.name: list(t.y) for t in per_region.data} == {f"{A} / eu-west-1": [3], f"{B} / us-east-1": [5]}
    assert {t.name for t in per_hour.data} == {f"{A} / eu-west-1", f"{B} / us-east-1"}
    assert dict(zip(calls.data[0].y, calls.data[0].x, strict=True)) == {"s3 ListBuckets": 5, "iam ListRoles": 3}
    assert services.set_index("event_source")["read_only_events"].to_dict() == {
        "s3.amazonaws.com": 5, "iam.amazonaws.com": 3}
    assert [t.name for t in roles.data] == ["read", "write"] and list(roles.data[1].y) == [1]
    panel.controls["since"].value = None
    panel.controls["regions"].value = ("eu-west-1",)
    assert {t.name for t in panel.views[1].result.data} == {f"{A} / eu-west-1"}
    assert dict(zip(panel.views[3].result.data[0].y, panel.views[3].result.data[0].x, strict=True)) == {
        "ec2 DescribeInstances": 7, "iam ListRoles": 3}
    assert len(panel.views[5].result.data[0].x) == 0  # the scanner ran in us-east-1 only
    panel.controls["regions"].value = ()
    panel.controls["accounts"].value = (B,)
    assert [t.name for t in panel.views[2].result.data] == [f"{B} / us-east-1"]
    assert sum(panel.views[2].result.data[0].y) == 5


def test_cloudtrail_explorer_masks_what_it_shows_and_filters_on_real_ids(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "widgets-test-key")
    page = Page("40_cloudtrail", mask_ids=True, dataset=default_dataset())
    page.masker.add([A, B], AWS_ACCOUNT)
    volume, hourly = _volume()
    panel = widgets.cloudtrail_explorer(volume, hourly, accounts=[A], mask=page.mask)
    labels = [label for label, _ in panel.controls["accounts"].options]
    assert labels == [page.masker.pseudonym(A), page.masker.pseudonym(B)] and panel.filters.accounts == (A,)
    per_region = panel.views[1]
    assert {t.name for t in per_region.result.data} == {f"{A} / us-east-1", f"{A} / eu-west-1"}  # real ids inside
    shown = json.dumps(per_region.output.outputs[0]["data"]["application/vnd.plotly.v1+json"])
    assert A not in shown and f"{page.masker.pseudonym(A)} / eu-west-1" in shown
