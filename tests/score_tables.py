"""A hand-made tenant small enough to work every number out on paper (see the tests that use it).

Scopes: subscriptions s1 "Prod" (weight 2, 6 of 10 points) and s2 "Dev" (weight 0, 3 of 10), and AWS connector c1
"aws-acct" (weight 1, 2 of 5). Control A "Enable MFA" (recommendations k1, k2) in s1 and s2; control B
"Encrypt data" (k3) in c1.

Assessments: k1/s1: r1 Unhealthy, r2 Healthy, r3 NotApplicable (High); k2/s1: r1 Unhealthy (Medium);
k1/s2: r4 Unhealthy (High); k3/c1: r5, r6 Unhealthy (Low); k4/s1: r1 Unhealthy but preview (never counted).
"""

from __future__ import annotations

from mdcnb.core import schema
from mdcnb.tables import Tables

S1, S2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
C1 = f"/subscriptions/{S1}/resourcegroups/mc/providers/microsoft.security/securityconnectors/aws1"
A, B = "aaaaaaaa-0000-0000-0000-000000000000", "bbbbbbbb-0000-0000-0000-000000000000"


def _assessment(key, sub, resource, status, severity, *, connector=None, env="Azure", preview=False, title=None):
    return {"assessment_key": key, "subscription_id": sub, "resource_id": f"/r/{resource}", "resource_name": resource,
            "resource_type": "vm", "status": status, "severity": severity, "connector_id": connector,
            "environment": env, "preview": preview, "display_name": title or f"Recommendation {key}"}


def tables() -> Tables:
    return Tables(
        subscriptions=schema.SUBSCRIPTIONS.frame([{"subscription_id": S1, "display_name": "Prod"},
                                                  {"subscription_id": S2, "display_name": "Dev"}]),
        connectors=schema.CONNECTORS.frame([{"connector_id": C1, "name": "aws-acct", "environment": "AWS",
                                             "subscription_id": S1, "hierarchy_id": "123456789012"}]),
        secure_scores=schema.SECURE_SCORES.frame([
            {"scope_id": f"/subscriptions/{S1}", "scope_type": "subscription", "subscription_id": S1,
             "environment": "Azure", "score_name": "ascScore", "current": 6, "max": 10, "weight": 2},
            {"scope_id": f"/subscriptions/{S2}", "scope_type": "subscription", "subscription_id": S2,
             "environment": "Azure", "score_name": "ascScore", "current": 3, "max": 10, "weight": 0},
            {"scope_id": C1, "scope_type": "connector", "subscription_id": S1, "environment": "AWS",
             "score_name": "ascScore", "current": 2, "max": 5, "weight": 1}]),
        score_controls=schema.SCORE_CONTROLS.frame([
            {"scope_id": f"/subscriptions/{S1}", "subscription_id": S1, "score_name": "ascScore", "control_id": A,
             "control_name": "Enable MFA", "current": 6, "max": 10, "healthy": 1, "unhealthy": 1,
             "definition_max": 10, "assessment_keys": ["k1", "k2"]},
            {"scope_id": f"/subscriptions/{S2}", "subscription_id": S2, "score_name": "ascScore", "control_id": A,
             "control_name": "Enable MFA", "current": 3, "max": 10, "healthy": 0, "unhealthy": 1,
             "definition_max": 10, "assessment_keys": ["k1"]},
            {"scope_id": C1, "subscription_id": S1, "score_name": "ascScore", "control_id": B,
             "control_name": "Encrypt data", "current": 2, "max": 5, "healthy": 0, "unhealthy": 2,
             "definition_max": 5, "assessment_keys": ["k3"]}]),
        assessments=schema.ASSESSMENTS.frame([
            _assessment("k1", S1, "r1", "Unhealthy", "High"), _assessment("k1", S1, "r2", "Healthy", "High"),
            _assessment("k1", S1, "r3", "NotApplicable", "High"), _assessment("k2", S1, "r1", "Unhealthy", "Medium"),
            _assessment("k1", S2, "r4", "Unhealthy", "High"),
            _assessment("k3", S1, "r5", "Unhealthy", "Low", connector=C1, env="AWS"),
            _assessment("k3", S1, "r6", "Unhealthy", "Low", connector=C1, env="AWS"),
            _assessment("k4", S1, "r1", "Unhealthy", "High", preview=True)]),
    )
