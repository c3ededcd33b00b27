"""The chunked pricings reader gives the per-row path's `plans` and `plan_extensions` exactly, on plain records
sharing their settings and on odd ones mixed into them (the enablement time spelled otherwise or twice, an unknown
tier, a repeated id, extensions that are no list, a name that is no text, a truncated line); the expected figures are
worked out by hand, and each test checks the chunked path really ran, so it cannot pass by falling back."""

from __future__ import annotations

import pandas as pd
from azure_examples import dataset_from
from columnar_pair import same_as_per_row

from mdcnb.normalize import pricing_columns
from mdcnb.sources.dataset import default_dataset

READER = pricing_columns  # the reader the `chunks` fixture counts
TABLES = ("plans", "plan_extensions")  # the tables it makes, checked against the per-row path's
SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
SCOPE = f"/subscriptions/{SUB.upper()}"
VM = f"{SCOPE}/resourceGroups/RG-A/providers/Microsoft.Compute/virtualMachines/VM-1"
EXTENSIONS = [{"name": "MdeDesignatedSubscription", "isEnabled": "False"},
              {"name": "AgentlessVmScanning", "isEnabled": "True", "additionalExtensionProperties": {"Tags": "[]"}}]


def _pricing(plan: str, scope: str = SCOPE, **props) -> dict:
    """A Resource Graph `securityresources` pricing row, every key spelled as Resource Graph spells it."""
    return {"id": f"{scope}/providers/Microsoft.Security/pricings/{plan}", "name": plan,
            "type": "microsoft.security/pricings", "subscriptionId": SUB, "sku": None, "tags": None,
            "properties": {"pricingTier": "Standard", "freeTrialRemainingTime": "PT0S", "enforce": "False", **props}}


def test_sample_pricings_are_the_per_row_ones(chunks):
    tables = same_as_per_row(default_dataset(), TABLES)
    assert len(tables["plans"]) > 0 and tables["skips"].empty
    assert chunks["columnar"] >= 1 and chunks["per_row"] == 0


def test_plain_and_odd_records(tmp_path, chunks):
    on_vm = _pricing("VirtualMachines", VM, pricingTier="free", freeTrialRemainingTime="P1DT12H", inherited="True")
    del on_vm["name"], on_vm["properties"]["enforce"]
    on_vm["subscriptionId"] = None  # the subscription from the id
    cased = _pricing("Api")
    cased["properties"]["EnablementTime"] = "2026-04-04T00:00:00Z"  # read by the per-row path's folding only
    twice = _pricing("Dns", enablementTime="2026-05-05T00:00:00Z", ENABLEMENTTIME="2026-06-06T00:00:00Z")
    records = [
        _pricing("VirtualMachines", subPlan="P2", enablementTime="2026-01-02T03:04:05Z", extensions=EXTENSIONS),
        on_vm,                                                                     # lines 1-3: a plain chunk, 1
        _pricing("StorageAccounts", subPlan="P2", enablementTime="2026-02-03T00:00:00Z", extensions=EXTENSIONS),
        cased, _pricing("KeyVaults"), _pricing("Arm"),                             # 4-6: one odd key
        _pricing("Dns", pricingTier="Premium"), {**_pricing("x"), "id": _pricing("VirtualMachines")["id"].lower()},
        _pricing("Cspm", extensions=5),                     # 7-9: an unknown tier, 1 repeated, extensions no list
        {**_pricing("Sql"), "name": 7}, _pricing("Ai"), _pricing("Foundry"),       # 10-12: a name that is no text
        twice, _pricing("Search"), _pricing("Cosmos"),                             # 13-15: the time spelled twice
        _pricing("Containers", pricingTier="Free", deprecated=True, replacedBy=["Containers2"]),  # 16-18: plain
        _pricing("AppServices", subPlan="P1"), _pricing("OpenSourceRelationalDatabases"),
    ]
    dataset_from(tmp_path, pricings=records)
    path = tmp_path / "pricings.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": "/subscriptions/x/prov')  # a truncated last line: 19

    tables = same_as_per_row(tmp_path, TABLES)
    skips = [(s.location, s.reason.split(" (first")[0].split(":")[0]) for s in tables["skips"].itertuples()]
    assert skips == [("line 7", "unknown pricingTier 'Premium'"),
                     ("line 8", f"duplicate id {SCOPE.lower()}/providers/microsoft.security/pricings/virtualmachines"),
                     ("line 9", "unreadable record (TypeError"), ("line 19", "not JSON")]
    plans = tables["plans"]
    assert plans["plan"].tolist() == ["VirtualMachines", "VirtualMachines", "StorageAccounts", "Api", "KeyVaults",
                                      "Arm", "7", "Ai", "Foundry", "Dns", "Search", "Cosmos", "Containers",
                                      "AppServices", "OpenSourceRelationalDatabases"]
    first, on_vm_row, storage = (plans.iloc[k] for k in range(3))
    assert (first["scope_id"], first["level"], first["subscription_id"]) == (SCOPE.lower(), "subscription", SUB)
    assert (first["tier"], first["enabled"], first["sub_plan"], first["enforce"]) == ("Standard", True, "P2", False)
    assert first["enablement_time"] == pd.Timestamp("2026-01-02T03:04:05Z")
    assert first["free_trial_remaining_days"] == 0.0
    assert first["extensions_enabled"] == ["AgentlessVmScanning"] and first["replaced_by"] == []
    assert (on_vm_row["scope_id"], on_vm_row["level"], on_vm_row["subscription_id"]) == (VM.lower(), "resource", SUB)
    assert (on_vm_row["tier"], on_vm_row["enabled"], on_vm_row["inherited"]) == ("Free", False, True)
    assert on_vm_row["free_trial_remaining_days"] == 1.5 and on_vm_row["enforce"] is pd.NA  # P1DT12H: a day and a half
    assert storage["enablement_time"] == pd.Timestamp("2026-02-03", tz="UTC")
    assert storage["sub_plan"] == "P2" and storage["extensions_enabled"] == ["AgentlessVmScanning"]  # shared settings
    assert plans.iloc[3]["enablement_time"] == pd.Timestamp("2026-04-04", tz="UTC")  # the folded spelling
    assert plans.iloc[9]["enablement_time"] == pd.Timestamp("2026-06-06", tz="UTC")  # folded, the last spelling
    containers = plans.iloc[12]
    assert (containers["deprecated"], containers["replaced_by"]) == (True, ["Containers2"])
    assert plans["deprecated"].tolist() == [False] * 12 + [True, False, False]
    extensions = tables["plan_extensions"]
    assert list(zip(extensions["plan"], extensions["extension"], extensions["enabled"], strict=True)) == [
        ("VirtualMachines", "MdeDesignatedSubscription", False), ("VirtualMachines", "AgentlessVmScanning", True),
        ("StorageAccounts", "MdeDesignatedSubscription", False), ("StorageAccounts", "AgentlessVmScanning", True)]
    assert extensions["properties"].tolist() == [None, {"Tags": "[]"}, None, {"Tags": "[]"}]
    assert set(extensions["scope_id"]) == {SCOPE.lower()} and set(extensions["subscription_id"]) == {SUB}
    assert chunks["columnar"] == 2 and chunks["per_row"] == 4  # lines 1-3 and 16-18; the four chunks between
