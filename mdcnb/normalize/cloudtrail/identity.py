"""Who made a CloudTrail call: MDC's CSPM role, another MDC role, or anyone else.

The rule (DESIGN.md, reference/aws-cloudtrail.md §1.2-1.3): an event is MDC CSPM's when
`userIdentity.sessionContext.sessionIssuer.arn` is a CspmMonitorAws role ARN. The session name
`MicrosoftDefenderForClouds_<tenant>` is shared by every MDC role, so it only tells "some MDC role", never CSPM.
`AssumeRoleWithWebIdentity` records carry no sessionIssuer; they are attributed through `requestParameters.roleArn`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mdcnb.core.package_data import read_json

MDC_FACTS: dict[str, Any] = read_json(__package__, "mdc.json")
CSPM_ROLE_NAME: str = MDC_FACTS["cspm_role_name"]
SESSION_PREFIX: str = MDC_FACTS["session_prefix"]
DEFAULT_ROLE_NAMES: frozenset[str] = frozenset(MDC_FACTS["default_role_names"])

# Actor classes of the volume table.
CSPM = "cspm"                          # a call made with CspmMonitorAws credentials
CSPM_ASSUME_ROLE = "cspm_assume_role"  # the AssumeRoleWithWebIdentity that obtained them
MDC_OTHER = "mdc_other"                # another MDC role (or its AssumeRoleWithWebIdentity)
OTHER = "other"                        # everything else
ACTORS = (CSPM, CSPM_ASSUME_ROLE, MDC_OTHER, OTHER)

_MAX_REMEMBERED = 100_000  # (role, session) pairs remembered per process before starting afresh
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
    _issuers: dict[str, tuple[str, str | None] | None] = field(default_factory=dict, compare=False, repr=False)
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
        """(actor, role ARN) for a session issued by `role_arn` under `session_name`."""
        return self.classify_sessions([role_arn], [session_name])[0]

    def classify_sessions(self, issuers: list[str], sessions: list[str]) -> list[tuple[str, str | None]]:
        """`classify` for many records ('' issuer: no role session, OTHER). Distinct (issuer, session) pairs are
        few: each is decided once and remembered."""
        cache = self._cache
        pairs = list(zip(issuers, sessions, strict=True))
        new = set(pairs).difference(cache)
        if len(cache) + len(new) > _MAX_REMEMBERED:
            cache.clear()
            new = set(pairs)
        for issuer, session in new:
            by_role = self._by_issuer(issuer)
            cache[issuer, session] = by_role or ((MDC_OTHER, issuer) if session.startswith(SESSION_PREFIX)
                                                 else (OTHER, None))
        return list(map(cache.__getitem__, pairs))

    def classify_issuers(self, issuers: list[str]) -> list[tuple[str, str | None] | None]:
        """(actor, role ARN) per session issuer ARN of many records where the role alone decides ('' is no role
        session: OTHER); None where only the session name can tell (`classify_sessions`). Issuers are few: each is
        decided once and remembered."""
        known = self._issuers
        for issuer in set(issuers).difference(known):
            known[issuer] = self._by_issuer(issuer)
        return list(map(known.__getitem__, issuers))

    def _by_issuer(self, issuer: str) -> tuple[str, str | None] | None:
        if not issuer:
            return OTHER, None
        if self.is_cspm(issuer):
            return CSPM, issuer
        if issuer in self.mdc_role_arns or role_name(issuer) in DEFAULT_ROLE_NAMES:
            return MDC_OTHER, issuer
        return None

    def classify_assume_role(self, role_arn: str, session_name: str) -> tuple[str, str | None]:
        """(actor, role ARN) of an AssumeRoleWithWebIdentity call for `role_arn` (it carries no session issuer)."""
        actor, arn = self.classify(role_arn, session_name)
        return (CSPM_ASSUME_ROLE if actor == CSPM else actor), arn


def session_name(identity: str) -> str:
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
