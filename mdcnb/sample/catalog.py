"""The sample tenant's fixed vocabulary: recommendation types, secure score controls and compliance standards.

The human text lives in the JSON files beside this module; this module only loads it and gives every
recommendation and control a stable key (uuid5 of its name where no real id is known).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache

from mdcnb.core.package_data import read_json

KEY_NAMESPACE = uuid.UUID("5b0e3c2a-6d1f-4b8e-9a57-0c3d2e1f4a6b")  # fixed: keys must never change


def stable_key(name: str) -> str:
    """A GUID derived from a name, the same on every machine and run."""
    return str(uuid.uuid5(KEY_NAMESPACE, name))


@dataclass(frozen=True)
class Control:
    """A secure score control: definition id, display name, maximum points."""

    control_id: str
    name: str
    max_score: int


@dataclass(frozen=True, eq=False)
class Recommendation:
    """One recommendation type (assessment metadata) and how the sample assigns its statuses."""

    key: str
    title: str
    environment: str  # Azure, AWS or GCP
    targets: tuple[str, ...]
    control: str
    severity: str
    categories: tuple[str, ...]
    threats: tuple[str, ...]
    user_impact: str
    implementation_effort: str
    preview: bool
    fail: float
    not_applicable: float
    plan: str | None
    regulatory: dict[str, str]  # standard key (mcsb, pci, iso, fsbp) -> control name
    remediation: str
    policy_definition_id: str


@dataclass(frozen=True)
class Standard:
    """A regulatory compliance standard: which scopes it applies to and its controls."""

    name: str
    key: str
    applies_to: str  # all, production, aws
    scope: str  # Subscription or MultiCloudAggregation
    controls: dict[str, str]  # control name -> description


@cache
def controls() -> tuple[Control, ...]:
    return tuple(Control(c["id"] or stable_key("control:" + c["name"]), c["name"], c["max"])
                 for c in read_json(__package__, "controls.json")["controls"])


@cache
def recommendations() -> tuple[Recommendation, ...]:
    out = []
    for r in read_json(__package__, "recommendations.json")["recommendations"]:
        out.append(Recommendation(
            key=stable_key("recommendation:" + r["title"]), title=r["title"], environment=r["env"],
            targets=tuple(r["targets"]), control=r["control"], severity=r["severity"],
            categories=tuple(r["categories"]), threats=tuple(r["threats"]), user_impact=r["impact"],
            implementation_effort=r["effort"], preview=bool(r.get("preview", False)), fail=r["fail"],
            not_applicable=r.get("na", 0.0), plan=r.get("plan"),
            regulatory={k: r[k] for k in ("mcsb", "pci", "iso", "fsbp") if k in r},
            remediation=r["remediation"],
            policy_definition_id=f"/providers/Microsoft.Authorization/policyDefinitions/"
                                 f"{stable_key('policy:' + r['title'])}"))
    return tuple(out)


@cache
def standards() -> tuple[Standard, ...]:
    return tuple(Standard(name, s["key"], s["applies_to"], s["scope"], s["controls"])
                 for name, s in read_json(__package__, "standards.json")["standards"].items())


def control_by_name() -> dict[str, Control]:
    return {c.name: c for c in controls()}


def recommendations_for(target: str) -> list[Recommendation]:
    """Recommendation types that assess a resource kind (e.g. `vm`, `s3`)."""
    return [r for r in recommendations() if target in r.targets]
