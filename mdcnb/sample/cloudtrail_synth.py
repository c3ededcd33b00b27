"""Synthetic CloudTrail logs in the real shapes, for the sample tenant, the tests and the benchmark.

Records follow reference/aws-cloudtrail.md §1 (eventVersion 1.08-1.11, AssumedRole identities with
sessionContext, the WebIdentityUser record of AssumeRoleWithWebIdentity without arn/sessionContext). MDC's
roles all use the session name `MicrosoftDefenderForClouds_<tenant>`; CSPM reads its accounts every
`scan_interval_hours` in each region (global IAM/S3 calls in us-east-1); other MDC roles act less often;
ordinary users and AWS services make most of the traffic. Deterministic for a given seed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from mdcnb.normalize.cloudtrail.identity import SESSION_PREFIX

OIDC_TENANT = "33e01921-4d64-4f8c-a055-5bdaffd5e33d"  # Microsoft's Entra tenant behind MDC's OIDC provider
CSPM_AUDIENCE = "api://4d8bed1f-eee7-4d8e-b0dc-8462049a4479"
GLOBAL_REGION = "us-east-1"

# What CSPM reads (a subset of the least-privilege CspmMonitorAwsPolicy, reference §5.2): per region, and once
# per scan globally (IAM, S3 bucket listing) in us-east-1.
CSPM_REGIONAL = [
    ("ec2", "DescribeInstances", 2), ("ec2", "DescribeSecurityGroups", 2), ("ec2", "DescribeVpcs", 1),
    ("ec2", "DescribeSubnets", 1), ("ec2", "DescribeVolumes", 1), ("ec2", "DescribeSnapshots", 1),
    ("ec2", "DescribeNetworkAcls", 1), ("ec2", "DescribeFlowLogs", 1), ("kms", "ListKeys", 1),
    ("kms", "DescribeKey", 2), ("rds", "DescribeDBInstances", 1), ("lambda", "ListFunctions20150331", 1),
    ("cloudtrail", "DescribeTrails", 1), ("cloudtrail", "GetEventSelectors", 1),
    ("config", "DescribeConfigurationRecorders", 1),
    ("guardduty", "ListDetectors", 1), ("logs", "DescribeLogGroups", 1), ("eks", "ListClusters", 1),
    ("ecr", "DescribeRepositories", 1), ("elasticloadbalancing", "DescribeLoadBalancers", 1),
    ("monitoring", "DescribeAlarms", 1), ("secretsmanager", "ListSecrets", 1), ("sns", "ListTopics", 1),
]
CSPM_GLOBAL = [
    ("iam", "ListRoles", 2), ("iam", "ListUsers", 1), ("iam", "ListPolicies", 2),
    ("iam", "GetAccountPasswordPolicy", 1),
    ("iam", "GenerateCredentialReport", 1), ("iam", "GetCredentialReport", 1), ("s3", "ListBuckets", 1),
    ("s3", "GetBucketPolicy", 3), ("s3", "GetBucketEncryption", 3), ("s3", "GetBucketPublicAccessBlock", 3),
    ("sts", "GetCallerIdentity", 1),
]
# Other MDC roles: (role name, calls per day and region: (service, API, readOnly)).
MDC_OTHER_ROLES = {
    "DefenderForCloud-AgentlessScanner": [("ec2", "DescribeInstances", True), ("ec2", "CreateSnapshot", False),
                                          ("ec2", "DescribeSnapshots", True), ("ec2", "DeleteSnapshot", False)],
    "DefenderForCloud-DefenderForServers": [("ssm", "DescribeInstanceInformation", True)],
    "DefenderForCloud-Containers-K8s": [("eks", "ListClusters", True), ("eks", "DescribeCluster", True)],
}
USER_CALLS = [
    ("ec2", "DescribeInstances", True), ("s3", "ListBuckets", True), ("s3", "PutBucketTagging", False),
    ("ec2", "RunInstances", False), ("ec2", "TerminateInstances", False), ("iam", "GetRole", True),
    ("lambda", "UpdateFunctionCode20150331v2", False), ("cloudformation", "DescribeStacks", True),
    ("ssm", "GetParameter", True), ("dynamodb", "DescribeTable", True), ("ec2", "CreateTags", False),
    ("kms", "Decrypt", True), ("sts", "GetCallerIdentity", True), ("logs", "CreateLogStream", False),
    ("secretsmanager", "GetSecretValue", True), ("ecr", "BatchGetImage", True), ("rds", "DescribeDBClusters", True),
]
SERVICE_CALLS = [
    ("kms", "Decrypt", True, "lambda.amazonaws.com"), ("sts", "AssumeRole", True, "ec2.amazonaws.com"),
    ("kms", "GenerateDataKey", True, "s3.amazonaws.com"), ("logs", "CreateLogStream", False, "lambda.amazonaws.com"),
    ("ec2", "CreateNetworkInterface", False, "eks.amazonaws.com"), ("sts", "AssumeRole", True, "lambda.amazonaws.com"),
]
USERS = ["alice", "bob", "ci-deployer", "terraform", "maria.garcia", "ops-automation"]
AGENTS = ["aws-cli/2.17.12 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9",
          "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.12.4",
          "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) terraform-provider-aws/5.58.0",
          "console.amazonaws.com"]
MDC_AGENT = "aws-sdk-dotnet-coreclr/3.7.300.20 ua/2.0 OS/Linux_6.1.0 OSVer/6.1.0 CLR/8.0.6 md/ClientAsync"


@dataclass(frozen=True)
class TrailAccount:
    """One AWS account whose trail logs are synthesised."""

    account_id: str
    regions: tuple[str, ...]
    scan_interval_hours: int = 12
    cspm_role_arn: str | None = None          # None: MDC does not read this account
    other_role_arns: tuple[str, ...] = ()
    org_id: str | None = None                 # set: written in the organisation trail layout
    user_events_per_day: int = 400            # ordinary traffic per region and day


@dataclass
class Builder:
    """Builds records with a private RNG (so the output depends only on the seed and what is asked)."""

    rng: random.Random
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    _role_ids: dict[str, str] = field(default_factory=dict)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))

    def _role_id(self, arn: str) -> str:
        if arn not in self._role_ids:
            self._role_ids[arn] = "AROA" + self._hex(17)
        return self._role_ids[arn]

    def _ip(self) -> str:
        r = self.rng
        return f"{r.choice((20, 40, 52, 13, 4))}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def base(self, when: datetime, account: str, region: str, service: str, name: str, read_only: bool,
             identity: dict[str, Any], agent: str, ip: str | None = None) -> dict[str, Any]:
        host = f"{service}.{region}.amazonaws.com" if service not in ("iam", "s3") else f"{service}.amazonaws.com"
        return {
            "eventVersion": self.rng.choice(("1.08", "1.09", "1.10", "1.11")),
            "userIdentity": identity,
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": f"{service}.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip or self._ip(),
            "userAgent": agent,
            "requestParameters": self._params(service, name, account, region),
            "responseElements": None if read_only else {"requestId": self._uuid(), "_return": True},
            "requestID": self._uuid(),
            "eventID": self._uuid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": host},
        }

    def _params(self, service: str, name: str, account: str, region: str) -> dict[str, Any] | None:
        r = self.rng
        if name.startswith("Describe") and service == "ec2":
            return {"maxResults": 1000, "filterSet": {}, f"{name[8:].lower()}Set": {}}
        if name.startswith(("GetBucket", "PutBucket")):
            bucket = f"data-{account[-4:]}-{r.choice(('logs', 'assets', 'backup', 'tfstate'))}"
            return {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", name[3:].lower(): ""}
        if service == "kms":
            return {"keyId": f"arn:aws:kms:{region}:{account}:key/{self._uuid()}",
                    "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if name.startswith(("List", "Get")):
            return {"maxItems": 100} if r.random() < 0.5 else None
        return {"resourceId": f"r-{self._hex(10).lower()}", "tags": [{"key": "owner", "value": r.choice(USERS)}]}

    def role_identity(self, role_arn: str, session: str, web_identity: bool) -> dict[str, Any]:
        account = role_arn.split(":")[4]
        role = role_arn.rsplit("/", 1)[1]
        ctx: dict[str, Any] = {
            "sessionIssuer": {"type": "Role", "principalId": self._role_id(role_arn), "arn": role_arn,
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        }
        if web_identity:
            ctx["webIdFederationData"] = {
                "federatedProvider": f"arn:aws:iam::{account}:oidc-provider/sts.windows.net/{OIDC_TENANT}/",
                "attributes": {}}
        return {"type": "AssumedRole", "principalId": f"{self._role_id(role_arn)}:{session}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
                "accessKeyId": "ASIA" + self._hex(16), "sessionContext": ctx}

    def mdc_call(self, when: datetime, role_arn: str, region: str, service: str, name: str,
                 read_only: bool = True) -> dict[str, Any]:
        session = SESSION_PREFIX + self.tenant_id
        account = role_arn.split(":")[4]
        return self.base(when, account, region, service, name, read_only,
                         self.role_identity(role_arn, session, web_identity=True), MDC_AGENT, ip=self._ip())

    def assume_role_with_web_identity(self, when: datetime, role_arn: str, region: str) -> dict[str, Any]:
        """The WebIdentityUser record MDC's credential exchange leaves (no arn, no sessionContext)."""
        account = role_arn.split(":")[4]
        session = SESSION_PREFIX + self.tenant_id
        provider = f"arn:aws:iam::{account}:oidc-provider/sts.windows.net/{OIDC_TENANT}/"
        rec = self.base(when, account, region, "sts", "AssumeRoleWithWebIdentity", True,
                        {"type": "WebIdentityUser", "principalId": f"{provider}:{CSPM_AUDIENCE}:{self._uuid()}",
                         "userName": self._uuid(), "identityProvider": provider}, MDC_AGENT)
        rec["requestParameters"] = {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}
        expires = (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p")
        rec["responseElements"] = {
            "subjectFromWebIdentityToken": rec["userIdentity"]["userName"], "audience": CSPM_AUDIENCE,
            "provider": provider, "credentials": {"accessKeyId": "ASIA" + self._hex(16), "expiration": expires},
            "assumedRoleUser": {"assumedRoleId": f"{self._role_id(role_arn)}:{session}",
                                "arn": f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[1]}/{session}"}}
        rec["resources"] = [{"ARN": role_arn, "accountId": account, "type": "AWS::IAM::Role"}]
        return rec

    def user_call(self, when: datetime, account: str, region: str) -> dict[str, Any]:
        r = self.rng
        service, name, ro = r.choice(USER_CALLS)
        user = r.choice(USERS)
        if r.random() < 0.5:
            identity = {"type": "IAMUser", "principalId": "AIDA" + self._hex(17),
                        "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
                        "accessKeyId": "AKIA" + self._hex(16), "userName": user}
        else:
            role_arn = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_{account[-6:]}"
            identity = self.role_identity(role_arn, f"{user}@example.com", web_identity=False)
            identity["sessionContext"]["webIdFederationData"] = {}
        return self.base(when, account, region, service, name, ro, identity, r.choice(AGENTS))

    def service_call(self, when: datetime, account: str, region: str) -> dict[str, Any]:
        service, name, ro, invoker = self.rng.choice(SERVICE_CALLS)
        rec = self.base(when, account, region, service, name, ro,
                        {"type": "AWSService", "invokedBy": invoker}, invoker, ip=invoker)
        rec.pop("tlsDetails")
        rec["eventType"] = "AwsApiCall"
        return rec


def _at(rng: random.Random, start: datetime, seconds: int) -> datetime:
    return start + timedelta(seconds=rng.randrange(max(1, seconds)))


Calls = list[tuple[str, str, int]]


def account_events(b: Builder, acct: TrailAccount, start: datetime, days: int, regional: Calls = CSPM_REGIONAL,
                   global_: Calls = CSPM_GLOBAL) -> Iterator[dict[str, Any]]:
    """Every event of one account over `days` days from `start` (midnight UTC), in no particular order.
    `regional` / `global_`: (service, API, calls) CSPM makes per scan in each region / once in us-east-1."""
    rng = b.rng
    for day in range(days):
        midnight = start + timedelta(days=day)
        for region in acct.regions:
            n = max(0, int(acct.user_events_per_day * rng.uniform(0.7, 1.3)))
            for _ in range(n):
                when = _at(rng, midnight, 86400)
                yield (b.user_call if rng.random() < 0.6 else b.service_call)(when, acct.account_id, region)
            for arn in acct.other_role_arns:
                calls = MDC_OTHER_ROLES.get(arn.rsplit("/", 1)[1], [("sts", "GetCallerIdentity", True)])
                when = _at(rng, midnight + timedelta(hours=2), 3600 * 20)
                yield b.assume_role_with_web_identity(when, arn, GLOBAL_REGION)
                for service, name, ro in calls:
                    yield b.mdc_call(_at(rng, when, 900), arn, region, service, name, ro)
        if not acct.cspm_role_arn:
            continue
        for scan in range(0, 24, acct.scan_interval_hours):
            scan_start = midnight + timedelta(hours=scan, minutes=rng.randrange(50))
            yield b.assume_role_with_web_identity(scan_start, acct.cspm_role_arn, GLOBAL_REGION)
            for service, name, calls in global_:
                for _ in range(calls):
                    yield b.mdc_call(_at(rng, scan_start, 1200), acct.cspm_role_arn, GLOBAL_REGION, service, name)
            for region in acct.regions:
                for service, name, calls in regional:
                    for _ in range(calls):
                        yield b.mdc_call(_at(rng, scan_start, 1800), acct.cspm_role_arn, region, service, name)


def _unique(*parts: object) -> str:
    """The 16-character unique part of a log file name, from what the file is (not from the RNG)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode()[:16]


def log_key(account: str, region: str, delivered: datetime, unique: str, org_id: str | None = None) -> str:
    org = f"{org_id}/" if org_id else ""
    return (f"AWSLogs/{org}{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz")


def pack(records: list[dict[str, Any]], compresslevel: int = 9) -> bytes:
    """A log file's bytes: gzip (mtime 0, so deterministic) of compact `{"Records": [...]}`."""
    return gzip.compress(orjson.dumps({"Records": records}), compresslevel=compresslevel, mtime=0)


def write_account_logs(root: Path, b: Builder, acct: TrailAccount, start: datetime, days: int,
                       delivery_hours: int = 6, regional: Calls = CSPM_REGIONAL,
                       global_: Calls = CSPM_GLOBAL) -> dict[str, int]:
    """Write one account's log files under `root` (files per region every `delivery_hours`, delivered 5 minutes
    after their window, so the last window of a day lands in the next day's folder). Returns counts written."""
    windows: dict[tuple[str, datetime], list[dict[str, Any]]] = {}
    for rec in account_events(b, acct, start, days, regional, global_):
        when = datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        slot = when.replace(hour=when.hour - when.hour % delivery_hours, minute=0, second=0)
        windows.setdefault((rec["awsRegion"], slot), []).append(rec)
    written = {"files": 0, "events": 0}
    for (region, slot), recs in sorted(windows.items()):
        delivered = slot + timedelta(hours=delivery_hours, minutes=5)
        b.rng.shuffle(recs)
        path = root / log_key(acct.account_id, region, delivered, _unique(acct.account_id, region, delivered),
                              acct.org_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pack(recs))
        written["files"] += 1
        written["events"] += len(recs)
    return written
