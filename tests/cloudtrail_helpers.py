"""Hand-built CloudTrail records and log files for the cloudtrail tests (shapes from reference/aws-cloudtrail.md)."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

TENANT = "7c1e4b2a-3f5d-4e8a-9b6c-2d1f0e3a4b5c"
SESSION = f"MicrosoftDefenderForClouds_{TENANT}"
ACCT = "111122223333"
ACCT2 = "444455556666"
CSPM = f"arn:aws:iam::{ACCT}:role/CspmMonitorAws"
SCANNER = f"arn:aws:iam::{ACCT}:role/DefenderForCloud-AgentlessScanner"


def eid(n: int) -> str:
    return str(uuid.UUID(int=n))


def role_call(n: int, role_arn: str, when: str, name: str = "DescribeInstances", source: str = "ec2",
              read_only: bool = True, session: str = SESSION, region: str = "us-east-1") -> dict[str, Any]:
    account = role_arn.split(":")[4]
    role = role_arn.rsplit("/", 1)[1]
    return {
        "eventVersion": "1.09", "eventTime": when, "eventSource": f"{source}.amazonaws.com", "eventName": name,
        "awsRegion": region, "eventID": eid(n), "readOnly": read_only, "recipientAccountId": account,
        "eventType": "AwsApiCall", "requestParameters": None, "responseElements": None,
        "userIdentity": {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}",
                         "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
                         "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "userName": role,
                                                              "accountId": account}}},
    }


def user_call(n: int, when: str, account: str = ACCT, read_only: bool = True,
              name: str = "ListBuckets") -> dict[str, Any]:
    return {"eventVersion": "1.08", "eventTime": when, "eventSource": "s3.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "eventID": eid(n), "readOnly": read_only, "recipientAccountId": account,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/alice", "accountId": account}}


def assume_web(n: int, role_arn: str, when: str, session: str = SESSION) -> dict[str, Any]:
    account = role_arn.split(":")[4]
    return {"eventVersion": "1.08", "eventTime": when, "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRoleWithWebIdentity", "awsRegion": "us-east-1", "eventID": eid(n), "readOnly": True,
            "recipientAccountId": account,
            "userIdentity": {"type": "WebIdentityUser", "principalId": "x", "userName": "y",
                             "identityProvider": f"arn:aws:iam::{account}:oidc-provider/sts.windows.net/t/"},
            "requestParameters": {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}}


def log_path(root: Path, account: str, region: str, day: str, name: str, org: str | None = None) -> Path:
    y, m, d = day.split("-")
    org_part = f"{org}/" if org else ""
    folder = f"AWSLogs/{org_part}{account}/CloudTrail/{region}/{y}/{m}/{d}"
    p = root / folder / f"{account}_CloudTrail_{region}_{name}.json.gz"
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def write_log(path: Path, records: list[dict[str, Any]], *, gz: bool = True, compact: bool = False) -> Path:
    """A log file; `compact` writes it as CloudTrail does (no whitespace), else with json.dumps' default spaces."""
    data = json.dumps({"Records": records}, separators=(",", ":") if compact else None).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
