"""Read-only collection of the AWS-side inventory the readiness audit needs, through boto3.

One `AccountInventory` per account: IAM (OIDC providers, roles with their trust policies, instance profiles,
attached policies of the roles EC2 instances use), Organizations (organisation, member accounts, service access),
S3 (CloudFormation template buckets and their policies), and per region EC2 instances and their images, SSM
managed instances, EKS clusters and RDS instances. Only Describe*/Get*/List* operations are called, plus
`sts:AssumeRole` to reach member accounts through a read-only role. A failed call is recorded with its error
code (the check that needs it then reports `could not check`), never raised.

Accounts are reached with one profile per account, or with one profile plus an assumable role in each member
account of the organisation (`--role-name`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mdcnb.sources.aws_dataset import AccountInventory, Call

GLOBAL_REGION = "us-east-1"
TEMPLATE_BUCKET_PREFIX = "cf-templates-"
OIDC_HOST = "sts.windows.net"
_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10, read_timeout=30)

Hook = tuple[str, Callable[..., Any]]
ClientFactory = Callable[[boto3.Session, str, str], Any]


def new_session(*, profile: str | None = None, credentials: dict[str, str] | None = None,
                hooks: Iterable[Hook] = ()) -> boto3.Session:
    """A boto3 session from a profile or temporary credentials, with botocore event hooks registered."""
    if credentials:
        session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials.get("SessionToken"))
    else:
        session = boto3.Session(profile_name=profile)
    for event, handler in hooks:
        session.events.register(event, handler)
    return session


class Collector:
    """Collects `AccountInventory`s; `endpoint_url` points every client at one endpoint (tests, LocalStack)."""

    def __init__(self, *, endpoint_url: str | None = None, regions: list[str] | None = None,
                 hooks: Iterable[Hook] = (), client_factory: ClientFactory | None = None, workers: int = 8):
        self.endpoint_url = endpoint_url
        self.regions = regions
        self.hooks = list(hooks)
        self.client_factory = client_factory
        self.workers = workers

    def client(self, session: boto3.Session, service: str, region: str = GLOBAL_REGION) -> Any:
        if self.client_factory is not None:
            client = self.client_factory(session, service, region)
            if client is not None:
                return client
        return session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=_CONFIG)

    # ---------------------------------------------------------------- sessions

    def sessions(self, profiles: list[str | None], role_name: str | None = None,
                 accounts: Iterable[str] = ()) -> tuple[list[boto3.Session], list[str]]:
        """Sessions for each profile and, with `role_name`, for each member account reached by AssumeRole.

        Returns the sessions and the problems met (an account whose role could not be assumed is listed there).
        """
        base = [new_session(profile=p, hooks=self.hooks) for p in profiles or [None]]
        if not role_name:
            return base, []
        problems: list[str] = []
        targets = set(accounts)
        management = base[0]
        try:
            org = self.client(management, "organizations")
            listed = org.get_paginator("list_accounts").paginate().build_full_result().get("Accounts", [])
            targets |= {a["Id"] for a in listed if a.get("Status", "ACTIVE") == "ACTIVE"}
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"organizations ListAccounts: {_error(exc)['code']}")
        own = {self.client(s, "sts").get_caller_identity()["Account"] for s in base}
        sts = self.client(management, "sts")
        out = list(base)
        for account in sorted(targets - own):
            try:
                creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role_name}",
                                        RoleSessionName="mdcnb-aws-audit", DurationSeconds=3600)["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"{account}: AssumeRole {role_name}: {_error(exc)['code']}")
                continue
            out.append(new_session(credentials=creds, hooks=self.hooks))
        return out, problems

    # ---------------------------------------------------------------- collection

    def collect(self, session: boto3.Session) -> AccountInventory:
        """Everything the audit reads from one account."""
        identity = self.client(session, "sts").get_caller_identity()
        inv = AccountInventory(identity["Account"], collected_at=datetime.now(UTC), source="boto3")
        inv.add("sts_GetCallerIdentity", Call(None, {}, _clean(identity)))
        self._iam(session, inv)
        self._organizations(session, inv)
        self._s3(session, inv)
        inv.regions = self.regions or self._enabled_regions(session, inv)
        clients = {(svc, r): self.client(session, svc, r) for r in inv.regions for svc in ("ec2", "ssm", "eks", "rds")}
        with ThreadPoolExecutor(self.workers) as pool:
            for calls in pool.map(lambda r: self._regional(clients, r), inv.regions):
                for key, call in calls:
                    inv.add(key, call)
        self._instance_roles(session, inv)
        return inv

    def _iam(self, session: boto3.Session, inv: AccountInventory) -> None:
        iam = self.client(session, "iam")
        _record(inv, "iam_ListRoles", None, {}, lambda: _all(iam, "list_roles"))
        providers = _record(inv, "iam_ListOpenIDConnectProviders", None, {},
                            lambda: iam.list_open_id_connect_providers())
        for provider in (providers or {}).get("OpenIDConnectProviderList", []):
            arn = provider.get("Arn", "")
            if OIDC_HOST in arn:
                _record(inv, "iam_GetOpenIDConnectProvider", None, {"OpenIDConnectProviderArn": arn},
                        lambda arn=arn: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn))
        _record(inv, "iam_ListInstanceProfiles", None, {}, lambda: _all(iam, "list_instance_profiles"))

    def _organizations(self, session: boto3.Session, inv: AccountInventory) -> None:
        org = self.client(session, "organizations")
        described = _record(inv, "organizations_DescribeOrganization", None, {}, lambda: org.describe_organization())
        if described is None or described.get("Organization", {}).get("MasterAccountId") != inv.account_id:
            return  # only the management account can list members and service access
        _record(inv, "organizations_ListAccounts", None, {}, lambda: _all(org, "list_accounts"))
        _record(inv, "organizations_ListAWSServiceAccessForOrganization", None, {},
                lambda: _all(org, "list_aws_service_access_for_organization"))

    def _s3(self, session: boto3.Session, inv: AccountInventory) -> None:
        s3 = self.client(session, "s3")
        listed = _record(inv, "s3_ListBuckets", None, {}, lambda: s3.list_buckets())
        for bucket in (listed or {}).get("Buckets", []):
            name = bucket.get("Name", "")
            if name.startswith(TEMPLATE_BUCKET_PREFIX):
                _record(inv, "s3_GetBucketPolicy", None, {"Bucket": name},
                        lambda name=name: s3.get_bucket_policy(Bucket=name))

    def _enabled_regions(self, session: boto3.Session, inv: AccountInventory) -> list[str]:
        ec2 = self.client(session, "ec2")
        described = _record(inv, "ec2_DescribeRegions", None, {}, lambda: ec2.describe_regions())
        return sorted(r["RegionName"] for r in (described or {}).get("Regions", []))

    @staticmethod
    def _regional(clients: dict[tuple[str, str], Any], region: str) -> list[tuple[str, Call]]:
        """The per-region reads; returns (key, call) pairs (no shared state touched from threads)."""
        out: list[tuple[str, Call]] = []

        def call(key: str, params: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
            response, error = _try(fn)
            out.append((key, Call(region, params, response, error)))
            return response

        described = call("ec2_DescribeInstances", {}, lambda: _all(clients["ec2", region], "describe_instances"))
        images = sorted({i.get("ImageId") for r in (described or {}).get("Reservations", [])
                         for i in r.get("Instances", []) if i.get("ImageId")})
        if images:
            call("ec2_DescribeImages", {"ImageIds": images},
                 lambda: clients["ec2", region].describe_images(ImageIds=images))
        call("ssm_DescribeInstanceInformation", {},
             lambda: _all(clients["ssm", region], "describe_instance_information"))
        call("eks_ListClusters", {}, lambda: _all(clients["eks", region], "list_clusters"))
        call("rds_DescribeDBInstances", {}, lambda: _all(clients["rds", region], "describe_db_instances"))
        return out

    def _instance_roles(self, session: boto3.Session, inv: AccountInventory) -> None:
        """Attached policies of the roles in the instance profiles that EC2 instances use."""
        used = {i.get("IamInstanceProfile", {}).get("Arn") for c in inv.calls.get("ec2_DescribeInstances", [])
                if c.response for r in c.response.get("Reservations", []) for i in r.get("Instances", [])}
        profiles = next((c.response for c in inv.calls.get("iam_ListInstanceProfiles", []) if c.response), {})
        roles = sorted({role["RoleName"] for p in profiles.get("InstanceProfiles", []) if p.get("Arn") in used
                        for role in p.get("Roles", [])})
        iam = self.client(session, "iam")
        for role in roles:
            _record(inv, "iam_ListAttachedRolePolicies", None, {"RoleName": role},
                    lambda role=role: _all(iam, "list_attached_role_policies", RoleName=role))


def _all(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """Every page of a paginated operation merged into one response (as boto3's paginator builds it)."""
    return client.get_paginator(operation).paginate(**params).build_full_result()


def _clean(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _error(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return {"code": str(err.get("Code") or "ClientError"), "message": str(err.get("Message") or exc)}
    return {"code": type(exc).__name__, "message": str(exc)}


def _try(fn: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    try:
        return _clean(fn()), None
    except (ClientError, BotoCoreError) as exc:
        return None, _error(exc)


def _record(inv: AccountInventory, key: str, region: str | None, params: dict[str, Any],
            fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    response, error = _try(fn)
    inv.add(key, Call(region, params, response, error))
    return response
