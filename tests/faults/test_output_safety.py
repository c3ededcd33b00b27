"""Output safety (issue 16): cloud names drawn as text, every id masked in every view and on stderr, library logs
scrubbed, CSV cells never formulas.

Bad inputs are built from a copy of the committed sample (names swapped for markup or formulas, an AWS account
that only the inventory knows) or from small hand-made tables; expectations are written out by hand.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
import logging
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest
from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, NetworkTraceLoggingPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure_server import AzureTestService, serve, tls

from mdcnb.cli import main as cli
from mdcnb.figures import cloudtrail, compliance, cost, coverage, history, score
from mdcnb.report.page import Page, html_table
from mdcnb.report.runner import ReportOptions, run_report
from mdcnb.snapshot.readiness import audit_dataset
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import load_tables

LINK = '<a href="https://example.com/{0}">{0}</a>'
H_SUB, H_CONTROL, H_ACCOUNT = LINK.format("sub"), LINK.format("control"), LINK.format("account")
MASK_KEY = "output-safety-test-key"
TENANT = "7c1e4b2a-3f5d-4e8a-9b6c-2d1f0e3a4b5c"            # the sample's tenant (manifest scope, subscriptions)
INVENTORY_ONLY = "111122223333"                              # an AWS account only the aws/ inventory names
AWS_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
ARN_ACCOUNT = re.compile(r"arn:aws[\w-]*:[\w-]*:[\w-]*:([^:]*):")


def sample_copy(tmp_path: Path, swaps: dict[str, dict[str, str]] | None = None) -> Path:
    """A copy of the sample with `swaps[record_type]` = {old JSON text: new JSON text} applied to its records."""
    dataset = tmp_path / "dataset"
    shutil.copytree(SAMPLE_DATASET, dataset)
    for record_type, pairs in (swaps or {}).items():
        path = dataset / f"{record_type}.jsonl.gz"
        text = gzip.decompress(path.read_bytes()).decode()
        for old, new in pairs.items():
            assert old in text, (record_type, old)
            text = text.replace(old, new)
        path.write_bytes(gzip.compress(text.encode()))
    return dataset


def name_swap(old: str, new: str) -> tuple[str, str]:
    return json.dumps(old), json.dumps(new)


# -- plotly draws cloud names as text ----------------------------------------------------------------------------

def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, (list, tuple)):
        return [s for v in node for s in _strings(v)]
    return []


H = LINK.format("x")
ESCAPED = "&lt;a href=\"https://example.com/x\"&gt;x&lt;/a&gt;"
# Every builder given tables whose every text column is the hostile name (numbers by hand).
BUILT = {
    "score.score_by_environment": lambda: score.score_by_environment(pd.DataFrame(
        {"environment": [H], "percentage": [50.0], "current": [1.0], "max": [2.0], "scopes": [1]})),
    "score.score_by_scope": lambda: score.score_by_scope(pd.DataFrame(
        {"scope_id": ["/subscriptions/s1"], "name": [H], "environment": [H], "percentage": [40.0],
         "current": [4.0], "max": [10.0]})),
    "score.controls_ranked": lambda: score.controls_ranked(pd.DataFrame(
        {"control_name": [H], "potential_increase": [3.0], "current": [1.0], "max": [4.0], "unhealthy": [2]})),
    "score.control_severity": lambda: score.control_severity(pd.DataFrame(
        {"control_name": [H], "severity": ["High"], "unhealthy": [2]})),
    "score.recommendations_ranked": lambda: score.recommendations_ranked(pd.DataFrame(
        {"control_name": [H], "assessment_key": ["k"], "recommendation": [H], "severity": ["High"],
         "unhealthy": [2], "potential_increase": [3.0]})),
    "compliance.compliance_states": lambda: compliance.compliance_states(pd.DataFrame(
        {"standard": [H], "pass_rate": [0.5], "passed_controls": [1], "failed_controls": [1],
         "skipped_controls": [0], "unsupported_controls": [0]})),
    "compliance.pass_rate_heatmap": lambda: compliance.pass_rate_heatmap(pd.DataFrame([[0.5]], index=[H],
                                                                                      columns=[H])),
    "cost.plan_costs": lambda: cost.plan_costs(pd.DataFrame(
        {"display": [H], "as configured": [1.0], "enable all": [2.0]}), H, H),
    "cost.scope_costs": lambda: cost.scope_costs(pd.DataFrame(
        {"name": [H], "as_configured": [1.0], "delta": [1.0], "enable_all": [2.0]}), H, H),
    "cost.scenario_totals": lambda: cost.scenario_totals(pd.DataFrame({"scenario": [H], "monthly_total": [1.0]}),
                                                         H, H),
    "cost.siem_accounts": lambda: cost.siem_accounts(pd.DataFrame(
        {"account_id": [H], "monthly_cost": [2.0], "monthly_cspm_cost": [1.0]}), H, H),
    "coverage.connectors_by_environment": lambda: coverage.connectors_by_environment(pd.DataFrame(
        {"environment": [H], "kind": [H], "connectors": [1]})),
    "coverage.readiness_matrix": lambda: coverage.readiness_matrix(pd.DataFrame(
        {"account_id": [H], "account_name": [H], "check_id": [H], "status": ["fail"], "evidence": [H]})),
    "coverage.plan_matrix": lambda: coverage.plan_matrix(pd.DataFrame(
        {"level": ["subscription"], "scope": [H], H: ["Standard"]})),
    "coverage.check_outcomes": lambda: coverage.check_outcomes(pd.DataFrame({"fail": [1]}, index=[H])),
    "coverage.pitfall_counts": lambda: coverage.pitfall_counts(pd.DataFrame({"pitfall": [H], "accounts": [1]})),
    "history.score_trend": lambda: history.score_trend(pd.DataFrame(
        {"week": ["2026-W01"], "scope_id": ["s"], "name": [H], "percentage": [50.0]})),
    "history.pass_rate_trend": lambda: history.pass_rate_trend(pd.DataFrame(
        {"week": ["2026-W01"], "standard": [H], "pass_rate": [50.0]})),
    "history.coverage_trend": lambda: history.coverage_trend(pd.DataFrame(
        {"week": ["2026-W01"], "plan": [H], "coverage": [50.0]})),
    "cloudtrail.cspm_by_account_region": lambda: cloudtrail.cspm_by_account_region(pd.DataFrame(
        {"account_id": [H], "region": [H], "date": ["2026-11-01"], "read_only_events": [3]})),
    "cloudtrail.cspm_hourly": lambda: cloudtrail.cspm_hourly(pd.DataFrame(
        {"account_id": [H], "hour": ["2026-11-01T01"], "read_only_events": [3]})),
    "cloudtrail.top_calls": lambda: cloudtrail.top_calls(pd.DataFrame(
        {"event_source": [H], "event_name": [H], "read_only_events": [3], "share": [1.0]})),
    "cloudtrail.read_share": lambda: cloudtrail.read_share(pd.DataFrame(
        {"account_id": [H], "cspm_read_events": [1], "read_events": [3]})),
    "cloudtrail.other_roles": lambda: cloudtrail.other_roles(pd.DataFrame(
        {"role_name": [H], "read_only_events": [1], "write_events": [2]})),
    "cloudtrail.siem_cost": lambda: cloudtrail.siem_cost(
        {"price": {"currency": H}, "monthly_cost": 2.0, "monthly_cost_after_filter": 1.0, "monthly_saving": 1.0,
         "window_days": 7}),
}
# Builders that draw no text from the cloud (actors, statuses, weeks and titles are mdcnb's own).
NO_CLOUD_TEXT = {"score.score_gauge", "coverage.readiness_over_time", "history.cloudtrail_trend",
                 "cloudtrail.daily_reads"}


def test_every_figure_builder_is_checked():
    """A new builder must join BUILT (or NO_CLOUD_TEXT): the check below covers all of them."""
    builders = {f"{module.__name__.rsplit('.', 1)[1]}.{name}"
                for module in (score, compliance, cost, coverage, history, cloudtrail)
                for name, fn in inspect.getmembers(module, inspect.isfunction)
                if fn.__module__ == module.__name__ and not name.startswith("_")
                and inspect.signature(fn).return_annotation in (go.Figure, "go.Figure")}
    assert builders == set(BUILT) | NO_CLOUD_TEXT


@pytest.mark.parametrize("builder", sorted(BUILT))
def test_figure_builders_escape_cloud_names(builder):
    """No label, legend entry, hover text, category or title carries the markup; the escaped name (which plotly
    draws as the literal text) does."""
    strings = _strings(json.loads(BUILT[builder]().to_json()))
    assert not [s for s in strings if "<a " in s], builder
    assert any(ESCAPED in s for s in strings), builder


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """The secure score and coverage pages of a sample whose subscription, control and AWS account names are
    links to example.com."""
    tmp = tmp_path_factory.mktemp("hostile")
    dataset = sample_copy(tmp, {"subscriptions": dict([name_swap("contoso-prod-platform", H_SUB)]),
                                "securescorecontrols": dict([name_swap("Enable MFA", H_CONTROL)]),
                                "securityconnectors": dict([name_swap("contoso-management", H_ACCOUNT)])})
    result = run_report(ReportOptions(dataset=dataset, out=tmp / "reports", notebooks=["10", "30"], workers=2,
                                      history=tmp / "history.duckdb"), log=lambda *a, **k: None)
    assert result.ok, [n.failure() for n in result.notebooks if not n.ok]
    return result


HOVER_JS = """() => {
  const hovers = [];
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    gd.data.forEach((trace, c) => {
      if (trace.type !== 'bar' && trace.type !== 'heatmap') return;
      Array.from(trace.y && trace.y.length !== undefined ? trace.y : []).forEach((label, p) => {
        if (!String(label).includes('example.com')) return;
        Plotly.Fx.hover(gd, trace.type === 'heatmap' ? {xval: 0, yval: p} : [{curveNumber: c, pointNumber: p}]);
        hovers.push(Array.from(gd.querySelectorAll('.hoverlayer text')).map(t => t.textContent).join(' '));
      });
    });
  }
  return hovers;
}"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a')).map(a => a.outerHTML)
                   .filter(h => h.includes('example.com'))"""
SVG_TEXT_JS = "() => Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)"
CELL_JS = "() => Array.from(document.querySelectorAll('td')).map(t => t.textContent)"


@pytest.mark.browser
def test_cloud_names_show_as_text_in_chromium(hostile_report):
    """Opened in headless Chromium: no link to example.com anywhere (axes, legends, hover labels, tables), and
    the names read literally in the charts' SVG and in the table cells."""
    from playwright.sync_api import sync_playwright

    from mdcnb.report.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name in ("10_secure_score.html", "30_coverage.html"):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto((hostile_report.week_dir / name).as_uri(), wait_until="load")
                page.wait_for_timeout(500)
                hovers = page.evaluate(HOVER_JS)
                seen[name] = {"hovers": hovers, "links": page.evaluate(LINKS_JS),
                              "svg": page.evaluate(SVG_TEXT_JS), "cells": page.evaluate(CELL_JS)}
                page.close()
        finally:
            browser.close()
    for name, found in seen.items():
        assert found["links"] == [], name
    score_page, coverage_page = seen["10_secure_score.html"], seen["30_coverage.html"]
    assert H_SUB in score_page["svg"] and H_CONTROL in score_page["svg"]           # scope and control axes
    assert any(t.endswith(H_ACCOUNT) for t in coverage_page["svg"])                # readiness matrix rows
    assert any(H_SUB in h for h in score_page["hovers"]) and any(H_CONTROL in h for h in score_page["hovers"])
    assert any(H_ACCOUNT in h for h in coverage_page["hovers"])
    assert H_SUB in coverage_page["cells"] and H_CONTROL in score_page["cells"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_tables_escape_cloud_names(tmp_path):
    """The table helper of the pages escapes (a check of what already holds): the parsed HTML has no `a`
    element and its cells read the names literally."""
    dataset = sample_copy(tmp_path, {"subscriptions": dict([name_swap("contoso-prod-platform", H_SUB)])})
    subscriptions = load_tables(dataset, names=["subscriptions"]).subscriptions
    parsed = _Tags()
    parsed.feed(html_table(subscriptions[["subscription_id", "display_name"]], max_rows=100))
    assert "a" not in parsed.tags and H_SUB in "".join(parsed.text)  # long names wrap at slashes: text in parts


# -- CSV cells are never formulas --------------------------------------------------------------------------------

FORMULAS = {"vm-prodplatform-00": '=HYPERLINK("http://x")', "vm-prodplatform-01": "@SUM(1)",
            "vm-prodplatform-02": "-2+3+cmd|' /C calc'!A0", "vm-prodplatform-03": "+SUM(1,2)"}


def test_csv_cells_that_would_be_formulas_are_text(tmp_path):
    """Resources named as formulas reach the CSV with a leading `'`, and so do text cells starting with a tab or
    a carriage return (a CR inside a value is quoted, never a row break); a number column (negative values
    included) and text that is just a number stay as is."""
    dataset = sample_copy(tmp_path, {"resources": dict(name_swap(k, v) for k, v in FORMULAS.items())})
    page = Page("t", report_dir=tmp_path / "report", dataset=dataset)
    resources = load_tables(dataset, names=["resources"]).resources
    shown = resources[resources["name"].isin(FORMULAS.values())][["name"]].sort_values("name")
    shown = shown.assign(delta=[-1.5, -2.0, 3.25, -0.5], note=["-7", "+8", "\tcmd", "\r=1\r=2"])
    page.table(shown, "resources")
    with (tmp_path / "report" / "csv" / "t" / "resources.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "delta", "note"]
    by_name = {r[0]: r[1:] for r in rows[1:]}
    assert set(by_name) == {"'" + v for v in FORMULAS.values()}
    formula = sorted(FORMULAS.values())
    assert [by_name["'" + n] for n in formula] == [["-1.5", "-7"], ["-2.0", "+8"], ["3.25", "'\tcmd"],
                                                  ["-0.5", "'\r=1\r=2"]]


# -- masking covers every id in every view -----------------------------------------------------------------------

def _with_inventory_only_account(dataset: Path) -> None:
    """An AWS account that only the aws/ inventory knows: a copy of another account's responses."""
    source = sorted((dataset / "aws").iterdir())[0]
    target = dataset / "aws" / INVENTORY_ONLY
    target.mkdir()
    for path in source.glob("*.json"):
        (target / path.name).write_text(path.read_text().replace(source.name, INVENTORY_ONLY))


def _raw_ids(text: str, ids: set[str]) -> set[str]:
    return {i for i in ids if i in text.lower()}


def test_mask_covers_aws_accounts_and_arns_in_the_readiness_views(tmp_path, monkeypatch):
    monkeypatch.setenv("MDCNB_MASK_KEY", MASK_KEY)
    dataset = sample_copy(tmp_path)
    _with_inventory_only_account(dataset)
    page = Page("30_coverage", mask_ids=True, dataset=dataset)
    results = audit_dataset(dataset).results
    accounts = set(results["account_id"])
    assert INVENTORY_ONLY in accounts and len(accounts) == 8  # the sample's 7 and the new one
    raw_text = results.to_csv()
    assert set(ARN_ACCOUNT.findall(raw_text)) & accounts  # the readiness evidence names ARNs of these accounts

    table = page.mask(results).to_csv()
    figure = page.mask(coverage.readiness_matrix(results)).to_json()
    from mdcnb.widgets.coverage import coverage_explorer

    panel = coverage_explorer(page.snapshot(), mask=page.mask)
    shown = json.dumps([v.output.outputs for v in panel.views], default=str)
    options = " ".join(label for label, _value in panel.controls["accounts"].options)
    for view, text in {"table": table, "figure": figure, "widget": shown, "options": options}.items():
        assert _raw_ids(text, accounts) == set(), view
        assert {a for a in ARN_ACCOUNT.findall(text) if AWS_ID.fullmatch(a)} == set(), view
    assert "aws-" in table and re.search(r"arn:aws:iam::aws-[0-9a-f]{10}:", table)


def test_aws_audit_cli_masks_every_account(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MDCNB_MASK_KEY", MASK_KEY)
    dataset = sample_copy(tmp_path)
    _with_inventory_only_account(dataset)
    (dataset / "aws" / INVENTORY_ONLY / "ec2_DescribeInstances.json").write_text("not json")  # a skip on stderr
    accounts = {p.name for p in (dataset / "aws").iterdir()}
    assert cli(["aws", "audit", "--dataset", str(dataset), "--mask-ids", "--json"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert len(document["accounts"]) == 8 and all(a.startswith("aws-") for a in document["accounts"])
    assert INVENTORY_ONLY not in err and "ec2_DescribeInstances" in err
    assert _raw_ids(out + err, accounts) == set()


def _one_notebook(tmp_path: Path) -> Path:
    """A notebooks folder with one one-cell notebook: a report whose pages do not matter here."""
    one = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('the kernel ran')")])
    one.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "one-notebook").mkdir()
    nbformat.write(one, tmp_path / "one-notebook" / "10_one.ipynb")
    return tmp_path / "one-notebook"


def test_report_stderr_and_files_are_masked(tmp_path, monkeypatch, capsys):
    """`mdcnb report --mask-ids`: the history line on stderr names the series by tenant; it is masked there as in
    every file the report writes."""
    monkeypatch.setenv("MDCNB_MASK_KEY", MASK_KEY)
    dataset = sample_copy(tmp_path)
    code = cli(["report", "--dataset", str(dataset), "--mask-ids", "--out", str(tmp_path / "reports"),
                "--notebooks-dir", str(_one_notebook(tmp_path)), "--history", str(tmp_path / "h.duckdb")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "history:" in err and "tenant-" in err and TENANT not in err
    written = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert TENANT not in written


# -- library logs ------------------------------------------------------------------------------------------------

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJ0aWQiOiJ0In0.c2lnbmF0dXJl"
SECRET = "client-secret-value-8d1e77"
CLIENT = "11111111-2222-3333-4444-555555555555"
AAD_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "527dd316-6f4a-43d5-9eea-1e31852b4207"


@pytest.fixture
def servers(tmp_path):
    ctx, bundle = tls(tmp_path)
    aad = serve(AzureTestService(token=TOKEN, aad=True, client_secret=SECRET), ctx)
    arm = serve(AzureTestService(SAMPLE_DATASET, page_size=50, token=TOKEN), ctx)
    yield arm, aad, bundle
    arm.stop()
    aad.stop()


@pytest.fixture
def captured():
    """Every azure / MSAL record at DEBUG, as its handlers would print it; the log set-up restored after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("azure", "msal")]
    levels = [lg.level for lg in loggers]
    factory = logging.getLogRecordFactory()
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    yield stream
    logging.setLogRecordFactory(factory)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)
        lg.removeHandler(handler)


def _traced_get(arm, aad, bundle) -> None:
    """One ARM GET through azure-core with its network trace on (it logs the request's headers) and a token
    from azure-identity's ClientSecretCredential against the test Entra ID."""
    credential = ClientSecretCredential(AAD_TENANT, CLIENT, SECRET, authority=aad.url,
                                        disable_instance_discovery=True, connection_verify=str(bundle))
    client = PipelineClient(arm.url, policies=[
        BearerTokenCredentialPolicy(credential, "https://management.azure.com/.default"),
        NetworkTraceLoggingPolicy(logging_enable=True)], transport=RequestsTransport(connection_verify=str(bundle)))
    url = f"{arm.url}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Security/connectors?api-version=2020-01-01"
    assert client.send_request(HttpRequest("GET", url)).status_code == 200


def test_library_logs_lose_tokens_always(servers, captured, monkeypatch):
    from mdcnb.core.scrub import scrub_library_logs

    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    arm, aad, bundle = servers
    _traced_get(arm, aad, bundle)
    assert f"Bearer {TOKEN}" in captured.getvalue()  # the leak the scrubber is for: azure-core logs the header
    captured.truncate(0)
    scrub_library_logs()
    _traced_get(arm, aad, bundle)
    text = captured.getvalue()
    assert "Bearer <redacted>" in text and TOKEN not in text and SECRET not in text
    assert SUBSCRIPTION in text and AAD_TENANT in text  # ids stay when masking is off


def test_report_mask_ids_masks_library_logs(servers, captured, tmp_path, monkeypatch, capsys):
    """`mdcnb report --source azure --mask-ids` through the real CLI: the token request's URL (the tenant) and
    the subscriptions read reach the log masked."""
    arm, aad, bundle = servers
    monkeypatch.setenv("MDCNB_MASK_KEY", MASK_KEY)
    for name, value in {"AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": SECRET, "AZURE_TENANT_ID": AAD_TENANT,
                        "AZURE_AUTHORITY_HOST": aad.url, "REQUESTS_CA_BUNDLE": str(bundle)}.items():
        monkeypatch.setenv(name, value)
    code = cli(["report", "--source", "azure", "--mask-ids", "--arm-endpoint", arm.url,
                "--out", str(tmp_path / "reports"), "--notebooks-dir", str(_one_notebook(tmp_path)),
                "--history", str(tmp_path / "h.duckdb")])
    err = capsys.readouterr().err
    assert code == 0, err
    text = captured.getvalue()
    assert "tenant-" in text and "oauth2/v2.0/token" in text  # the token request was logged, masked
    subscriptions = {json.loads(line)["subscriptionId"] for line in
                     gzip.decompress((SAMPLE_DATASET / "subscriptions.jsonl.gz").read_bytes()).splitlines()}
    for output in (text, err):
        assert AAD_TENANT not in output and TOKEN not in output and SECRET not in output
        assert not {s for s in subscriptions if s in output}


def test_scrub_removes_every_token_shape():
    from mdcnb.core.scrub import scrub

    text = scrub(f"Authorization: Bearer abc.def-1 client_secret={SECRET}&x=1 "
                 f'{{"access_token": "opaque-42", "refresh_token":"r-9"}} jwt {TOKEN} password: hunter2')
    assert [s for s in ("abc.def-1", SECRET, "opaque-42", "r-9", TOKEN, "hunter2") if s in text] == []
    assert "x=1" in text and "client_secret=<redacted>" in text


def test_plain_leaves_numbers_and_missing_values():
    from mdcnb.figures.style import plain

    assert plain(pd.Series(["a&b", None, 3])).tolist() == ["a&amp;b", None, 3]
    assert plain("<b>") == "&lt;b&gt;" and plain(4.5) == 4.5
