"""Who made a CloudTrail call: MDC's CSPM role, another MDC role, or anyone else.

The rule (DESIGN.md, reference/aws-cloudtrail.md §1.2-1.3): an event is MDC CSPM's when
`userIdentity.sessionContext.sessionIssuer.arn` is a CspmMonitorAws role ARN. The session name
`MicrosoftDefenderForClouds_<tenant>` is shared by every MDC role, so it only tells "some MDC role", never CSPM.
`AssumeRoleWithWebIdentity` records carry no sessionIssuer; they are attributed through `requestParameters.roleArn`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MDC_FACTS: dict[str, Any] = json.loads((Path(__file__).with_name("mdc.json")).read_text(encoding="utf-8"))
CSPM_ROLE_NAME: str = MDC_FACTS["cspm_role_name"]
SESSION_PREFIX: str = MDC_FACTS["session_prefix"]
DEFAULT_ROLE_NAMES: frozenset[str] = frozenset(MDC_FACTS["default_role_names"])

# Actor classes of the volume table.
CSPM = "cspm"                          # a call made with CspmMonitorAws credentials
CSPM_ASSUME_ROLE = "cspm_assume_role"  # the AssumeRoleWithWebIdentity that obtained them
MDC_OTHER = "mdc_other"                # another MDC role (or its AssumeRoleWithWebIdentity)
OTHER = "other"                        # everything else
ACTORS = (CSPM, CSPM_ASSUME_ROLE, MDC_OTHER, OTHER)

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def role_name(arn: str | None) -> str | None:
    """Friendly role name of an IAM role ARN (the path is dropped), None when it is not one."""
    m = _ROLE_ARN.match(arn or "")
    return m.group(2) if m else None


def default_cspm_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{CSPM_ROLE_NAME}"


@dataclass(frozen=True)
class RoleMatcher:
    """Classifies identities. `cspm_arns` empty means: any `arn:aws:iam::<acct>:role/CspmMonitorAws`."""

    cspm_arns: frozenset[str] = frozenset()
    mdc_role_arns: frozenset[str] = frozenset()
    _cache: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict, compare=False, repr=False)
    # classify* return (actor, role ARN): the ARN of the issuing role for MDC actors, None for others.

    @classmethod
    def build(cls, cspm_arns: Iterable[str] = (), mdc_role_arns: Iterable[str] = ()) -> RoleMatcher:
        cspm = frozenset(a for a in cspm_arns if a)
        return cls(cspm, frozenset(a for a in mdc_role_arns if a) - cspm)

    def is_cspm(self, arn: str) -> bool:
        if self.cspm_arns:
            return arn in self.cspm_arns
        return role_name(arn) == CSPM_ROLE_NAME

    def classify(self, role_arn: str, session_name: str) -> tuple[str, str | None]:
        """(actor, role ARN) for a session issued by `role_arn` under `session_name` (cached: few distinct)."""
        key = (role_arn, session_name)
        hit = self._cache.get(key)
        if hit is None:
            if self.is_cspm(role_arn):
                hit = (CSPM, role_arn)
            elif (role_arn in self.mdc_role_arns or role_name(role_arn) in DEFAULT_ROLE_NAMES
                  or session_name.startswith(SESSION_PREFIX)):
                hit = (MDC_OTHER, role_arn)
            else:
                hit = (OTHER, None)
            self._cache[key] = hit
        return hit

    def classify_record(self, rec: dict[str, Any]) -> tuple[str, str | None]:
        """(actor, role ARN) of one CloudTrail record."""
        ui = rec.get("userIdentity")
        if type(ui) is dict:
            ctx = ui.get("sessionContext")
            issuer = ctx.get("sessionIssuer") if type(ctx) is dict else None
            arn = issuer.get("arn") if type(issuer) is dict else None
            if arn:
                ident = ui.get("arn") or ui.get("principalId") or ""
                return self.classify(arn, _session_name(ident))
        if rec.get("eventName") == "AssumeRoleWithWebIdentity":
            params = rec.get("requestParameters")
            if type(params) is dict and params.get("roleArn"):
                actor, arn = self.classify(params["roleArn"], str(params.get("roleSessionName") or ""))
                return (CSPM_ASSUME_ROLE if actor == CSPM else actor), arn
        return OTHER, None


def _session_name(identity: str) -> str:
    """Session name from `arn:aws:sts::<acct>:assumed-role/<role>/<session>` or `<roleId>:<session>`."""
    if "/" in identity:
        return identity.rsplit("/", 1)[1]
    return identity.split(":", 1)[1] if ":" in identity else ""


def roles_from_offerings(offerings: Any) -> tuple[set[str], set[str]]:
    """(CSPM role ARNs, other MDC role ARNs) from an `offerings` table (schema.OFFERINGS) of AWS connectors."""
    cspm: set[str] = set()
    other: set[str] = set()
    if offerings is None or len(offerings) == 0:
        return cspm, other
    aws = offerings[(offerings["environment"] == "AWS") & offerings["role_arn"].notna()]
    for offering, arn in zip(aws["offering_type"], aws["role_arn"], strict=True):
        (cspm if offering == "CspmMonitorAws" else other).add(str(arn))
    return cspm, other - cspm
