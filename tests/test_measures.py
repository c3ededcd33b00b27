"""The measure registry: definitions, labels, formats, and the week-over-week table on hand-built weeks."""

from __future__ import annotations

import pytest
from diff_snapshots import AFTER, BEFORE

from mdcnb.core import schema
from mdcnb.measures import registry
from mdcnb.measures.history import week_on_week
from mdcnb.measures.registry import Filters
from mdcnb.snapshot import Snapshot
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.history_weeks import WeeklyHistory


def _snapshot(latest, previous=None) -> Snapshot:
    weeks = {"2026-W47": previous, "2026-W48": latest} if previous is not None else {"2026-W48": latest}
    history = WeeklyHistory("test", None, weeks, cloudtrail={}, audits={}, folders={}, latest=latest,
                            previous_tables=previous, incomplete=[])
    empty = VolumeResult(schema.CLOUDTRAIL_VOLUME.frame(), schema.CLOUDTRAIL_HOURLY.frame())
    return Snapshot(tables=latest, cloudtrail=empty, audit=None, prices=None, siem_price=None, history=history)


def test_week_on_week_with_change():
    """Expected figures are the hand counts of tests/diff_snapshots.py (the same as test_diff.py uses)."""
    table = week_on_week(_snapshot(AFTER, BEFORE)).set_index("measure")
    assert table.loc["score.overall", ["value", "previous", "change"]].tolist() == [65.0, 55.0, 10.0]
    assert table.loc["score.overall", "better"] is True
    assert table.loc["score.unhealthy", ["value", "previous", "change"]].tolist() == [3, 3, 0]
    assert table.loc["coverage.resources", ["value", "previous", "change"]].tolist() == [5, 4, 1]
    assert table.loc["compliance.pass_rate", ["value", "previous"]].tolist() == [83.3, 66.7]
    assert table.loc["compliance.pass_rate", "change"] == pytest.approx(16.6)
    assert table.loc["coverage.plans_enabled", ["value", "previous", "change"]].tolist() == [3, 2, 1]
    assert table.loc["coverage.connectors", ["value", "change"]].tolist() == [1, 0]


def test_week_on_week_of_a_single_week_has_no_change():
    table = week_on_week(_snapshot(AFTER)).set_index("measure")
    assert table["previous"].isna().all() and table["change"].isna().all()
    assert table.loc["score.overall", "value"] == 65.0


def test_every_measure_is_defined_once_with_label_unit_format_and_known_filters():
    measures = registry.measures()
    assert len(measures) >= 30
    for m in measures.values():
        assert m.label and m.fmt and set(m.filters) <= set(registry.FILTERS), m.id
        assert m.id.split(".")[0] in {"score", "compliance", "coverage", "readiness", "cloudtrail", "cost", "history",
                                          "governance", "exemptions", "risk"}
    labels = [m.label for m in measures.values()]
    assert len(labels) == len(set(labels)), "two measures share a label"


def test_a_label_says_which_page_filter_the_measure_does_not_honour():
    assert registry.labelled("score.overall", Filters(environments=("AWS",))) == "Secure score"
    assert registry.labelled("coverage.resources", Filters(environments=("AWS",))) == \
        "Resources assessed or inventoried (all environments)"
    assert registry.labelled("cloudtrail.cspm_read_events", Filters(subscriptions=("s1",), since="2026-11-01")) == \
        "CspmMonitorAws read events (all subscriptions)"


def test_values_are_written_one_way():
    assert registry.text("score.overall", 38.594) == "38.59 %"
    assert registry.text("score.unhealthy", 538) == "538"
    assert registry.text("history.score_change", -0.85) == "-0.85 pts"
    assert registry.text("cost.plans_monthly", 2445.434, currency="EUR") == "EUR 2,445.43 / month"
    assert registry.text("score.overall", float("nan")) == "n/a"
    assert registry.plain(float("inf")) is None


def test_computed_once_per_snapshot_and_filters_and_never_shared_with_a_copy():
    """What several measures read is computed once per snapshot and filters; a copy of the snapshot at another
    week (`dataclasses.replace`, as trends make them) starts with its own memo and never gets this week's value."""
    import dataclasses

    from mdcnb.snapshot import computed_once

    snap, calls = _snapshot(AFTER, BEFORE), []

    def compute(value):
        return lambda: calls.append(value) or value

    assert computed_once(snap, "x", Filters(), compute("after")) == "after"
    assert computed_once(snap, "x", Filters(), compute("again")) == "after"
    assert computed_once(snap, "x", Filters(environments=("AWS",)), compute("aws")) == "aws"
    earlier = dataclasses.replace(snap, tables=BEFORE)
    assert computed_once(earlier, "x", Filters(), compute("before")) == "before"
    assert calls == ["after", "aws", "before"] and len(snap.memo) == 2


def test_the_estate_is_counted_once_for_every_cost_and_coverage_selection(monkeypatch):
    """The billable units and plan settings of the whole estate are counted once per snapshot; each selection of
    the cost page and of the coverage gaps narrows them (was: counted again for every cost selection)."""
    from mdcnb.measures import cost as cost_measures
    from mdcnb.snapshot import build

    counted = []
    real = cost_measures.estate_units
    monkeypatch.setattr(cost_measures, "estate_units", lambda *a: counted.append(1) or real(*a))
    snap = build(with_history=False)
    for f in (Filters(), Filters(environments=("AWS",)), Filters(environments=("Azure",))):
        registry.value("cost.plans_monthly", snap, f)
        registry.value("coverage.plans_off_with_resources", snap, f)
    assert len(counted) == 1
    everything, aws, azure = (registry.value("cost.plans_monthly", snap, Filters(environments=e))
                              for e in ((), ("AWS",), ("Azure",)))
    assert aws + azure <= everything + 0.01 and aws > 0 and azure > 0  # the selections still differ
