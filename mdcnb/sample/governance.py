"""Governance assignments, policy exemptions and risk levels of the sample tenant (issue 20).

The cases are declared below (`ASSIGNMENTS`, `EXEMPTIONS`): tests derive every expected figure from them. Each case
names its subscription and the kind of assessment it needs; the assessment is the first unused one of that kind in
the subscription (sorted by id), among recommendations without a Defender plan, whose status depends on nothing
but the seed (`estate.status`). An exemption only ever covers assessments that are NotApplicable by policy
anyway: it changes their cause to `Exempt` and no score, count or compliance state of the sample moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mdcnb.sample.catalog import Recommendation, recommendations_for
from mdcnb.sample.context import Connector, SampleContext, Subscription, iso
from mdcnb.sample.estate import Status, azure_resources, plan_settings, status
from mdcnb.sample.scores import HEALTHY, NOT_APPLICABLE, UNHEALTHY

OFF_BY_POLICY = "OffByPolicy"
EXEMPT = "Exempt"
MCSB_ASSIGNMENT = "SecurityCenterBuiltIn"  # the Microsoft cloud security benchmark assignment MDC exempts against
CREATED_BEFORE_DUE = timedelta(days=28)  # an assignment is made this long before its due date
RISK_LEVELS = ("Critical", "High", "Medium", "Low")
RISK_FACTORS = ("Internet exposure", "Sensitive data", "Lateral movement", "Vulnerabilities", "Critical resource")


@dataclass(frozen=True)
class AssignmentCase:
    """A governance assignment: owner as the service returns it (case varies), due date relative to `as_of`."""

    subscription: str
    owner: str
    due_days: int  # due date = as_of + due_days (negative: passed)
    grace_period: bool
    kind: str  # "unhealthy" (still unhealthy now) or "remediated" (was unhealthy, healthy now)
    high_risk: bool = False  # the assessment's risk level is High or Critical


@dataclass(frozen=True)
class ExemptionCase:
    """A policy exemption. `scope`: resource, subscription or managementgroup (of the MCSB or another assignment)."""

    name: str
    scope: str
    target: str  # subscription display name, or management group name
    category: str  # Waiver or Mitigated
    expires_days: int | None  # expiresOn = as_of + expires_days; None: never
    created_days: int  # createdAt = as_of - created_days
    assignment: str = MCSB_ASSIGNMENT


ASSIGNMENTS: tuple[AssignmentCase, ...] = (
    AssignmentCase("contoso-prod-payments", "Alice.Ng@contoso.com", -14, False, "unhealthy", True),  # overdue
    AssignmentCase("contoso-prod-payments", "alice.ng@contoso.com", -3, True, "unhealthy", True),  # grace, overdue
    AssignmentCase("contoso-prod-web", "ALICE.NG@CONTOSO.COM", 10, True, "unhealthy"),
    AssignmentCase("contoso-prod-data", "bob.martin@contoso.com", -21, False, "unhealthy"),  # overdue
    AssignmentCase("contoso-prod-data", "bob.martin@contoso.com", 5, False, "unhealthy"),
    AssignmentCase("contoso-prod-data", "Bob.Martin@contoso.com", -30, False, "remediated"),  # never counted
    AssignmentCase("contoso-prod-platform", "carol.diaz@contoso.com", -7, False, "unhealthy"),  # overdue
    AssignmentCase("contoso-prod-platform", "Carol.Diaz@Contoso.com", 20, True, "unhealthy"),
    AssignmentCase("contoso-dev-web", "dev.team@contoso.com", -2, False, "unhealthy"),  # overdue
    AssignmentCase("contoso-dev-web", "dev.team@contoso.com", 25, False, "unhealthy"),
)

EXEMPTIONS: tuple[ExemptionCase, ...] = (
    ExemptionCase("waiver-legacy-web", "resource", "contoso-prod-web", "Waiver", 18, 60),  # expiring within 30 days
    ExemptionCase("mitigated-fw-appliance", "resource", "contoso-prod-data", "Mitigated", None, 90),
    ExemptionCase("waiver-migration-q3", "resource", "contoso-prod-platform", "Waiver", -3, 100),  # expired last week
    ExemptionCase("mitigated-ddos-hub", "subscription", "contoso-security", "Mitigated", 25, 120),  # expiring
    ExemptionCase("waiver-nonprod-locations", "managementgroup", "mg-nonproduction", "Waiver", 90, 45,
                  assignment="allowed-locations"),
)


@dataclass(frozen=True)
class Picked:
    """An assessment a case applies to: subscription, recommendation, assessed resource id (its status key)."""

    sub: Subscription
    rec: Recommendation
    resource_id: str
    alive_from: int  # first week index the assessment exists

    @property
    def assessment_id(self) -> str:
        return f"{self.resource_id}/providers/Microsoft.Security/assessments/{self.rec.key}"


def _candidates(ctx: SampleContext, sub: Subscription) -> Iterator[Picked]:
    """Plan-free Azure assessments of a subscription alive at the latest week: resources' first, by id."""
    items = [Picked(sub, rec, sub.scope_id, 0) for rec in recommendations_for("subscription") if rec.plan is None]
    for r in azure_resources(ctx, sub):
        if r.alive(ctx.latest_week):
            items += [Picked(sub, rec, r.resource_id, r.first_week) for rec in recommendations_for(r.kind)
                      if rec.plan is None]
    yield from sorted(items, key=lambda p: (p.resource_id == sub.scope_id, p.assessment_id.lower()))


def _codes(ctx: SampleContext, p: Picked) -> list[str]:
    return [status(ctx, p.rec, p.resource_id, w).code for w in range(p.alive_from, ctx.weeks)]


def _fits(ctx: SampleContext, p: Picked, kind: str, high_risk: bool = False) -> bool:
    codes = _codes(ctx, p)
    if kind == "unhealthy":
        return codes[-1] == UNHEALTHY and (not high_risk or _risk_level(ctx, p) in ("Critical", "High"))
    if kind == "remediated":
        return codes[-1] == HEALTHY and UNHEALTHY in codes
    causes = {status(ctx, p.rec, p.resource_id, w).cause for w in range(p.alive_from, ctx.weeks)}
    return causes == {OFF_BY_POLICY} and (kind == "subscription") == (p.resource_id == p.sub.scope_id)


@dataclass
class Plan:
    """The cases of one tenant resolved to assessments (subscriptions missing from a scale are left out)."""

    assignments: list[tuple[AssignmentCase, Picked]]
    exemptions: list[tuple[ExemptionCase, Picked | None]]

    def exemption_of(self, resource_id: str, rec_key: str) -> ExemptionCase | None:
        return next((case for case, p in self.exemptions
                     if p is not None and p.resource_id == resource_id and p.rec.key == rec_key), None)


def plan(ctx: SampleContext) -> Plan:
    by_name = {s.display_name: s for s in ctx.subscriptions}
    used: set[str] = set()

    def pick(sub: Subscription, kind: str, high_risk: bool = False) -> Picked | None:
        found = next((p for p in _candidates(ctx, sub) if p.assessment_id not in used
                      and _fits(ctx, p, kind, high_risk)), None)
        if found is not None:
            used.add(found.assessment_id)
        return found

    assignments = [(case, p) for case in ASSIGNMENTS if case.subscription in by_name
                   for p in [pick(by_name[case.subscription], case.kind, case.high_risk)] if p is not None]
    exemptions: list[tuple[ExemptionCase, Picked | None]] = []
    for case in EXEMPTIONS:
        if case.scope == "managementgroup":
            exemptions.append((case, None))
        elif case.target in by_name:
            p = pick(by_name[case.target], case.scope)
            if p is not None:
                exemptions.append((case, p))
    return Plan(assignments, exemptions)


def _risk_level(ctx: SampleContext, p: Picked) -> str | None:
    """The risk level the snapshot gives the assessment at the latest week."""
    cspm = plan_settings(ctx, p.sub)["CloudPosture"].standard_at(ctx.as_of)
    found = risk(ctx, p.rec, p.resource_id, status(ctx, p.rec, p.resource_id, ctx.latest_week), cspm)
    return None if found is None else found["level"]


def _expires(ctx: SampleContext, case: ExemptionCase) -> datetime | None:
    return None if case.expires_days is None else ctx.as_of + timedelta(days=case.expires_days)


def _active(ctx: SampleContext, case: ExemptionCase, moment: datetime) -> bool:
    expires = _expires(ctx, case)
    return ctx.as_of - timedelta(days=case.created_days) <= moment and (expires is None or moment < expires)


def exempted(ctx: SampleContext, the_plan: Plan, resource_id: str, rec: Recommendation, st: Status,
             moment: datetime) -> Status:
    """The status with cause `Exempt` where an active exemption covers the (NotApplicable by policy) assessment."""
    if st.code != NOT_APPLICABLE or st.cause != OFF_BY_POLICY:
        return st
    case = the_plan.exemption_of(resource_id, rec.key)
    if case is None or not _active(ctx, case, moment):
        return st
    return Status(NOT_APPLICABLE, EXEMPT, f"Exempted: {case.category.lower()} ({case.name})", st.changed_week)


def defender_cspm(connector: Connector) -> bool:
    """A connector with the Defender CSPM offering (risk levels are computed under Defender CSPM)."""
    return any(o.startswith("DefenderCspm") for o in connector.offerings)


def risk(ctx: SampleContext, rec: Recommendation, key: str, st: Status, cspm: bool) -> dict[str, Any] | None:
    """`properties.risk` of an unhealthy assessment under Defender CSPM; None otherwise or when none was computed."""
    if not cspm or st.code != UNHEALTHY:
        return None
    u_level, u_none, u_factors = ctx.unit("risk", rec.key, key)
    if u_none < 0.15:
        return None
    start = {"Critical": 0, "High": 0, "Medium": 1, "Low": 2}[rec.severity]
    level = RISK_LEVELS[min(start + int(u_level * 2.2), 3)]
    factors = [f for i, f in enumerate(RISK_FACTORS) if int(u_factors * 97) >> i & 1]
    return {"level": level, "riskFactors": factors, "attackPathsReferences": [], "isContextualRisk": bool(factors)}


def assignment_record(ctx: SampleContext, case: AssignmentCase, p: Picked) -> dict[str, Any]:
    """A governance assignment as Resource Graph `securityresources` returns it."""
    due = ctx.as_of + timedelta(days=case.due_days)
    key = str(ctx.rng("governance-key", p.assessment_id).getrandbits(128).to_bytes(16, "big").hex())
    key = f"{key[:8]}-{key[8:12]}-4{key[13:16]}-a{key[17:20]}-{key[20:32]}"
    props: dict[str, Any] = {
        "owner": case.owner, "remediationDueDate": iso(due).replace("Z", ".0000000Z"),
        "isGracePeriod": case.grace_period,
        "governanceEmailNotification": {"disableManagerEmailNotification": case.due_days > 0,
                                        "disableOwnerEmailNotification": False}}
    if case.due_days < 0:
        props["remediationEta"] = {"eta": iso(due + timedelta(days=14)), "justification": "Waiting for a change window"}
    return {"id": f"{p.assessment_id}/governanceAssignments/{key}", "name": key,
            "type": "microsoft.security/assessments/governanceassignments", "tenantId": ctx.tenant_id,
            "kind": "", "location": "", "resourceGroup": p.resource_id.split("/")[4].lower()
            if p.resource_id != p.sub.scope_id else "", "subscriptionId": p.sub.subscription_id,
            "managedBy": "", "sku": None, "plan": None, "properties": props, "tags": None, "identity": None,
            "zones": None, "extendedLocation": None}


def assignment_exists(ctx: SampleContext, case: AssignmentCase, p: Picked, week: int) -> bool:
    created = ctx.as_of + timedelta(days=case.due_days) - CREATED_BEFORE_DUE
    return week >= p.alive_from and created <= ctx.week_time(week)


def exemption_record(ctx: SampleContext, case: ExemptionCase, p: Picked | None) -> dict[str, Any]:
    """A policy exemption as Resource Graph `policyresources` returns it."""
    if case.scope == "managementgroup":
        scope = f"/providers/Microsoft.Management/managementGroups/{case.target}"
        references: list[str] = []
    else:
        assert p is not None
        scope = p.resource_id
        references = [p.rec.policy_definition_id.rsplit("/", 1)[-1]]
    assignment_scope = scope if case.scope == "managementgroup" else p.sub.scope_id  # type: ignore[union-attr]
    props: dict[str, Any] = {
        "policyAssignmentId": f"{assignment_scope}/providers/Microsoft.Authorization/policyAssignments/"
                              f"{case.assignment}",
        "policyDefinitionReferenceIds": references, "exemptionCategory": case.category,
        "displayName": case.name.replace("-", " ").capitalize(),
        "description": f"{case.category} agreed with the security team", "metadata": {"requestedBy": "secops"}}
    expires = _expires(ctx, case)
    if expires is not None:
        props["expiresOn"] = iso(expires)
    created = iso(ctx.as_of - timedelta(days=case.created_days))
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyExemptions/{case.name}", "name": case.name,
            "type": "microsoft.authorization/policyexemptions", "tenantId": ctx.tenant_id, "kind": "",
            "location": "", "resourceGroup": "", "subscriptionId": "" if p is None else p.sub.subscription_id,
            "managedBy": "", "sku": None, "plan": None, "properties": props, "tags": None, "identity": None,
            "zones": None, "extendedLocation": None,
            "systemData": {"createdBy": "secops@contoso.com", "createdByType": "User", "createdAt": created}}


def exemption_exists(ctx: SampleContext, case: ExemptionCase, week: int) -> bool:
    return ctx.as_of - timedelta(days=case.created_days) <= ctx.week_time(week)


def write_records(ctx: SampleContext, the_plan: Plan, writer, week: int) -> None:
    """Write the week's governance assignments and exemptions (expired exemptions stay until deleted)."""
    for case, p in the_plan.assignments:
        if assignment_exists(ctx, case, p, week):
            writer.write("governanceassignments", assignment_record(ctx, case, p))
    for case, maybe in the_plan.exemptions:
        if exemption_exists(ctx, case, week):
            writer.write("policyexemptions", exemption_record(ctx, case, maybe))
