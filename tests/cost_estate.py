"""A small hand-built estate and price table for the cost tests; expected totals are worked out by hand in the tests."""

from __future__ import annotations

import pandas as pd

from mdcnb.core import schema
from mdcnb.sources.prices import PriceTable, price_table_from_dict
from mdcnb.tables import Tables

SUB_A = "aaaaaaaa-0000-0000-0000-000000000001"
SUB_B = "bbbbbbbb-0000-0000-0000-000000000002"
CONNECTOR = f"/subscriptions/{SUB_B}/resourcegroups/conn/providers/microsoft.security/securityconnectors/aws-prod"
ACCOUNT = "123456789012"


def rid(sub: str, rg: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/{provider_type}/{name}"


VM1 = rid(SUB_A, "rg1", "microsoft.compute/virtualmachines", "vm1")
VMSS1 = rid(SUB_A, "rg1", "microsoft.compute/virtualmachinescalesets", "vmss1")


def hand_prices() -> PriceTable:
    """Round prices so that the expected totals are easy to check by hand."""
    def rec(plan, sub_plan, monthly):
        return {"plan": plan, "sub_plan": sub_plan, "kind": "recurring", "billing_unit": "unit",
                "monthly_price": monthly, "source": "test", "source_date": "2026-01-01", "confidence": "P"}
    rows = [rec("VirtualMachines", "P1", 5), rec("VirtualMachines", "P2", 15), rec("Containers", "", 7),
            rec("StorageAccounts", "DefenderForStorageV2", 10), rec("KeyVaults", "PerKeyVault", 0.25),
            rec("Arm", "PerSubscription", 5), rec("CloudPosture", "", 5), rec("SqlServers", "", 15),
            rec("OpenSourceRelationalDatabases", "", 15), rec("AppServices", "", 15), rec("Api", "P1", 200),
            {"plan": "Dns", "sub_plan": "", "kind": "usage", "billing_unit": "1M queries", "usage_price": 0.7,
             "usage_unit": "1M queries", "usage_block": 1e6, "source": "test", "source_date": "2026-01-01",
             "confidence": "S"},
            {"plan": "SIEM", "sub_plan": "per-gb", "kind": "usage", "billing_unit": "GB", "usage_price": 4.0,
             "usage_unit": "GB", "usage_block": 1, "source": "test", "source_date": "2026-01-01", "confidence": "U"},
            {"plan": "SIEM", "sub_plan": "per-events", "kind": "usage", "billing_unit": "1M events",
             "usage_price": 2.0, "usage_unit": "1M events", "usage_block": 1e6, "source": "test",
             "source_date": "2026-01-01", "confidence": "U"}]
    return price_table_from_dict({"name": "prices-2026-01-01-USD", "date": "2026-01-01", "currency": "USD",
                                  "source": "hand-made test table", "rows": rows,
                                  "siem_bytes_per_event": {"value": 1000}})


def _plan(sub, plan, tier, sub_plan=None, trial=0.0, deprecated=False, level="subscription", scope=None):
    return {"scope_id": scope or f"/subscriptions/{sub}", "subscription_id": sub, "level": level, "plan": plan,
            "tier": tier, "enabled": tier == "Standard", "sub_plan": sub_plan, "free_trial_remaining_days": trial,
            "deprecated": deprecated}


def _res(sub, rg, provider_type, name, **extra):
    return {"resource_id": rid(sub, rg, provider_type, name), "name": name, "type": provider_type,
            "subscription_id": sub, "resource_group": rg, **extra}


def estate() -> Tables:
    plans = [
        _plan(SUB_A, "VirtualMachines", "Standard", "P2"),
        _plan(SUB_A, "StorageAccounts", "Standard", "DefenderForStorageV2"),
        _plan(SUB_A, "KeyVaults", "Free"),
        _plan(SUB_A, "Containers", "Standard", trial=15.0),
        _plan(SUB_A, "Arm", "Standard", "PerSubscription"),
        _plan(SUB_A, "Dns", "Standard", deprecated=True),
        _plan(SUB_A, "VirtualMachines", "Free", level="resource", scope=VMSS1),
        _plan(SUB_B, "CloudPosture", "Free"),
    ]
    resources = [
        _res(SUB_A, "rg1", "microsoft.compute/virtualmachines", "vm1", power_state="running", tags={"env": "dev"}),
        _res(SUB_A, "rg1", "microsoft.compute/virtualmachines", "vm2", power_state="deallocated"),
        _res(SUB_A, "rg1", "microsoft.compute/virtualmachinescalesets", "vmss1", capacity=3),
        _res(SUB_A, "mc_rg_aks1_eastus", "microsoft.compute/virtualmachinescalesets", "aks-nodepool1", capacity=2),
        _res(SUB_A, "rg-arc", "microsoft.hybridcompute/machines", "i-0arc", kind="AWS"),
        _res(SUB_A, "rg-arc", "microsoft.hybridcompute/machines", "onprem1"),
        _res(SUB_A, "rg1", "microsoft.containerservice/managedclusters", "aks1", vcores=8, power_state="running"),
        _res(SUB_A, "rg1", "microsoft.storage/storageaccounts", "sa1"),
        _res(SUB_A, "rg1", "microsoft.storage/storageaccounts", "sa2", tags={"Env": "dev"}),
        _res(SUB_A, "rg1", "microsoft.keyvault/vaults", "kv1"),
        _res(SUB_B, "rg2", "microsoft.sql/servers", "sq1"),
        _res(SUB_B, "rg2", "microsoft.dbforpostgresql/servers", "pg1", sku="B_Gen5_1"),
        _res(SUB_B, "rg2", "microsoft.web/serverfarms", "plan1", sku="S1", capacity=2),
        _res(SUB_B, "rg2", "microsoft.web/serverfarms", "func1", sku="Y1", capacity=0),
        _res(SUB_B, "rg2", "microsoft.apimanagement/service", "apim1"),
    ]
    connectors = [{"connector_id": CONNECTOR, "name": "aws-prod", "subscription_id": SUB_B, "kind": "native",
                   "environment": "AWS", "hierarchy_id": ACCOUNT}]
    offerings = [
        {"connector_id": CONNECTOR, "environment": "AWS", "hierarchy_id": ACCOUNT,
         "offering_type": "DefenderForServersAws", "sub_plan": "P1"},
        {"connector_id": CONNECTOR, "environment": "AWS", "hierarchy_id": ACCOUNT, "offering_type": "CspmMonitorAws"},
    ]
    ec2 = [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0{n}" for n in (1, 2)]
    assessed = [(ec2[0], "ec2.instance"), (ec2[0], "ec2.instance"), (ec2[1], "Instance"),
                ("arn:aws:s3:::logs-bucket", "s3.bucket"), (f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1", "vpc")]
    assessments = [{"assessment_id": f"a{n}", "subscription_id": SUB_B, "environment": "AWS",
                    "resource_id": f"{CONNECTOR}/securityentitydata/r{n}", "native_resource_id": arn,
                    "resource_type": rtype, "hierarchy_id": ACCOUNT, "status": "Unhealthy"}
                   for n, (arn, rtype) in enumerate(assessed)]
    subscriptions = [{"subscription_id": SUB_A, "display_name": "A"}, {"subscription_id": SUB_B, "display_name": "B"}]
    return Tables(subscriptions=schema.SUBSCRIPTIONS.frame(subscriptions), plans=schema.PLANS.frame(plans),
                  resources=schema.RESOURCES.frame(resources), connectors=schema.CONNECTORS.frame(connectors),
                  offerings=schema.OFFERINGS.frame(offerings), assessments=schema.ASSESSMENTS.frame(assessments))


def cloudtrail_volume() -> pd.DataFrame:
    """A `cloudtrail_volume` table: CSPM reads, its AssumeRoleWithWebIdentity, other callers, two accounts."""
    rows = [
        ("2026-11-01", ACCOUNT, "cspm", 1000, 1000, 2_000_000_000, 2_000_000_000),
        ("2026-11-02", ACCOUNT, "cspm", 3000, 3000, 1_000_000_000, 1_000_000_000),
        ("2026-11-02", ACCOUNT, "cspm_assume_role", 10, 0, 100_000_000, 0),
        ("2026-11-02", ACCOUNT, "other", 5000, 2000, 4_000_000_000, 1_000_000_000),
        ("2026-11-01", "210987654321", "cspm", 500, 500, 500_000_000, 500_000_000),
    ]
    columns = ["date", "account_id", "actor", "events", "read_only_events", "bytes", "read_only_bytes"]
    return schema.CLOUDTRAIL_VOLUME.frame([dict(zip(columns, r, strict=True)) for r in rows])
