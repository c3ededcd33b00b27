"""The embedded sample tenant read through the normalisers: nothing skipped, and MDC's stored scores and
compliance counts equal what the analysis recomputes from the assessments (every weekly snapshot)."""

from __future__ import annotations

import gzip

import pytest

from mdcnb.analysis import compliance, score
from mdcnb.sources.dataset import SAMPLE_DATASET, iter_datasets
from mdcnb.tables import load_tables

SNAPSHOTS = list(iter_datasets(SAMPLE_DATASET))


def test_sample_has_weekly_snapshots():
    assert SAMPLE_DATASET in SNAPSHOTS and len(SNAPSHOTS) > 1


@pytest.fixture(scope="module", params=SNAPSHOTS, ids=lambda p: p.name)
def tables(request):
    return load_tables(request.param)


def _lines(dataset, record_type):
    """Non-blank lines of a record file (plain or gzipped), counted without the dataset reader."""
    plain = dataset / f"{record_type}.jsonl"
    data = plain.read_bytes() if plain.exists() else gzip.decompress((dataset / f"{record_type}.jsonl.gz").read_bytes())
    return sum(1 for line in data.splitlines() if line.strip())


def test_every_record_is_read(tables):
    assert tables.skips.empty, tables.skips.head().to_dict("records")
    assert len(tables.assessments) == _lines(tables.dataset, "assessments")
    assert len(tables.secure_scores) == _lines(tables.dataset, "securescores")
    assert len(tables.subscriptions) == _lines(tables.dataset, "subscriptions")


def test_stored_control_scores_equal_the_recomputation(tables):
    recomputed = score.recompute_controls(tables)
    assert len(recomputed) == len(tables.score_controls) > 0
    disagreeing = recomputed[~recomputed["agrees"]]
    assert disagreeing.empty, disagreeing.head().to_dict("records")


def test_stored_scope_scores_equal_the_recomputation(tables):
    recomputed = score.recompute_scopes(tables)
    assert len(recomputed) == len(tables.secure_scores)
    assert recomputed["agrees"].all(), recomputed[~recomputed["agrees"]].to_dict("records")


def test_stored_percentages_follow_current_over_max(tables):
    scores = tables.secure_scores
    counted = scores[scores["max"] > 0]
    assert ((counted["current"] / counted["max"]).round(4) - counted["percentage"]).abs().max() < 1e-9


def test_connectors_have_scores_in_their_environment(tables):
    scopes = score.scopes(tables)
    connectors = scopes[scopes["scope_type"] == "connector"]
    assert set(connectors["environment"]) <= {"AWS", "GCP"} and connectors["environment"].notna().all()
    assert connectors["account"].notna().all()


def test_compliance_counts_equal_the_controls(tables):
    stored = compliance.standards(tables).set_index(["scope_id", "standard"])
    recounted = compliance.control_counts(tables).set_index(["scope_id", "standard"])
    columns = ["passed_controls", "failed_controls", "skipped_controls", "unsupported_controls"]
    joined = stored[columns].join(recounted[columns], suffixes=("", "_recounted"), how="left")
    for column in columns:
        assert (joined[column] == joined[f"{column}_recounted"]).all(), column


def test_failing_controls_reach_unhealthy_resources(tables):
    failing = compliance.failing_controls(tables)
    assert not failing.empty
    with_resources = failing[failing["resources"].map(len) > 0]
    assert len(with_resources) > 0
    unhealthy = set(tables.assessments.loc[tables.assessments["status"] == "Unhealthy", "resource_id"])
    assert all(set(r) <= unhealthy for r in with_resources["resources"])
