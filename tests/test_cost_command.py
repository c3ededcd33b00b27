"""`mdcnb cost` and `mdcnb prices` end to end: raw Azure records -> normalise -> model -> CLI output."""

import gzip
import json

import pytest
from loopback_https import https_server
from test_retail_prices import paged

from mdcnb.cli import main
from mdcnb.normalize.inventory import vm_size_vcpus
from mdcnb.sources.dataset_write import write_manifest, write_records

SUB = "cccccccc-0000-0000-0000-000000000003"
# list prices of the committed table, per hour (shared reference section 1.1) x 730 h
P1, STORAGE, VCORE, CSPM, KEY_VAULT, ARM = 0.00672 * 730, 0.0134 * 730, 0.0094086 * 730, 0.007 * 730, 0.25, 0.0069 * 730


def pricing(plan, tier, sub_plan=None, trial="PT0S"):
    props = {"pricingTier": tier, "freeTrialRemainingTime": trial}
    if sub_plan:
        props["subPlan"] = sub_plan
    return {"id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/{plan}", "name": plan,
            "type": "Microsoft.Security/pricings", "properties": props}


def arg_row(provider_type, name, **props):
    return {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/{provider_type}/{name}", "name": name,
            "type": provider_type, "subscriptionId": SUB, "resourceGroup": "rg", "properties": props}


def power(code):
    return {"extended": {"instanceView": {"powerState": {"code": f"PowerState/{code}"}}}}


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    write_records(root, "subscriptions", [{"id": f"/subscriptions/{SUB}", "subscriptionId": SUB,
                                           "displayName": "cost-test", "state": "Enabled"}])
    write_records(root, "pricings", [
        pricing("VirtualMachines", "Standard", "P1"),
        pricing("StorageAccounts", "Standard", "DefenderForStorageV2", trial="P10D"),
        pricing("KeyVaults", "Free"),
        pricing("Containers", "Standard"),
    ])
    write_records(root, "resources", [
        arg_row("Microsoft.Compute/virtualMachines", "vm-on", **power("running")),
        arg_row("Microsoft.Compute/virtualMachines", "vm-off", **power("deallocated")),
        arg_row("Microsoft.Storage/storageAccounts", "sa1"),
        arg_row("Microsoft.ContainerService/managedClusters", "aks1", agentPoolProfiles=[
            {"name": "sys", "count": 2, "vmSize": "Standard_D4s_v5"},
            {"name": "user", "count": 3, "vmSize": "Standard_B2s"}]),
        arg_row("Microsoft.KeyVault/vaults", "kv1"),
    ])
    write_manifest(root, source="test", scope={})
    return root


def test_cost_json_on_raw_records(dataset, capsys):
    assert main(["cost", "--dataset", str(dataset), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["price_table"]["date"] == "2026-11-28" and doc["price_table"]["currency"] == "USD"
    aks_vcores = 2 * 4 + 3 * 2
    configured = P1 + STORAGE + aks_vcores * VCORE  # vm-off is deallocated; Key Vault is Free
    assert doc["monthly_total"] == round(configured, 2)
    assert doc["by_plan"] == {"Containers": round(aks_vcores * VCORE, 2), "StorageAccounts": round(STORAGE, 2),
                              "VirtualMachines": round(P1, 2)}
    assert doc["by_scope"] == {f"/subscriptions/{SUB}": round(configured, 2)}
    # storage has 10 of 30 trial days left
    assert doc["next_30_days_total"] == round(configured - STORAGE * 10 / 30, 2)
    # enable all adds CSPM on the running VM and the storage account, Key Vault and Resource Manager
    enable_all = configured + 2 * CSPM + KEY_VAULT + ARM
    assert doc["enable_all_monthly_total"] == round(enable_all, 2)
    assert doc["enable_all_delta"] == pytest.approx(round(enable_all, 2) - round(configured, 2))
    assert doc["servers_p2_to_p1_saving"] == 0.0 and doc["uncounted"] == []
    assert set(doc) >= {"price_table", "monthly_total", "by_plan", "by_scope", "enable_all_monthly_total",
                        "siem_monthly"}


def test_cost_with_negotiated_prices_and_text_output(dataset, tmp_path, capsys):
    override = tmp_path / "ea.csv"
    override.write_text("plan,sub_plan,monthly_price\nContainers,,5\n")
    assert main(["cost", "--dataset", str(dataset), "--override", str(override), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by_plan"]["Containers"] == 14 * 5 and doc["price_table"]["overrides"] == ["ea.csv"]
    assert main(["cost", "--dataset", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "prices-2026-11-28-USD" in out and f"{P1 + STORAGE + 14 * VCORE:,.2f}" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("plan,sub_plan,monthly_price\nContainer,,5\n")
    assert main(["cost", "--dataset", str(dataset), "--override", str(bad)]) == 2
    assert "no price row for plan 'Container'" in capsys.readouterr().err


def test_prices_refresh_writes_a_dated_table(tmp_path, monkeypatch, capsys):
    with https_server(paged, tmp_path) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_path)
        code = main(["prices", "refresh", "--currency", "EUR", "--region", "westeurope",
                     "--endpoint", f"{server.base_url}/api/retail/prices", "--out", str(tmp_path / "prices")])
    assert code == 0
    written = list((tmp_path / "prices").glob("prices-*-EUR.json"))
    assert len(written) == 1
    table = json.loads(written[0].read_text())
    assert table["currency"] == "EUR" and "Retail Prices API" in table["source"]
    # 4 services were asked, each answered with the same 3 pages
    assert "5 of" in capsys.readouterr().out and len(server.requests) == 4 * 3


@pytest.mark.parametrize(("size", "cpus"), [("Standard_D4s_v5", 4), ("Standard_B2s", 2), ("Standard_M128ms", 128),
                                            ("Standard_E8-2ds_v5", 2), ("Standard_DS2_v2", 2), ("custom", None)])
def test_vm_size_vcpus(size, cpus):
    assert vm_size_vcpus(size) == cpus


def cloudtrail_record(n, day, role, read_only=True):
    account = "444455556666"
    return {"eventVersion": "1.08", "eventID": f"00000000-0000-0000-0000-00000000000{n}",
            "eventTime": f"2026-11-0{day}T10:00:00Z", "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances", "awsRegion": "us-east-1", "readOnly": read_only,
            "recipientAccountId": account, "eventType": "AwsApiCall",
            "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session",
                             "sessionContext": {"sessionIssuer": {"type": "Role",
                                                                  "arn": f"arn:aws:iam::{account}:role/{role}"}}}}


def test_siem_side_from_the_dataset_cloudtrail_logs(dataset, capsys):
    records = [cloudtrail_record(1, 1, "CspmMonitorAws"), cloudtrail_record(2, 2, "CspmMonitorAws"),
               cloudtrail_record(3, 2, "Developer")]
    folder = dataset / "cloudtrail/AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/01"
    folder.mkdir(parents=True)
    path = folder / "444455556666_CloudTrail_us-east-1_20261101T1000Z_abcdef.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    assert main(["cost", "--dataset", str(dataset), "--json", "--price-per-gb", "1000000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    size = [len(json.dumps(r, separators=(",", ":"))) for r in records]
    # a 2-day window projected to 30 days; $1M per GB so that a few events give cents
    assert doc["siem_monthly"] == round((size[0] + size[1]) / 1e9 * 1e6 * 30 / 2, 2)
    assert doc["siem"]["monthly_cost"] == round(sum(size) / 1e9 * 1e6 * 30 / 2, 2)
    assert doc["siem"]["filtered_events"] == 2 and doc["siem"]["price_source"] == "given by the user"


def test_no_cloudtrail_logs_says_so(dataset, capsys):
    assert main(["cost", "--dataset", str(dataset), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["siem_monthly"] is None and "no CloudTrail logs" in doc["siem"]["note"]


def test_prices_show_and_a_broken_table(tmp_path, capsys):
    assert main(["prices", "show"]) == 0
    out = capsys.readouterr().out
    assert "prices-2026-11-28-USD" in out and "VirtualMachines" in out and "sentinel-analytics" in out
    broken = tmp_path / "prices-2026-12-01-USD.json"
    broken.write_text('{"name": "prices-2026-12-01-USD", "date": "2026-12-01", "rows": [')
    assert main(["prices", "show", "--prices", str(broken)]) == 2
    assert "cannot read price table" in capsys.readouterr().err
    assert main(["cost", "--prices", str(broken)]) == 2
    assert "cannot read price table" in capsys.readouterr().err
    assert main(["cost", "--currency", "JPY"]) == 2
    assert "no JPY price table" in capsys.readouterr().err
