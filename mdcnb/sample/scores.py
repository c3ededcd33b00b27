"""Secure score and regulatory compliance of one scope, computed from its assessments as MDC does.

Secure score (reference/azure-api.md section 5): per control, a resource counts once: unhealthy if any of the
control's recommendations is unhealthy on it, else healthy if any is healthy, else not applicable. Preview
recommendations do not count. `current = round(max * healthy / (healthy + unhealthy), 2)`, `percentage =
round(current / max, 4)`, and `max` is 0 when no resource is healthy or unhealthy. Control weight = healthy +
unhealthy. Scope: `max = sum of control max`, `current = round(sum of control current, 2)`, `percentage =
round(current / max, 4)`; scope weight = distinct resources healthy or unhealthy in any counted recommendation.

Compliance: an assessment of a control passes / fails / skips resources (Healthy / Unhealthy / NotApplicable);
its state is Failed if any failed, else Passed if any passed, else Skipped. A control is Failed if any of its
assessments failed, else Passed if any passed, else Skipped; a control without assessments is Unsupported
(manual). A standard is Failed if any control failed, else Passed if any passed, else Skipped if any skipped,
else Unsupported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from mdcnb.sample.catalog import Control, Standard

HEALTHY, UNHEALTHY, NOT_APPLICABLE = "Healthy", "Unhealthy", "NotApplicable"
_RANK = {UNHEALTHY: 2, HEALTHY: 1, NOT_APPLICABLE: 0}


@dataclass(frozen=True)
class Scored:
    """The part of an assessment that scores need."""

    key: str  # recommendation key
    control: str  # control display name
    resource_id: str
    status: str
    preview: bool


@dataclass(frozen=True)
class ControlScore:
    control: Control
    healthy: int
    unhealthy: int
    not_applicable: int
    current: float
    max: int
    percentage: float

    @property
    def weight(self) -> int:
        return self.healthy + self.unhealthy


@dataclass(frozen=True)
class ScopeScore:
    current: float
    max: int
    percentage: float
    weight: int


def control_scores(assessments: Iterable[Scored], controls: Iterable[Control]) -> list[ControlScore]:
    """One score per control (also for controls without any assessment: all zero)."""
    state: dict[str, dict[str, str]] = defaultdict(dict)  # control -> resource -> worst status
    for a in assessments:
        if a.preview:
            continue
        seen = state[a.control].get(a.resource_id)
        if seen is None or _RANK[a.status] > _RANK[seen]:
            state[a.control][a.resource_id] = a.status
    out = []
    for control in controls:
        statuses = list(state.get(control.name, {}).values())
        healthy, unhealthy = statuses.count(HEALTHY), statuses.count(UNHEALTHY)
        assessed = healthy + unhealthy
        max_score = control.max_score if assessed else 0
        current = round(max_score * healthy / assessed, 2) if max_score else 0.0
        percentage = round(current / max_score, 4) if max_score else 0.0
        out.append(ControlScore(control, healthy, unhealthy, statuses.count(NOT_APPLICABLE), current, max_score,
                                percentage))
    return out


def scope_score(assessments: Iterable[Scored], scores: list[ControlScore]) -> ScopeScore:
    assessed = {a.resource_id for a in assessments if not a.preview and a.status != NOT_APPLICABLE}
    max_score = sum(s.max for s in scores)
    current = round(sum(s.current for s in scores), 2)
    return ScopeScore(current, max_score, round(current / max_score, 4) if max_score else 0.0, len(assessed))


@dataclass(frozen=True)
class ComplianceAssessment:
    control: str
    key: str
    passed: int
    failed: int
    skipped: int

    @property
    def state(self) -> str:
        return "Failed" if self.failed else "Passed" if self.passed else "Skipped"


@dataclass(frozen=True)
class ComplianceControl:
    name: str
    description: str
    assessments: tuple[ComplianceAssessment, ...]

    @property
    def state(self) -> str:
        states = [a.state for a in self.assessments]
        if not states:
            return "Unsupported"
        return "Failed" if "Failed" in states else "Passed" if "Passed" in states else "Skipped"

    def count(self, state: str) -> int:
        return sum(a.state == state for a in self.assessments)


@dataclass(frozen=True)
class ComplianceResult:
    standard: Standard
    controls: tuple[ComplianceControl, ...]

    def count(self, state: str) -> int:
        return sum(c.state == state for c in self.controls)

    @property
    def state(self) -> str:
        for state in ("Failed", "Passed", "Skipped"):
            if self.count(state):
                return state
        return "Unsupported"


def compliance(standard: Standard, assessments: Iterable[Scored],
               keys_by_control: dict[str, list[str]]) -> ComplianceResult:
    """Roll a scope's assessments up through a standard's controls.

    `keys_by_control` maps each control of the standard to the recommendation keys that feed it; a key with no
    assessment in the scope gives an assessment with no resources (Skipped).
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    slot = {HEALTHY: 0, UNHEALTHY: 1, NOT_APPLICABLE: 2}
    for a in assessments:
        counts[a.key][slot[a.status]] += 1
    controls = []
    for name, description in standard.controls.items():
        rows = tuple(ComplianceAssessment(name, key, *counts.get(key, (0, 0, 0)))
                     for key in keys_by_control.get(name, []))
        controls.append(ComplianceControl(name, description, rows))
    return ComplianceResult(standard, tuple(controls))
