"""Live Azure pull against the loopback HTTPS test service (tests/azure_server.py): real TLS, real azure-identity
token flow against a fake Entra ID, real azure-core pipeline. Expected figures are counted from the served dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from azure.identity import ClientSecretCredential
from azure_server import AzureTestService, Fault, serve, tls
from azure_tenant import build, subscription_ids

from mdcnb.cli import main as cli
from mdcnb.sources.azure import pull
from mdcnb.sources.azure_http import RetrySettings
from mdcnb.sources.azure_paging import PullOptions
from mdcnb.sources.dataset import RECORD_TYPES, SAMPLE_DATASET, read_manifest, read_records
from mdcnb.tables import load_tables
from mdcnb.tables.history import HistoryStore

PAGE = 7
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.live-test-token-5f2c9a"
SECRET = "client-secret-value-8d1e77"
CLIENT = "11111111-2222-3333-4444-555555555555"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FAST = RetrySettings(backoff_factor=0.01, backoff_max=0.05, read_timeout=1.0, connection_timeout=2.0)
SECURITY_TYPES = ("assessments", "governanceassignments", "pricings", "securescores", "securescorecontrols",
                  "regulatorycompliancestandards",
                  "regulatorycompliancecontrols", "regulatorycomplianceassessments")


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tenant")
    build(path)
    return path


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory):
    return tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def servers(tls_files, tenant):
    """Start ARM (serving the tenant) and Entra ID test services; returns a factory taking service options."""
    running = []

    def start(**kwargs):
        ctx, _ = tls_files
        aad = serve(AzureTestService(token=TOKEN, aad=True, client_secret=SECRET), ctx)
        arm = serve(AzureTestService(tenant, page_size=kwargs.pop("page_size", PAGE), token=TOKEN, **kwargs), ctx)
        running.extend([aad, arm])
        return arm, aad

    yield start
    for server in running:
        server.stop()


def credential(aad, bundle: Path) -> ClientSecretCredential:
    return ClientSecretCredential(TENANT, CLIENT, SECRET, authority=aad.url, disable_instance_discovery=True,
                                  connection_verify=str(bundle))


def run_pull(arm, aad, bundle, out: Path, **kwargs) -> dict:
    options = PullOptions(page_size=1000, retry=FAST, **kwargs.pop("options", {}))
    pull(out, arm_endpoint=arm.url, credential=credential(aad, bundle), options=options,
         connection_verify=str(bundle), **kwargs)
    return read_manifest(out)


def rows(dataset: Path, record_type: str) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in read_records(dataset, record_type).records)


def sub_of(line: str) -> str:
    record = json.loads(line)
    return (record.get("subscriptionId") or record["id"].split("/")[2]).lower()


def test_pull_returns_every_row_of_the_served_tenant(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    for record_type in RECORD_TYPES:
        assert rows(tmp_path / "out", record_type) == rows(tenant, record_type), record_type
    assert manifest["complete"] is True and manifest["pull_log"] == [] and manifest["incomplete"] == []
    assert manifest["counts"] == {t: len(rows(tenant, t)) for t in RECORD_TYPES}
    assert manifest["source"] == "azure" and manifest["scope"]["kind"] == "tenant"


def test_tables_of_a_live_pull_equal_the_served_datasets(servers, tls_files, tenant, tmp_path):
    """The same normalisers read the served files and the pulled ones: every table is equal, row for row."""
    arm, aad = servers()
    run_pull(arm, aad, tls_files[1], tmp_path / "out")
    live, served = load_tables(tmp_path / "out"), load_tables(tenant)
    for name, frame in served.items():
        if name == "skips":
            continue
        assert len(frame) > 0 or name == "plan_extensions", name
        pd.testing.assert_frame_equal(_sorted(live[name]), _sorted(frame), obj=name)
    assert len(live.skips) == 0 and len(served.skips) == 0


@pytest.fixture
def sample_servers(tls_files):
    """ARM serving the committed sample tenant (50 rows a page) and Entra ID."""
    ctx, _ = tls_files
    aad = serve(AzureTestService(token=TOKEN, aad=True, client_secret=SECRET), ctx)
    arm = serve(AzureTestService(SAMPLE_DATASET, page_size=50, token=TOKEN), ctx)
    yield arm, aad
    arm.stop()
    aad.stop()


def test_the_committed_sample_survives_a_live_pull(sample_servers, tls_files, tmp_path):
    """The embedded sample tenant (ARG and REST shapes mixed, classic connector, connector-scope scores) served over
    HTTPS and pulled back gives the same tables as reading it directly."""
    arm, aad = sample_servers
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    assert manifest["complete"] is True, manifest["pull_log"]
    live, sample = load_tables(tmp_path / "out"), load_tables(SAMPLE_DATASET)
    for name, frame in sample.items():
        pd.testing.assert_frame_equal(_sorted(live[name]), _sorted(frame), obj=name)
    for record_type in RECORD_TYPES:
        assert rows(tmp_path / "out", record_type) == rows(SAMPLE_DATASET, record_type), record_type


def test_governance_figures_of_a_live_pull_are_those_of_the_sample(sample_servers, tls_files, tmp_path, capsys):
    """Governance assignments (securityresources, batched) and exemptions (policyresources at tenant scope, the
    management-group one included) pulled over HTTPS give the figures the sample on disk gives."""
    arm, aad = sample_servers
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    assert manifest["complete"] is True and manifest["pull_log"] == []
    served = {t: len(rows(SAMPLE_DATASET, t)) for t in ("governanceassignments", "policyexemptions")}
    assert {t: manifest["counts"][t] for t in served} == served and all(served.values())
    exemption_queries = [json.loads(r.body) for r in arm.service.requests if b"policyresources" in r.body]
    assert exemption_queries and not any("subscriptions" in q for q in exemption_queries)
    for command in ("governance", "exemptions", "risk"):
        figures = []
        for dataset in (tmp_path / "out", SAMPLE_DATASET):  # a pull's own time is now: both judged at the sample's
            as_of = ["--as-of", read_manifest(SAMPLE_DATASET)["as_of"]] if command != "risk" else []
            assert cli([command, "--dataset", str(dataset), "--json", *as_of]) == 0
            figures.append(json.loads(capsys.readouterr().out))
        assert figures[0] == figures[1], command


def test_report_straight_from_the_tenant(sample_servers, tls_files, tmp_path, monkeypatch, capsys):
    """`mdcnb report --source azure`: pull (one subscription forbidden), keep the dataset, run the secure score
    page on it, and show the pull log on the index page."""
    arm, aad = sample_servers
    denied = sorted(sub_of(line) for line in rows(SAMPLE_DATASET, "subscriptions"))[0]
    arm.service.forbidden.add(denied)
    use_environment_credentials(monkeypatch, aad, tls_files[1])
    code = cli(["report", "--source", "azure", "--arm-endpoint", arm.url, "--out", str(tmp_path / "reports"),
                "--notebook", "10", "--workers", "1"])
    assert code == 0, capsys.readouterr().err
    (dataset,) = (tmp_path / "reports" / "datasets").iterdir()
    manifest = read_manifest(dataset)
    assert manifest["source"] == "azure" and manifest["complete"] is False
    assert denied not in {sub_of(line) for line in rows(dataset, "assessments")}
    (index,) = (tmp_path / "reports").glob("*-W*/index.html")
    page = index.read_text(encoding="utf-8")
    assert "forbidden" in page and denied in page
    assert (index.parent / "10_secure_score.html").is_file()
    everything = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert TOKEN not in everything and SECRET not in everything


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if frame[c].dtype == "string"]
    return frame.sort_values(keys).reset_index(drop=True) if len(frame) else frame


def test_request_count_equals_the_pages_needed(servers, tls_files, tenant, tmp_path):
    """No wasted request: one per page of PAGE rows per query, counted independently from the served files."""
    arm, aad = servers()
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    n = {t: len(rows(tenant, t)) for t in RECORD_TYPES}
    classic = sum('"microsoft.security/connectors"' in line.lower() for line in rows(tenant, "securityconnectors"))
    security = sum(n[t] for t in SECURITY_TYPES)
    resources = n["resources"] + n["securityconnectors"] - classic
    subs = n["subscriptions"]
    expected_arg = sum(max(1, math.ceil(k / PAGE)) for k in (subs, security, resources, n["policyexemptions"]))
    expected_arm = max(1, math.ceil(n["assessmentmetadata"] / PAGE)) + subs  # metadata pages + classic per sub
    arg = [r for r in arm.service.requests if r.method == "POST"]
    get = [r for r in arm.service.requests if r.method == "GET"]
    assert (len(arg), len(get)) == (expected_arg, expected_arm)
    assert manifest["requests"]["requests"] == expected_arg + expected_arm


def test_only_reads_are_sent_and_no_secret_reaches_disk(servers, tls_files, tmp_path):
    arm, aad = servers()
    out = tmp_path / "out"
    run_pull(arm, aad, tls_files[1], out)
    assert arm.service.requests
    for r in arm.service.requests:
        assert r.method == "GET" or (r.method == "POST" and r.path == "/providers/Microsoft.ResourceGraph/resources")
        assert r.authorization == f"Bearer {TOKEN}"
    assert aad.service.token_requests[0]["scope"] == ["https://management.azure.com/.default"]
    for path in out.rglob("*"):
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        assert TOKEN not in text and SECRET not in text and "Bearer " not in text, path


@pytest.mark.parametrize("fault", [
    Fault("throttle", table="securityresources", page=1, times=2, retry_after=1),
    Fault("error500", table="securityresources", page=2, times=2),
    Fault("error500", table="resourcecontainers", page=0, times=1),
    Fault("drop", table="resources", page=1, times=1),
    Fault("slow", table="securityresources", page=3, times=1, delay=1.6),
    Fault("cut_body", table="securityresources", page=1, times=1),
    Fault("throttle", table="rest", times=2, retry_after=1),
    Fault("drop", table="rest", times=1),
], ids=lambda f: f"{f.kind}-{f.table}")
def test_transient_faults_are_retried_and_the_pull_is_complete(servers, tls_files, tenant, tmp_path, fault):
    arm, aad = servers()
    arm.service.faults.append(fault)
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    assert fault.hits == fault.times
    assert manifest["complete"] is True, manifest["pull_log"]
    for record_type in RECORD_TYPES:
        assert rows(tmp_path / "out", record_type) == rows(tenant, record_type), record_type
    if fault.kind == "throttle":
        assert manifest["requests"]["throttled"] == fault.times


def test_truncated_result_is_logged_with_the_missing_rows(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    arm.service.faults.append(Fault("truncated", table="securityresources", page=0, times=1))
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    security = sum(len(rows(tenant, t)) for t in SECURITY_TYPES)
    (entry,) = manifest["pull_log"]
    assert (entry["kind"], entry["missing_rows"]) == ("truncated", security - PAGE)
    assert manifest["complete"] is False
    assert set(manifest["incomplete"]) <= set(SECURITY_TYPES) and manifest["incomplete"]
    assert sum(manifest["counts"][t] for t in SECURITY_TYPES) == PAGE


def test_page_failing_after_retries_is_logged_with_the_missing_rows(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    arm.service.faults.append(Fault("fail_page", table="securityresources", page=2, times=-1))
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    security = sum(len(rows(tenant, t)) for t in SECURITY_TYPES)
    (entry,) = manifest["pull_log"]
    assert entry["kind"] == "failed" and "500" in entry["why"]
    assert entry["missing_rows"] == security - 2 * PAGE
    assert manifest["complete"] is False
    assert sum(manifest["counts"][t] for t in SECURITY_TYPES) == 2 * PAGE
    assert manifest["counts"]["resources"] == len(rows(tenant, "resources"))  # other queries unaffected


def test_first_page_failing_is_logged_as_unknown_missing(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    arm.service.faults.append(Fault("fail_page", table="resources", page=0, times=-1))
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    (entry,) = manifest["pull_log"]
    assert entry["kind"] == "failed" and entry["missing_rows"] is None
    assert manifest["incomplete"] == ["resources", "securityconnectors"]
    assert manifest["counts"]["assessments"] == len(rows(tenant, "assessments"))


def test_forbidden_subscription_is_isolated_and_logged(servers, tls_files, tenant, tmp_path):
    denied = subscription_ids(6)[2]
    arm, aad = servers()
    arm.service.forbidden.add(denied)
    out = tmp_path / "out"
    manifest = run_pull(arm, aad, tls_files[1], out)
    forbidden = [e for e in manifest["pull_log"] if e["kind"] == "forbidden"]
    assert {s for e in forbidden for s in e["subscriptions"]} == {denied}
    assert all(e["missing_rows"] is None for e in forbidden)
    assert manifest["complete"] is False
    for record_type in (*SECURITY_TYPES, "resources"):
        expected = [line for line in rows(tenant, record_type) if sub_of(line) != denied]
        assert rows(out, record_type) == expected, record_type


def test_quota_headers_pace_the_workers(servers, tls_files, tenant, tmp_path):
    arm, aad = servers(quota=4, quota_window=0.5)
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out", options={"workers": 2})
    assert arm.service.quota_violations == 0
    assert manifest["requests"]["quota_waits"] > 0 and manifest["complete"] is True
    assert rows(tmp_path / "out", "assessments") == rows(tenant, "assessments")


def test_management_group_scope(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out", management_group="mg-dev")
    dev = set(subscription_ids(6)[1::2])
    assert {sub_of(line) for line in rows(tmp_path / "out", "subscriptions")} == dev
    assert rows(tmp_path / "out", "assessments") == [
        line for line in rows(tenant, "assessments") if sub_of(line) in dev]
    assert rows(tmp_path / "out", "policyexemptions") == [  # those of its subscriptions and its own
        line for line in rows(tenant, "policyexemptions") if sub_of(line) in dev or "managementGroups/mg-dev/" in line]
    assert manifest["scope"]["kind"] == "management_group" and manifest["complete"] is True


def test_tenant_subscription_limit_is_logged(servers, tls_files, tenant, tmp_path):
    """Tenant scope answers for the first N subscriptions only (10,000 in Azure): the log says the rest is missing."""
    arm, aad = servers()
    arm.service.subscription_limit = 4
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out")
    assert manifest["counts"]["subscriptions"] == 4
    (entry,) = manifest["pull_log"]
    assert entry["kind"] == "truncated" and "10,000" in entry["why"] and entry["missing_rows"] is None
    assert manifest["complete"] is False


def test_explicit_subscriptions_and_an_unknown_one(servers, tls_files, tenant, tmp_path):
    arm, aad = servers()
    wanted = subscription_ids(6)[:2]
    unknown = "99999999-0000-4000-8000-000000000000"
    manifest = run_pull(arm, aad, tls_files[1], tmp_path / "out", subscriptions=[*wanted, unknown.upper()])
    assert {sub_of(line) for line in rows(tmp_path / "out", "pricings")} == set(wanted)
    # exemptions are read at tenant scope: those of the two subscriptions and of the groups above them (one each)
    assert rows(tmp_path / "out", "policyexemptions") == [
        line for line in rows(tenant, "policyexemptions") if sub_of(line) in wanted or "managementGroups" in line]
    (entry,) = manifest["pull_log"]
    assert (entry["kind"], entry["subscriptions"], entry["missing_rows"]) == ("not_visible", [unknown], None)


def use_environment_credentials(monkeypatch, aad, bundle: Path) -> None:
    """The azure-identity variables a service principal login uses, pointed at the test Entra ID and CA."""
    for name, value in {"AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": SECRET, "AZURE_TENANT_ID": TENANT,
                        "AZURE_AUTHORITY_HOST": aad.url, "REQUESTS_CA_BUNDLE": str(bundle)}.items():
        monkeypatch.setenv(name, value)


def test_cli_with_environment_credentials_and_sovereign_cloud(servers, tls_files, tenant, tmp_path, monkeypatch,
                                                              capsys):
    """`mdcnb pull` as a user runs it: DefaultAzureCredential from the azure-identity variables, CA bundle from
    REQUESTS_CA_BUNDLE, the US Government cloud's token scope, ARM reached through --arm-endpoint."""
    arm, aad = servers()
    use_environment_credentials(monkeypatch, aad, tls_files[1])
    out, store = tmp_path / "out", tmp_path / "history.duckdb"
    code = cli(["pull", "--source", "azure", "--cloud", "AzureUSGovernment", "--arm-endpoint", arm.url,
                "--out", str(out), "--history", str(store)])
    assert code == 0
    with HistoryStore(store, read_only=True) as history:  # every pull keeps a snapshot
        (snapshot,) = history.snapshots()
        assert snapshot.source == "azure" and snapshot.row_counts["assessments"] == len(rows(out, "assessments"))
    assert aad.service.token_requests[0]["scope"] == ["https://management.usgovcloudapi.net/.default"]
    assert rows(out, "assessments") == rows(tenant, "assessments")
    err = capsys.readouterr().err
    assert "assessments" in err and SECRET not in err and TOKEN not in err
    assert read_manifest(out)["cloud"] == "AzureUSGovernment"


def test_cli_exit_code_says_incomplete(servers, tls_files, tmp_path, monkeypatch, capsys):
    arm, aad = servers()
    arm.service.forbidden.add(subscription_ids(6)[0])
    use_environment_credentials(monkeypatch, aad, tls_files[1])
    code = cli(["pull", "--arm-endpoint", arm.url, "--out", str(tmp_path / "out"),
                "--history", str(tmp_path / "history.duckdb")])
    assert code == 3
    assert "INCOMPLETE [forbidden]" in capsys.readouterr().err


def test_wrong_secret_ends_in_the_log_not_a_crash(servers, tls_files, tmp_path):
    arm, aad = servers()
    bad = ClientSecretCredential(TENANT, CLIENT, "wrong-secret", authority=aad.url, disable_instance_discovery=True,
                                 connection_verify=str(tls_files[1]))
    pull(tmp_path / "out", arm_endpoint=arm.url, credential=bad, connection_verify=str(tls_files[1]),
         options=PullOptions(retry=FAST))
    manifest = read_manifest(tmp_path / "out")
    assert manifest["complete"] is False and manifest["counts"]["subscriptions"] == 0
    whats = {e["what"].split(" for ")[0]: e for e in manifest["pull_log"]}
    assert set(whats) == {"resourcecontainers", "GET /providers/Microsoft.Security/assessmentMetadata"}
    assert all(e["kind"] == "failed" and "ClientAuthenticationError" in e["why"] for e in whats.values())
    assert "wrong-secret" not in json.dumps(manifest)
    assert arm.service.requests == []


def test_bad_targets_are_refused_before_any_request(tmp_path):
    (tmp_path / "notes.txt").write_text("not a dataset")
    with pytest.raises(ValueError, match="not a dataset"):
        pull(tmp_path, arm_endpoint="https://127.0.0.1:9")
    with pytest.raises(ValueError, match="https URL without credentials") as error:
        pull(tmp_path / "new", arm_endpoint="https://user:pa55word@127.0.0.1:9")
    assert "pa55word" not in str(error.value)
    with pytest.raises(ValueError, match="https URL"):
        pull(tmp_path / "new", arm_endpoint="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="unknown Azure cloud"):
        pull(tmp_path / "new", cloud="AzureMoon")
