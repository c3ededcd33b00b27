"""The columnar resources reader gives the per-row path's table exactly, on plain Resource Graph rows and on odd ones
mixed into them (a key spelled otherwise, a read property spelled twice, a missing id, a repeated id, a bad count,
an unreadable line); the expected figures are worked out by hand, and each test checks the columnar path really ran,
so it cannot pass by falling back."""

from __future__ import annotations

import pandas as pd
from azure_examples import dataset_from
from columnar_pair import same_as_per_row

from mdcnb.normalize import resource_columns
from mdcnb.sources.dataset import default_dataset

READER = resource_columns  # the reader the `chunks` fixture counts
TABLES = ("resources",)  # the tables it makes, checked against the per-row path's
SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
RG = f"/subscriptions/{SUB.upper()}/resourceGroups/RG-A/providers"


def _row(name: str, rtype: str = "Microsoft.Compute/virtualMachines", **fields) -> dict:
    """A Resource Graph `resources` row with every envelope key, as Resource Graph spells it."""
    return {"id": f"{RG}/{rtype}/{name.upper()}", "name": name, "type": rtype.lower(), "tenantId": "t", "kind": "",
            "location": "westeurope", "resourceGroup": "RG-A", "subscriptionId": SUB, "managedBy": "", "sku": None,
            "plan": None, "properties": {}, "tags": None, "identity": None, "zones": None, "extendedLocation": None,
            **fields}


def _vm(name: str, size: str, power: str) -> dict:
    return _row(name, properties={"vmId": name, "hardwareProfile": {"vmSize": size},
                                  "extended": {"instanceView": {"powerState": {"code": f"PowerState/{power}"}}}})



def test_sample_resources_are_the_per_row_resources(chunks):
    columnar = same_as_per_row(default_dataset(), TABLES)
    assert len(columnar["resources"]) == 144 and columnar["skips"].empty  # the sample's resources, none skipped
    assert chunks["columnar"] >= 2 and chunks["per_row"] == 0


def test_plain_and_odd_rows(tmp_path, chunks):
    aks = _row("aks1", "Microsoft.ContainerService/managedClusters", sku={"name": "Base", "tier": "Free"},
               properties={"agentPoolProfiles": [{"count": 3, "vmSize": "Standard_D8s_v5"},
                                                 {"count": 2, "vmSize": "Standard_E8-2ds_v5"}]})
    del aks["subscriptionId"], aks["resourceGroup"], aks["name"]  # all three from the id
    sql = _row("db1", "Microsoft.Sql/servers/databases", sku={"name": "GP_Gen5", "capacity": 4},
               properties={"vCores": "8"}, tags={"Env": "Prod"}, kind="v12.0,user")
    upper = _row("vm4", properties={"vCores": 2})
    upper["Properties"] = upper.pop("properties")  # read by the per-row path's folding only
    twice = _row("vm5", properties={"vCores": 2, "VCORES": 6})  # folded, the last spelling counts
    rows = [
        _vm("vm1 ", "Standard_D4s_v5", "running"), aks, sql,                          # lines 1-3: a plain chunk
        twice, _vm("vm6", "Standard_B2s", "running"), _vm("vm7", "Standard_B2s", "stopped"),  # 4-6: one odd key
        upper, {**_row("vm8"), "id": None},                                             # 7-9: odd; 8 has no id,
        {**_vm("x", "Standard_B2s", "running"), "id": f"{RG}/microsoft.compute/virtualmachines/vm1"},  # 9 repeats 1
        _row("vm10", sku={"name": "S1", "capacity": -1}), _vm("vm11", "Standard_D4s_v5", "deallocated"),  # 10-12
        _vm("vm12", "Standard_D4s_v5", "running"),
        _vm("vm13", "Standard_D4s_v5", "running"), _vm("vm14", "Standard_D4s_v5", "running"),  # 13-15: plain
        _row("vm15", properties={"powerState": "VM stopped"}, location=None),
    ]
    dataset_from(tmp_path, resources=rows)
    path = tmp_path / "resources.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": "/subscriptions/x/prov')  # a truncated last line: 16

    table = same_as_per_row(tmp_path, TABLES)
    skips = [(s.location, s.reason.split(" (")[0].split(":")[0]) for s in table["skips"].itertuples()]
    assert skips == [("line 8", "missing id"),
                     ("line 9", f"duplicate id {RG.lower()}/microsoft.compute/virtualmachines/vm1"),
                     ("line 10", "expected a count from 0 to 2**63 - 1, got -1"), ("line 16", "not JSON")]
    got = table["resources"].set_index("name")
    assert got.index.tolist() == ["vm1", "aks1", "db1", "vm5", "vm6", "vm7", "vm4", "vm11", "vm12", "vm13", "vm14",
                                "vm15"]
    assert got.loc["vm1", "resource_id"] == f"{RG}/Microsoft.Compute/virtualMachines/VM1 ".strip().lower()
    assert got.loc["vm1", "sku"] == "Standard_D4s_v5" and got.loc["vm1", "power_state"] == "running"
    assert got.loc["vm1", "kind"] is pd.NA and got.loc["vm1", "vcores"] is pd.NA  # "" is no kind; no vCores read
    assert got.loc["aks1", "subscription_id"] == SUB and got.loc["aks1", "resource_group"] == "rg-a"
    assert got.loc["aks1", "sku"] == "Base" and got.loc["aks1", "capacity"] == 3 + 2
    assert got.loc["aks1", "vcores"] == 3 * 8 + 2 * 2  # D8s: 8 vCPUs; E8-2ds: constrained to 2
    assert got.loc["db1", "type"] == "microsoft.sql/servers/databases" and got.loc["db1", "kind"] == "v12.0,user"
    assert (got.loc["db1", "capacity"], got.loc["db1", "vcores"], got.loc["db1", "tags"]) == (4, 8, {"Env": "Prod"})
    assert got.loc["vm4", "vcores"] == 2 and got.loc["vm5", "vcores"] == 6
    assert got.loc["vm11", "power_state"] == "deallocated" and got.loc["vm14", "sku"] == "Standard_D4s_v5"
    assert got.loc["vm7", "power_state"] == "stopped" and got.loc["vm7", "sku"] == "Standard_B2s"
    assert got.loc["vm15", "power_state"] == "vm stopped" and got.loc["vm15", "location"] is pd.NA
    assert str(got["capacity"].dtype) == "Int64" and str(got["sku"].dtype) == "string"
    assert chunks["columnar"] == 2 and chunks["per_row"] == 3  # lines 1-3 and 13-15; 4-6, 7-9 and 10-12


def test_sizing_read_once_per_distinct_key_across_chunks(tmp_path, chunks, monkeypatch):
    calls = []
    sizing = resource_columns._sizing
    monkeypatch.setattr(resource_columns, "_sizing", lambda key: calls.append(key) or sizing(key))
    rows = [_vm(f"vm{n}", "Standard_D4s_v5", "running") for n in range(5)] + [_row("sa1")]  # two chunks of three
    dataset_from(tmp_path, resources=rows)

    table = same_as_per_row(tmp_path, TABLES)
    assert table["resources"]["sku"].tolist() == ["Standard_D4s_v5"] * 5 + [pd.NA]
    assert table["resources"]["power_state"].tolist() == ["running"] * 5 + [pd.NA]
    assert len(calls) == 2  # the VMs' sizing and the storage account's, each read once over both chunks
    assert chunks["columnar"] == 2 and chunks["per_row"] == 0
