"""Two hand-built weekly snapshots of a small estate, with the changes between them listed in test_diff.py.

Two subscriptions (s1, s2) become three; VM vm2 is removed and vm3 added; an AWS instance is added; connector c0 is
replaced by c1; recommendations are resolved and newly failing; plans switch on and off; compliance moves.
"""

from __future__ import annotations

from mdcnb.core import schema
from mdcnb.tables import Tables

S1, S2, S3 = "/subscriptions/s1", "/subscriptions/s2", "/subscriptions/s3"
C0 = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.security/securityconnectors/c0"
C1 = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.security/securityconnectors/c1"
VM1, VM2, VM3 = (f"{S1}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm{i}" for i in (1, 2, 3))
ST1 = f"{S2}/resourcegroups/rg/providers/microsoft.storage/storageaccounts/st1"
EC2_1 = "arn:aws:ec2:us-east-1:111111111111:instance/i-1"
EC2_2 = "arn:aws:ec2:us-east-1:111111111111:instance/i-2"


def _assessment(key: str, resource: str, status: str, severity: str, env: str = "Azure") -> dict:
    sub = "s2" if resource == ST1 else "s1"
    return {"assessment_id": f"{resource}/providers/microsoft.security/assessments/{key}", "assessment_key": key,
            "subscription_id": sub, "environment": env, "resource_id": resource, "resource_name": resource[-4:],
            "resource_type": "t", "display_name": f"rec {key}", "status": status, "severity": severity}


def _resource(rid: str) -> dict:
    return {"resource_id": rid, "name": rid.rsplit("/", 1)[-1], "type": rid.split("/providers/")[1].rsplit("/", 1)[0],
            "subscription_id": "s2" if rid == ST1 else "s1"}


def _score(scope: str, pct: float, scope_type: str = "subscription") -> dict:
    return {"scope_id": scope, "score_name": "ascScore", "scope_type": scope_type, "environment": "Azure",
            "percentage": pct, "current": pct * 10, "max": 10.0, "weight": 1}


def _control(scope: str, control: str, current: float, mx: float) -> dict:
    return {"scope_id": scope, "score_name": "ascScore", "control_id": control, "control_name": f"ctl {control}",
            "current": current, "max": mx, "healthy": 1, "unhealthy": 1}


def _compliance(scope: str, standard: str, control: str, state: str) -> dict:
    return {"scope_id": scope, "subscription_id": scope.rsplit("/", 1)[1], "standard": standard, "control": control,
            "state": state, "description": f"{standard} {control}"}


def _standard(scope: str, standard: str, passed: int, failed: int) -> dict:
    return {"scope_id": scope, "subscription_id": scope.rsplit("/", 1)[1], "standard": standard,
            "passed_controls": passed, "failed_controls": failed, "skipped_controls": 0, "unsupported_controls": 0}


def _plan(scope: str, plan: str, tier: str) -> dict:
    return {"scope_id": scope, "subscription_id": scope.rsplit("/", 1)[1], "level": "subscription", "plan": plan,
            "tier": tier, "enabled": tier == "Standard"}


def _connector(cid: str) -> dict:
    return {"connector_id": cid, "name": cid.rsplit("/", 1)[1], "environment": "AWS", "kind": "native"}


BEFORE = Tables(
    subscriptions=schema.SUBSCRIPTIONS.frame([{"subscription_id": "s1"}, {"subscription_id": "s2"}]),
    connectors=schema.CONNECTORS.frame([_connector(C0)]),
    resources=schema.RESOURCES.frame([_resource(VM1), _resource(VM2), _resource(ST1)]),
    assessments=schema.ASSESSMENTS.frame([
        _assessment("k1", VM1, "Unhealthy", "High"),
        _assessment("k2", VM1, "Healthy", "Medium"),
        _assessment("k1", VM2, "Unhealthy", "High"),
        _assessment("k3", ST1, "Unhealthy", "Low"),
        _assessment("k4", EC2_1, "Healthy", "Medium", env="AWS"),
    ]),
    secure_scores=schema.SECURE_SCORES.frame([_score(S1, 0.60), _score(S2, 0.50)]),
    score_controls=schema.SCORE_CONTROLS.frame([_control(S1, "x", 2.0, 4.0), _control(S1, "y", 1.0, 2.0)]),
    compliance_controls=schema.COMPLIANCE_CONTROLS.frame([
        _compliance(S1, "MCSB", "NS.1", "Failed"), _compliance(S1, "MCSB", "NS.2", "Passed"),
        _compliance(S2, "PCI", "1.1", "Failed"),
    ]),
    compliance_standards=schema.COMPLIANCE_STANDARDS.frame([
        _standard(S1, "MCSB", 3, 1), _standard(S2, "MCSB", 1, 1), _standard(S1, "PCI", 0, 0)]),
    plans=schema.PLANS.frame([_plan(S1, "VirtualMachines", "Free"), _plan(S1, "StorageAccounts", "Standard"),
                              _plan(S2, "StorageAccounts", "Standard"), _plan(S2, "Containers", "Free")]),
)

AFTER = Tables(
    subscriptions=schema.SUBSCRIPTIONS.frame([{"subscription_id": s} for s in ("s1", "s2", "s3")]),
    connectors=schema.CONNECTORS.frame([_connector(C1)]),
    resources=schema.RESOURCES.frame([_resource(VM1), _resource(VM3), _resource(ST1)]),
    assessments=schema.ASSESSMENTS.frame([
        _assessment("k1", VM1, "Healthy", "High"),          # resolved
        _assessment("k2", VM1, "Unhealthy", "Medium"),      # newly unhealthy (was Healthy)
        _assessment("k3", ST1, "Unhealthy", "Low"),         # still unhealthy: no change
        _assessment("k4", EC2_1, "NotApplicable", "Medium", env="AWS"),  # healthy -> N/A: no change listed
        _assessment("k1", VM3, "Unhealthy", "Critical"),    # newly unhealthy (new resource)
        _assessment("k5", EC2_2, "Healthy", "Low", env="AWS"),  # new AWS resource, healthy
    ]),
    secure_scores=schema.SECURE_SCORES.frame([_score(S1, 0.70), _score(S2, 0.45), _score(C1, 0.80, "connector")]),
    score_controls=schema.SCORE_CONTROLS.frame([_control(S1, "x", 3.0, 4.0), _control(S1, "y", 1.0, 2.0)]),
    compliance_controls=schema.COMPLIANCE_CONTROLS.frame([
        _compliance(S1, "MCSB", "NS.1", "Passed"), _compliance(S1, "MCSB", "NS.2", "passed"),
        _compliance(S2, "PCI", "1.2", "Failed"),
    ]),
    compliance_standards=schema.COMPLIANCE_STANDARDS.frame([
        _standard(S1, "MCSB", 4, 0), _standard(S2, "MCSB", 1, 1), _standard(S1, "PCI", 0, 0)]),
    plans=schema.PLANS.frame([_plan(S1, "VirtualMachines", "Standard"), _plan(S1, "StorageAccounts", "Standard"),
                              _plan(S2, "StorageAccounts", "Free"), _plan(S2, "Containers", "Free"),
                              _plan(S3, "CloudPosture", "Standard")]),
)
