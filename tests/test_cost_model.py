"""The cost model on a hand-built estate (tests/cost_estate.py); every expected figure is worked out by hand below."""

import pytest
from cost_estate import ACCOUNT, CONNECTOR, SUB_A, SUB_B, VM1, cloudtrail_volume, estate, hand_prices

from mdcnb.analysis import cost, cost_units
from mdcnb.sources.prices import siem_price

A = f"/subscriptions/{SUB_A}"
B = f"/subscriptions/{SUB_B}"


@pytest.fixture(scope="module")
def result():
    return cost.scenarios(estate(), hand_prices(), exclude_tag="env", exclude_value="dev")


def test_units_follow_the_billing_rules():
    units = cost_units.billable_units(estate())
    servers = units[(units["plan"] == "VirtualMachines") & (units["scope_id"] == A)]
    by_name = dict(zip(servers["resource_name"], servers["units"], strict=True))
    # vm1 running 1, vm2 deallocated 0, vmss1 capacity 3, AKS node pool capacity 2, an Arc machine on premises 1;
    # the Arc machine of an EC2 instance is billed through the AWS connector, not the subscription
    assert by_name == {"vm1": 1.0, "vm2": 0.0, "vmss1": 3.0, "aks-nodepool1": 2.0, "i-0arc": 0.0, "onprem1": 1.0}
    # Basic single server and Consumption plan are present but not billed
    zero = units[(units["units"] == 0) & (units["scope_id"] == B)]
    assert set(zero["resource_name"]) == {"pg1", "func1"}
    # AWS: 2 distinct EC2 instances (one assessed twice), 1 bucket, the VPC is no billable kind
    aws = units[units["scope_id"] == CONNECTOR]
    assert aws.groupby("plan")["units"].sum().to_dict() == {"CloudPosture": 3.0, "VirtualMachines": 2.0}
    # Arm: one per subscription; Dns cannot be counted
    arm = units[units["plan"] == "Arm"]
    assert sorted(arm["scope_id"]) == [A, B] and arm["units"].tolist() == [1.0, 1.0]
    assert units.loc[units["plan"] == "Dns", "units"].isna().all()


def test_monthly_cost_as_configured(result):
    est = result.configured
    # A: Servers P2 vm1 + onprem1 (vmss1 excluded at resource level, AKS pool billed under Containers) 2 x 15 = 30;
    #    Storage 2 x 10 = 20; Containers 8 vCores x 7 = 56; Arm 5; Key Vault Free; Dns uncountable -> 111
    # B: nothing enabled. AWS connector: Servers P1 2 x 5 = 10
    assert est.by_scope().set_index("scope_id")["monthly_cost"].to_dict() == {A: 111.0, CONNECTOR: 10.0}
    assert est.by_plan().set_index("plan")["monthly_cost"].to_dict() == {
        "Arm": 5.0, "Containers": 56.0, "Dns": 0.0, "StorageAccounts": 20.0, "VirtualMachines": 40.0}
    assert est.monthly_total == 121.0
    # Containers has 15 of 30 trial days left: 56 x 15/30 = 28 instead of 56
    assert est.next_30_days_total == 121.0 - 28.0
    uncounted = est.uncounted()
    assert uncounted[["scope_id", "plan"]].values.tolist() == [[A, "Dns"]]


def test_enable_all_what_if(result):
    est = result.enable_all
    # A: Servers 30 (unchanged); CSPM vm1 1 + vmss1 3 + AKS pool 2 + 2 storage = 8 x 5 = 40 (Arc machines are not
    #    DCSPM billable); Containers 56; Storage 20; Key Vault 0.25; Arm 5          -> 151.25
    # B: CSPM sq1 1 x 5 = 5 (pg1 Basic 0); SQL 15; App Service 2 x 15 = 30; APIs 200 (APIM present); Arm 5 -> 255
    # AWS: Servers P1 kept 10; CSPM 2 EC2 + 1 bucket = 3 x 5 = 15                   -> 25
    assert est.by_scope().set_index("scope_id")["monthly_cost"].to_dict() == {A: 151.25, B: 255.0, CONNECTOR: 25.0}
    assert est.monthly_total == 431.25
    assert result.enable_all_delta == 431.25 - 121.0


def test_servers_p1_and_tag_exclusion_savings(result):
    # vm1 and onprem1 on P2 at 15 become P1 at 5; the connector is already on P1
    assert result.servers_p1_saving == 2 * 10.0
    # tag env=dev (key compared case-insensitively): vm1 Servers 15 + sa2 Storage 10
    assert result.tag_saving == 25.0
    lines = result.tag_excluded.lines
    assert lines.loc[(lines["resource_id"] == VM1) & (lines["plan"] == "VirtualMachines"), "monthly_cost"].item() == 0


def test_compare_lists_the_delta_by_plan(result):
    table = cost.compare(result.configured, result.enable_all).set_index("plan")
    assert table.loc["Api", "delta"] == 200.0
    assert table.loc["CloudPosture", "delta"] == 40.0 + 5.0 + 15.0
    assert table["delta"].sum() == pytest.approx(result.enable_all_delta)


def test_unknown_sub_plan_is_reported_not_priced():
    tables = estate()
    tables.plans.loc[tables.plans["plan"] == "StorageAccounts", "sub_plan"] = "SomeFuturePlan"
    est = cost.estimate(cost_units.billable_units(tables), cost_units.plan_settings(tables), hand_prices())
    assert est.monthly_total == 121.0 - 20.0
    notes = est.uncounted().set_index("plan")["note"]
    assert "no monthly price for StorageAccounts SomeFuturePlan" in notes["StorageAccounts"]


@pytest.mark.parametrize(("native", "rtype", "env", "kind"), [
    ("arn:aws:ec2:eu-west-1:1:instance/i-1", None, "AWS", "aws_ec2_instance"),
    ("arn:aws:s3:::b", None, "AWS", "aws_s3_bucket"),
    ("arn:aws:rds:eu-west-1:1:db:main", None, "AWS", "aws_rds_instance"),
    (None, "AwsEc2Instance", "AWS", "aws_ec2_instance"),
    ("//compute.googleapis.com/projects/p/zones/z/instances/vm", None, "GCP", "gcp_compute_instance"),
    ("//storage.googleapis.com/bucket", None, "GCP", "gcp_storage_bucket"),
    ("arn:aws:ec2:eu-west-1:1:vpc/vpc-1", "vpc", "AWS", None),
])
def test_multicloud_kind(native, rtype, env, kind):
    assert cost_units.multicloud_kind(native, rtype, env) == kind


def test_siem_cost_of_cspm_reads_per_account():
    price = siem_price("per-gb", hand_prices())  # $4 per GB
    volume = cloudtrail_volume()
    totals, accounts = cost.siem_by_account(volume, price)
    # 2-day window (11-01..11-02), 30-day month: x15. CSPM share = its read-only bytes + its AssumeRole bytes:
    #   account 1: reads 2e9 + 1e9 bytes, assume-role 0.1e9 -> 3.1 GB x $4 = 12.4 per window -> 186.0 a month
    #   account 2: reads 0.5e9 -> 2.0 per window -> 30.0 a month
    assert accounts.set_index("account_id")["monthly_cspm_cost"].to_dict() == {ACCOUNT: 186.0, "210987654321": 30.0}
    assert totals["monthly_saving"] == 186.0 + 30.0
    # all events, every actor: 2e9 + 1e9 + 0.1e9 + 4e9 (other users) + 0.5e9 = 7.6 GB x $4 x 15
    assert totals["monthly_cost"] == round(7.6 * 4 * 15, 2)
    per_million = siem_price("per-events", hand_prices())  # $2 per million events
    _, by_events = cost.siem_by_account(volume, per_million)
    # account 2: 500 CSPM read events x 15 / 1e6 x $2
    assert by_events.set_index("account_id").loc["210987654321", "monthly_cspm_cost"] == round(500 * 15 / 1e6 * 2, 2)


def test_aws_inventory_replaces_the_assessed_resources_of_its_account():
    from mdcnb.sources.aws_dataset import AccountInventory, Call
    from mdcnb.tables.aws_inventory import aws_inventory

    inventory = AccountInventory(ACCOUNT)
    instances = [{"InstanceId": f"i-{n}", "State": {"Name": state}}
                 for n, state in enumerate(["running", "running", "running", "stopped"])]
    inventory.add("ec2_DescribeInstances", Call("us-east-1", {}, {"Reservations": [{"Instances": instances[:3]}]}))
    inventory.add("ec2_DescribeInstances", Call("eu-west-1", {}, {"Reservations": [{"Instances": instances[3:]}]}))
    inventory.add("ec2_DescribeInstances", Call("ap-south-1", {}, error={"code": "AccessDenied", "message": "no"}))
    inventory.add("s3_ListBuckets", Call(None, {}, {"Buckets": [{"Name": "a"}, {"Name": "b"}]}))
    inventory.add("eks_ListClusters", Call("us-east-1", {}, {"clusters": ["prod"]}))
    units = cost_units.billable_units(estate(), aws_inventory({ACCOUNT: inventory}))
    aws = units[units["scope_id"] == CONNECTOR]
    # 3 running instances (the stopped one counts 0) instead of the 2 assessed ones; 2 buckets; EKS vCores unknown
    assert aws.groupby("plan")["units"].sum(min_count=1).to_dict() == {
        "CloudPosture": 3.0 + 2.0, "VirtualMachines": 3.0, "Containers": pytest.approx(float("nan"), nan_ok=True)}
    est = cost.estimate(units, cost_units.plan_settings(estate()), hand_prices())
    # the connector's Servers P1 now bills 3 instances at 5
    assert est.by_scope().set_index("scope_id").loc[CONNECTOR, "monthly_cost"] == 15.0
