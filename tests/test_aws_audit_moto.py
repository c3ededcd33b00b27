"""The AWS readiness audit against real AWS APIs emulated by a moto server on 127.0.0.1.

An organisation of four accounts is built through the AWS APIs, each account deliberately passing or failing
given checks; the expected status of every (account, check) follows from how the account was built (the table
EXPECTED below), not from running the audit. SSM `DescribeInstanceInformation` is not implemented by moto (HTTP
500), so the SSM client alone is a botocore Stubber fed with which instances each test account registers with SSM.
Every AWS operation the collection makes is recorded through a botocore `before-call` event hook and must be
read-only (Describe*/Get*/List*, plus sts:AssumeRole to reach member accounts).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from mdcnb.analysis import readiness as aws_audit
from mdcnb.core import schema
from mdcnb.sources.aws_dataset import read_inventories, write_inventory
from mdcnb.sources.aws_inventory import Collector
from mdcnb.tables.aws_inventory import aws_inventory

moto_server = pytest.importorskip("moto.server")

REGIONS = ["eu-west-1", "us-east-1"]
PROVIDER_URL = "https://sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/"
CSPM_AUD = "api://4d8bed1f-eee7-4d8e-b0dc-8462049a4479"
SERVERS_AUD = "api://AzureSecurityCenter.MultiCloud.DefenderForServers"
CONTAINERS_AUD = "api://6610e979-c931-41ec-adc7-b9920c9d52f1"
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
LINUX_AMI = "ami-04681a1dbd79675a5"  # moto's amzn2-ami-hvm-2.0.20180810-x86_64-gp2
SQL_AMI = "ami-1812c061"  # moto's Windows_Server-2016-English-Full-SQL_2016_SP1_Standard-2017.10.13
SUB = "00000000-0000-0000-0000-000000000001"
READ_ONLY_PREFIXES = ("Describe", "Get", "List")


@pytest.fixture(scope="module")
def moto(monkeypatch_module):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # AWS managed policies exist in moto only when loaded; load just AmazonSSMManagedInstanceCore (all ~1,300 take
    # 4 s per account), from moto's own copy of AWS's data.
    monkeypatch_module.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    import moto.iam.models as iam_models
    policies = json.loads(iam_models.aws_managed_policies_data)
    monkeypatch_module.setattr(iam_models, "aws_managed_policies_data",
                               json.dumps({"AmazonSSMManagedInstanceCore": policies["AmazonSSMManagedInstanceCore"]}))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch_module.setenv(key, value)
    monkeypatch_module.delenv("AWS_PROFILE", raising=False)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto's backends live for the whole process: drop what earlier tests' moto servers made, so the IAM backend is
    # created again, with the managed policy loaded
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _trust(account: str, audience: str | None) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                 "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{PROVIDER_URL[8:]}"}}
    if audience:
        statement["Condition"] = {"StringEquals": {f"{PROVIDER_URL[8:]}:aud": audience}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


TLS_POLICY = {"Id": "ExamplePolicy", "Version": "2012-10-17", "Statement": [{
    "Sid": "AllowSSLRequestsOnly", "Action": "s3:*", "Effect": "Deny",
    "Resource": ["arn:aws:s3:::{b}", "arn:aws:s3:::{b}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Principal": "*"}]}


class World:
    """The organisation as built, and what SSM and Azure know about it."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.mgmt_session = boto3.Session()
        self.ssm_online: dict[str, list[str]] = {r: [] for r in REGIONS}
        self.instances: dict[str, dict[str, str]] = {}
        self.connectors: list[dict] = []
        self.offerings: list[dict] = []
        self.arc: list[dict] = []

    def client(self, session, service, region="us-east-1"):
        return session.client(service, region_name=region, endpoint_url=self.endpoint)

    def session_for(self, account: str) -> boto3.Session:
        sts = self.client(self.mgmt_session, "sts")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                RoleSessionName="build")["Credentials"]
        return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"])

    def oidc(self, session, audiences):
        self.client(session, "iam").create_open_id_connect_provider(
            Url=PROVIDER_URL, ClientIDList=audiences, ThumbprintList=["626d44e704d1ceabe3bf0d53397464ac8080142c"])

    def role(self, session, account, name, audience):
        self.client(session, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=_trust(account, audience))

    def profile(self, session, name, with_ssm_policy):
        iam = self.client(session, "iam")
        iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}))
        if with_ssm_policy:
            iam.attach_role_policy(RoleName=f"{name}-role", PolicyArn=SSM_POLICY)
        iam.create_instance_profile(InstanceProfileName=name)
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=f"{name}-role")

    def instance(self, session, account, label, region="us-east-1", profile=None, ssm=True, arc_tags=None,
                 ami=LINUX_AMI):
        kwargs = {"IamInstanceProfile": {"Name": profile}} if profile else {}
        made = self.client(session, "ec2", region).run_instances(ImageId=ami, MinCount=1, MaxCount=1, **kwargs)
        instance_id = made["Instances"][0]["InstanceId"]
        self.instances.setdefault(account, {})[label] = instance_id
        if ssm:
            self.ssm_online[region].append(instance_id)
        if arc_tags is not None:
            tags = {"AccountId": account, "Cloud": "AWS", "InstanceId": instance_id,
                    "MDFCSecurityConnector": f"conn-{account}"}
            self.arc_machine(instance_id, {k: v for k, v in tags.items() if k in arc_tags})
        return instance_id

    def arc_machine(self, name, tags, status="Connected", changed=None):
        self.arc.append({"resource_id": f"/subscriptions/{SUB}/resourcegroups/arc/providers/"
                                        f"microsoft.hybridcompute/machines/{name}",
                         "name": name, "subscription_id": SUB, "status": status,
                         "last_status_change": changed, "tags": tags})

    def connector(self, account, *, membership, offerings, kind="native", regions=(), parent=None, excluded=(),
                  created="2026-10-01T00:00:00Z", roles=None):
        name = f"conn-{account}" if kind == "native" else f"classic-{account}"
        provider = "securityconnectors" if kind == "native" else "connectors"
        connector_id = f"/subscriptions/{SUB}/resourcegroups/mdc/providers/microsoft.security/{provider}/{name}"
        self.connectors.append({
            "connector_id": connector_id, "name": name, "subscription_id": SUB, "kind": kind,
            "environment": "AWS", "hierarchy_id": account, "membership": membership,
            "parent_hierarchy_id": parent, "excluded_ids": list(excluded), "regions": list(regions),
            "offering_types": list(offerings) if kind == "native" else [], "created_at": created})
        for offering, feature, role in roles or []:
            arn = role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"
            self.offerings.append({"connector_id": connector_id, "environment": "AWS", "hierarchy_id": account,
                                   "offering_type": offering, "feature": feature, "enabled": True,
                                   "role_arn": arn, "role_name": arn.rsplit("/", 1)[-1]})

    def ssm_client_factory(self):
        """SSM clients answered by a Stubber (moto lacks DescribeInstanceInformation); others go to moto."""
        stubbers = []

        def factory(session, service, region):
            if service != "ssm":
                return None
            client = session.client("ssm", region_name=region, endpoint_url=self.endpoint)
            stubber = Stubber(client)
            stubber.add_response("describe_instance_information", {"InstanceInformationList": [
                {"InstanceId": i, "PingStatus": "Online"} for i in self.ssm_online.get(region, [])]})
            stubber.activate()
            stubbers.append(stubber)
            return client
        return factory


M, A, B, X, Y = "mgmt", "alpha", "beta", "excluded", "young"

ALL_ROLES = [("CspmMonitorAws", "nativeCloudConnection", "CspmMonitorAws"),
             ("DefenderForServersAws", "defenderForServers", "DefenderForCloud-DefenderForServers"),
             ("DefenderForServersAws", "arcAutoProvisioning", "DefenderForCloud-ArcAutoProvisioning")]


@pytest.fixture(scope="module")
def world(moto):
    w = World(moto)
    org = w.client(w.mgmt_session, "organizations")
    org.create_organization(FeatureSet="ALL")
    ids = {M: w.client(w.mgmt_session, "sts").get_caller_identity()["Account"]}
    for label in (A, B, X, Y):
        made = org.create_account(Email=f"{label}@example.com", AccountName=label)
        ids[label] = made["CreateAccountStatus"]["AccountId"]
    org.enable_aws_service_access(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    w.ids = ids

    # management account: everything right (identity, stacksets access, template bucket with the guide's policy,
    # one instance meeting every Servers prerequisite); excludes X (a member) and a stale id.
    m, s = ids[M], w.mgmt_session
    w.oidc(s, [CSPM_AUD, SERVERS_AUD])
    for _, _, role in ALL_ROLES:
        w.role(s, m, role, CSPM_AUD if role == "CspmMonitorAws" else SERVERS_AUD)
    w.profile(s, "good", with_ssm_policy=True)
    w.instance(s, m, "ok", profile="good", arc_tags=["AccountId", "Cloud", "InstanceId", "MDFCSecurityConnector"])
    bucket = "cf-templates-mgmt-us-east-1"
    w.client(s, "s3").create_bucket(Bucket=bucket)
    w.client(s, "s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(TLS_POLICY).replace("{b}", bucket))
    w.connector(m, membership="Organization", offerings=["CspmMonitorAws", "DefenderForServersAws"],
                excluded=[ids[X], "999999999999"], roles=ALL_ROLES)

    # alpha: member, wrong in many ways; also on a classic connector.
    a, s = ids[A], w.session_for(ids[A])
    w.oidc(s, [CSPM_AUD])  # lacks the Servers audience
    w.role(s, a, "CspmMonitorAws", CSPM_AUD)
    w.role(s, a, "DefenderForCloud-DefenderForServers", None)  # federates, but no audience condition
    w.role(s, a, "DefenderForCloud-Containers-K8s", CONTAINERS_AUD)
    w.profile(s, "nossm", with_ssm_policy=False)
    w.instance(s, a, "no-profile", arc_tags=None)  # no profile, no Arc machine
    w.instance(s, a, "no-policy", profile="nossm", ssm=False, arc_tags=["AccountId", "Cloud", "InstanceId"])
    w.instance(s, a, "other-region", region="eu-west-1", arc_tags=["AccountId", "Cloud", "InstanceId",
                                                                     "MDFCSecurityConnector"])
    w.client(s, "eks", "eu-west-1").create_cluster(name="eu-cluster", roleArn=f"arn:aws:iam::{a}:role/eks",
                                                   resourcesVpcConfig={})
    w.arc_machine("i-0deadbeef0000000a", {"AccountId": a, "Cloud": "AWS", "InstanceId": "i-0deadbeef0000000a",
                                          "MDFCSecurityConnector": "conn"}, "Disconnected",
                  "2026-01-01T00:00:00Z")
    w.client(s, "s3").create_bucket(Bucket="unrelated-bucket")
    w.connector(a, membership="Member", parent=m, regions=["us-east-1"],
                offerings=["CspmMonitorAws", "DefenderForServersAws", "DefenderForContainersAws",
                           "DefenderForDatabasesAws"],
                roles=[("CspmMonitorAws", "nativeCloudConnection", "cspmmonitoraws"),  # case differs from IAM
                       ("DefenderForServersAws", "defenderForServers", "DefenderForCloud-DefenderForServers"),
                       ("DefenderForServersAws", "arcAutoProvisioning", "DefenderForCloud-ArcAutoProvisioning"),
                       ("DefenderForContainersAws", "kubernetesService",
                        "arn:aws:iam::000000000000:role/DefenderForCloud-Containers-K8s")])
    w.connector(a, membership=None, kind="classic", offerings=[])

    # beta: member, custom CSPM role name, all prerequisites right, SQL Server on EC2 and EKS in its region;
    # but its template bucket has no policy.
    b, s = ids[B], w.session_for(ids[B])
    w.oidc(s, [CSPM_AUD, SERVERS_AUD, CONTAINERS_AUD])
    w.role(s, b, "mdc-cspm-reader", CSPM_AUD)
    w.role(s, b, "DefenderForCloud-ArcAutoProvisioning", SERVERS_AUD)
    w.role(s, b, "DefenderForCloud-Containers-K8s", CONTAINERS_AUD)
    w.profile(s, "good", with_ssm_policy=True)
    full = ["AccountId", "Cloud", "InstanceId", "MDFCSecurityConnector"]
    w.instance(s, b, "sql", profile="good", arc_tags=full, ami=SQL_AMI)
    w.instance(s, b, "stopped-later", profile="good", arc_tags=full)
    w.client(s, "eks", "us-east-1").create_cluster(name="prod", roleArn=f"arn:aws:iam::{b}:role/eks",
                                                   resourcesVpcConfig={})
    w.client(s, "s3").create_bucket(Bucket="cf-templates-beta-us-east-1")
    w.connector(b, membership="Member", parent=m, regions=["us-east-1"],
                offerings=["CspmMonitorAws", "DefenderForServersAws", "DefenderForContainersAws",
                           "DefenderForDatabasesAws"],
                roles=[("CspmMonitorAws", "nativeCloudConnection", "mdc-cspm-reader"),
                       ("DefenderForDatabasesAws", "arcAutoProvisioning", "DefenderForCloud-ArcAutoProvisioning"),
                       ("DefenderForContainersAws", "kubernetesService", "DefenderForCloud-Containers-K8s")])
    # X (excluded) and Y (no connector) have nothing deployed.
    return w


def _tables(w: World):
    return (schema.CONNECTORS.frame(w.connectors), schema.OFFERINGS.frame(w.offerings),
            schema.ARC_MACHINES.frame(w.arc))


@pytest.fixture(scope="module")
def collected(world):
    operations: list[str] = []

    def record(event_name, **_kwargs):
        operations.append(event_name.split(".", 1)[1])

    collector = Collector(endpoint_url=world.endpoint, regions=REGIONS, hooks=[("before-parameter-build", record)],
                          client_factory=world.ssm_client_factory())
    sessions, problems = collector.sessions([None], role_name="OrganizationAccountAccessRole")
    inventories = {}
    for session in sessions:
        inventory = collector.collect(session)
        inventories[inventory.account_id] = inventory
    return inventories, operations, problems


NA, P, F, Q = "not applicable", "pass", "fail", "could not check"
# How each account was built decides its expected status (comments in `world`).
EXPECTED = {
    M: {"identity.oidc_provider": P, "identity.roles_exist": P, "identity.trust_policy": P,
        "identity.role_names_agree": P, "connector.classic_and_native": P, "org.member_connectors": NA,
        "org.excluded_accounts": F, "org.stacksets_trusted_access": P, "servers.ssm_managed": P,
        "servers.ssm_policy": P, "servers.arc_machine": P, "servers.stale_arc": P, "servers.new_instances": P,
        "databases.sql_servers": NA, "containers.eks_in_regions": NA, "regions.resources_outside": P,
        "template.bucket_tls": P},
    A: {"identity.oidc_provider": F, "identity.roles_exist": F, "identity.trust_policy": F,
        "identity.role_names_agree": F, "connector.classic_and_native": F, "org.member_connectors": P,
        "org.excluded_accounts": NA, "org.stacksets_trusted_access": NA, "servers.ssm_managed": F,
        "servers.ssm_policy": F, "servers.arc_machine": F, "servers.stale_arc": F, "servers.new_instances": F,
        "databases.sql_servers": F, "containers.eks_in_regions": F, "regions.resources_outside": F,
        "template.bucket_tls": NA},
    B: {"identity.oidc_provider": P, "identity.roles_exist": P, "identity.trust_policy": P,
        "identity.role_names_agree": P, "connector.classic_and_native": P, "org.member_connectors": P,
        "org.excluded_accounts": NA, "org.stacksets_trusted_access": NA, "servers.ssm_managed": P,
        "servers.ssm_policy": P, "servers.arc_machine": P, "servers.stale_arc": P, "servers.new_instances": P,
        "databases.sql_servers": P, "containers.eks_in_regions": P, "regions.resources_outside": P,
        "template.bucket_tls": F},
    X: {c: NA for c in aws_audit.CHECKS},
    Y: {c: NA for c in aws_audit.CHECKS} | {"org.member_connectors": F},
}


def test_collection_is_read_only_and_reaches_every_member(world, collected):
    inventories, operations, problems = collected
    assert problems == []
    assert set(inventories) == set(world.ids.values())
    writes = sorted({op for op in operations
                     if not op.split(".")[1].startswith(READ_ONLY_PREFIXES) and op != "sts.AssumeRole"})
    assert writes == []
    assert "ssm.DescribeInstanceInformation" in operations and "iam.ListRoles" in operations
    # AssumeRole only into the four member accounts
    assert operations.count("sts.AssumeRole") == 4


def test_every_account_and_check_has_the_status_it_was_built_for(world, collected):
    inventories, _, _ = collected
    connectors, offerings, arc = _tables(world)
    as_of = max(i.collected_at for i in inventories.values()) + timedelta(days=2)  # past Y's 24 h allowance
    results = aws_audit.audit(connectors, offerings, arc, aws_inventory(inventories), as_of=as_of)
    got = {(r.account_id, r.check_id): r.status for r in results.itertuples()}
    expected = {(world.ids[label], check): status for label, checks in EXPECTED.items()
                for check, status in checks.items()}
    mismatches = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    evidence = {(r.account_id, r.check_id): r.evidence for r in results.itertuples()}
    assert mismatches == {}, "\n".join(f"{k}: got {g}, expected {e}: {evidence.get(k)}"
                                       for k, (g, e) in mismatches.items())
    assert len(results) == len(expected)
    remediation = results[results["status"] == "fail"]["remediation"]
    assert remediation.notna().all()


def test_evidence_names_what_was_built_wrong(world, collected):
    inventories, _, _ = collected
    connectors, offerings, arc = _tables(world)
    results = aws_audit.audit(connectors, offerings, arc, aws_inventory(inventories))
    ev = {(r.account_id, r.check_id): r.evidence for r in results.itertuples()}
    a, ia = world.ids[A], world.instances[world.ids[A]]
    assert SERVERS_AUD in ev[a, "identity.oidc_provider"]
    assert "DefenderForCloud-ArcAutoProvisioning" in ev[a, "identity.roles_exist"]
    assert "DefenderForCloud-DefenderForServers" in ev[a, "identity.trust_policy"]
    assert "000000000000" in ev[a, "identity.role_names_agree"] and "IAM spells it CspmMonitorAws" in \
        ev[a, "identity.role_names_agree"]
    assert f"{ia['no-profile']} no instance profile" in ev[a, "servers.ssm_policy"]
    assert f"{ia['no-policy']} role nossm-role lacks AmazonSSMManagedInstanceCore" in ev[a, "servers.ssm_policy"]
    assert f"{ia['no-profile']} no Azure Arc machine" in ev[a, "servers.arc_machine"]
    assert "lacks tag(s) MDFCSecurityConnector" in ev[a, "servers.arc_machine"]
    assert "i-0deadbeef0000000a" in ev[a, "servers.stale_arc"]
    assert "eu-west-1 (2)" in ev[a, "regions.resources_outside"]  # one instance + one EKS cluster
    assert "eu-west-1" in ev[a, "containers.eks_in_regions"]
    assert "999999999999 is not an active member" in ev[world.ids[M], "org.excluded_accounts"]
    assert "custom names: CspmMonitorAws uses mdc-cspm-reader" in ev[world.ids[B], "identity.role_names_agree"]
    assert "1 SQL Server instance(s) on EC2" in ev[world.ids[B], "databases.sql_servers"]
    assert "no bucket policy" in ev[world.ids[B], "template.bucket_tls"]
    assert ev[world.ids[X], "org.member_connectors"].startswith("excluded by")


def test_member_without_connector_is_allowed_24_hours(world, collected):
    inventories, _, _ = collected
    connectors, offerings, arc = _tables(world)
    now = max(i.collected_at for i in inventories.values())
    results = aws_audit.audit(connectors, offerings, arc, aws_inventory(inventories), as_of=now,
                              accounts=[world.ids[Y]])
    row = results[results["check_id"] == "org.member_connectors"].iloc[0]
    assert row["status"] == NA and "allowed: 24 h" in row["evidence"]


def test_inventory_round_trips_through_the_dataset_layout(world, collected, tmp_path):
    inventories, _, _ = collected
    for inventory in inventories.values():
        write_inventory(tmp_path, inventory)
    assert (tmp_path / "aws" / world.ids[A] / "iam_ListRoles.json").exists()
    read, skips = read_inventories(tmp_path)
    assert skips == []
    connectors, offerings, arc = _tables(world)
    as_of = datetime.now(UTC) + timedelta(days=2)
    direct = aws_audit.audit(connectors, offerings, arc, aws_inventory(inventories), as_of=as_of)
    reread = aws_audit.audit(connectors, offerings, arc, aws_inventory(read), as_of=as_of)
    assert direct.equals(reread)


def test_the_live_collection_normalises_into_the_inventory_tables(world, collected):
    """boto3's own responses (datetimes, pages merged) become rows: every instance built, with its launch time, and
    every instance SSM was told is online."""
    inventories, _, _ = collected
    tables = aws_inventory(inventories)
    assert sorted(tables.accounts) == sorted(inventories)
    instances = tables.aws_instances
    for account, built in world.instances.items():
        assert set(instances.loc[instances["account_id"] == account, "instance_id"]) == set(built.values())
    assert instances["launched_at"].notna().all() and set(instances["region"]) <= set(REGIONS)
    ssm = tables.aws_ssm_instances
    assert set(ssm.loc[ssm["ping_status"] == "Online", "instance_id"]) == {
        i for ids in world.ssm_online.values() for i in ids}
