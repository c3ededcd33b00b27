"""Normaliser of the AWS-side inventory: the recorded boto3 calls of each account (`sources.aws_dataset`) -> the
`aws_*` tables of `mdcnb.core.schema.aws_inventory`.

Every call becomes a row of `aws_calls` (its region, the resource it asked about, its error), so what was not
collected or failed stays data; the items of each successful response become rows of the operation's table.
Responses read from a dataset have passed the shape check of `sources.aws_dataset` (a departing one arrives as a
failed call); items that are not objects carry nothing and are passed over. Policy documents are decoded here, once:
a trust policy or bucket policy that is not a JSON object becomes null.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.sources.aws_dataset import AccountInventory, Call

Row = tuple[str, dict[str, Any]]  # (table, row)
Reads = dict[str, dict[str, dict[str, Any]]]  # per-resource operation -> target -> response


def _objects(value: Any) -> list[dict[str, Any]]:
    """The items of a listed value that are objects."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_object(text: Any) -> dict[str, Any] | None:
    """JSON text that holds an object, as that object; None for anything else."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return None
    return value if isinstance(value, dict) else None


def _document(value: Any) -> dict[str, Any] | None:
    """A policy document as an object: given as one, or as (URL-encoded) JSON text; None for anything else."""
    if isinstance(value, str):
        return _json_object(urllib.parse.unquote(value))
    return value if isinstance(value, dict) else None


def _bucket_policy(response: dict[str, Any]) -> dict[str, Any] | None:
    """GetBucketPolicy's Policy text as an object (an absent Policy reads as the empty policy)."""
    return _json_object(response.get("Policy") or "{}")


def target(params: Mapping[str, Any]) -> str | None:
    """The resource a per-resource call asked about: its one string parameter (None for a listing)."""
    values = [v for v in params.values() if isinstance(v, str)]
    return values[0] if len(values) == 1 else None


# ------------------------------------------------------------------ one function per operation read

def _oidc_providers(response: dict[str, Any], _call: Call, reads: Reads) -> Iterator[Row]:
    described = reads.get("iam_GetOpenIDConnectProvider", {})
    for provider in _objects(response.get("OpenIDConnectProviderList")):
        arn = provider.get("Arn")
        audiences = described.get(arn, {}).get("ClientIDList") if isinstance(arn, str) else None
        yield "aws_oidc_providers", {"arn": arn, "audiences": audiences if isinstance(audiences, list) else []}


def _roles(response: dict[str, Any], _call: Call, _reads: Reads) -> Iterator[Row]:
    for role in _objects(response.get("Roles")):
        yield "aws_roles", {"role_name": role.get("RoleName"),
                            "trust_policy": _document(role.get("AssumeRolePolicyDocument"))}


def _instance_profiles(response: dict[str, Any], _call: Call, _reads: Reads) -> Iterator[Row]:
    for profile in _objects(response.get("InstanceProfiles")):
        yield "aws_instance_profiles", {"profile_arn": profile.get("Arn"),
                                        "role_names": [r.get("RoleName") for r in _objects(profile.get("Roles"))]}


def _attached_policies(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    for policy in _objects(response.get("AttachedPolicies")):
        yield "aws_attached_policies", {"role_name": target(call.params), "policy_arn": policy.get("PolicyArn")}


def _org_accounts(response: dict[str, Any], _call: Call, _reads: Reads) -> Iterator[Row]:
    for account in _objects(response.get("Accounts")):
        yield "aws_org_accounts", {"member_id": account.get("Id"), "name": account.get("Name"),
                                   "status": account.get("Status", "ACTIVE"),
                                   "joined_at": account.get("JoinedTimestamp")}


def _service_access(response: dict[str, Any], _call: Call, _reads: Reads) -> Iterator[Row]:
    for principal in _objects(response.get("EnabledServicePrincipals")):
        yield "aws_service_access", {"service_principal": principal.get("ServicePrincipal")}


def _buckets(response: dict[str, Any], _call: Call, reads: Reads) -> Iterator[Row]:
    policies = reads.get("s3_GetBucketPolicy", {})
    for bucket in _objects(response.get("Buckets")):
        name = bucket.get("Name")
        read = policies.get(name) if isinstance(name, str) else None
        yield "aws_buckets", {"name": name, "policy": _bucket_policy(read) if read is not None else None}


def _instances(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    for reservation in _objects(response.get("Reservations")):
        for item in _objects(reservation.get("Instances")):
            zone = str(_object(item.get("Placement")).get("AvailabilityZone", ""))
            yield "aws_instances", {
                "region": call.region or zone[:-1],
                "instance_id": str(item.get("InstanceId")),
                "state": state.lower() if isinstance(state := _object(item.get("State")).get("Name"), str) else None,
                "launched_at": item.get("LaunchTime"),
                "profile_arn": _object(item.get("IamInstanceProfile")).get("Arn"),
                "image_id": item.get("ImageId"),
                "platform_details": item.get("PlatformDetails"),
            }


def _images(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    for image in _objects(response.get("Images")):
        yield "aws_images", {"region": call.region, "image_id": image.get("ImageId"), "name": image.get("Name"),
                             "description": image.get("Description"),
                             "platform_details": image.get("PlatformDetails")}


def _ssm_instances(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    for info in _objects(response.get("InstanceInformationList")):
        yield "aws_ssm_instances", {"region": call.region, "instance_id": str(info.get("InstanceId")),
                                    "ping_status": info.get("PingStatus", "")}


def _eks_clusters(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    clusters = response.get("clusters")
    for name in clusters if isinstance(clusters, list) else []:
        yield "aws_eks_clusters", {"region": call.region, "name": name}


def _db_instances(response: dict[str, Any], call: Call, _reads: Reads) -> Iterator[Row]:
    for db in _objects(response.get("DBInstances")):
        yield "aws_db_instances", {"region": call.region, "db_instance_id": db.get("DBInstanceIdentifier"),
                                   "arn": db.get("DBInstanceArn"), "engine": db.get("Engine"),
                                   "status": db.get("DBInstanceStatus")}


OPERATIONS: dict[str, Callable[[dict[str, Any], Call, Reads], Iterator[Row]]] = {
    "iam_ListOpenIDConnectProviders": _oidc_providers,
    "iam_ListRoles": _roles,
    "iam_ListInstanceProfiles": _instance_profiles,
    "iam_ListAttachedRolePolicies": _attached_policies,
    "organizations_ListAccounts": _org_accounts,
    "organizations_ListAWSServiceAccessForOrganization": _service_access,
    "s3_ListBuckets": _buckets,
    "ec2_DescribeInstances": _instances,
    "ec2_DescribeImages": _images,
    "ssm_DescribeInstanceInformation": _ssm_instances,
    "eks_ListClusters": _eks_clusters,
    "rds_DescribeDBInstances": _db_instances,
}


# ------------------------------------------------------------------ accounts

PER_RESOURCE = ("iam_GetOpenIDConnectProvider", "s3_GetBucketPolicy")  # joined to the rows of their listing


def _first_responses(calls: list[Call]) -> dict[str, dict[str, Any]]:
    """The response per target of per-resource calls, from the first call that asked about it (when it succeeded)."""
    out: dict[str, dict[str, Any] | None] = {}
    for call in calls:
        out.setdefault(target(call.params) or "", (call.response or {}) if call.error is None else None)
    return {key: response for key, response in out.items() if response is not None}


def _call_row(operation: str, call: Call) -> dict[str, Any]:
    error = call.error or {}
    return {"operation": operation, "region": call.region, "target": target(call.params), "ok": call.error is None,
            "error_code": None if error.get("code") is None else str(error["code"]),
            "error_message": None if error.get("message") is None else str(error["message"])}


def account_rows(inventory: AccountInventory) -> Iterator[Row]:
    """The rows of one account's inventory, each table's in call order."""
    yield "aws_collections", {"collected_at": inventory.collected_at, "source": inventory.source,
                              "regions": list(inventory.regions)}
    for operation, calls in inventory.calls.items():
        for call in calls:
            yield "aws_calls", _call_row(operation, call)
    reads = {operation: _first_responses(inventory.calls.get(operation, [])) for operation in PER_RESOURCE}
    for operation, read in OPERATIONS.items():
        for call in inventory.calls.get(operation, []):
            if call.error is None:
                yield from read(call.response or {}, call, reads)


def normalise_inventories(inventories: Mapping[str, AccountInventory]) -> dict[str, pd.DataFrame]:
    """One DataFrame per `schema.AWS_INVENTORY_TABLES` contract from the inventories by account id."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in schema.AWS_INVENTORY_TABLES}
    for account_id, inventory in inventories.items():
        for table, row in account_rows(inventory):
            rows[table].append({"account_id": account_id, **row})
    return {name: table.frame(rows[name]) for name, table in schema.AWS_INVENTORY_TABLES.items()}
