"""`mdcnb diff` on a real store holding the two hand-built weeks: JSON, text, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from diff_snapshots import AFTER, BEFORE

from mdcnb.cli import main
from mdcnb.tables.history import HistoryStore


def _store(path, first, second):
    with HistoryStore(path) as store:
        store.save(first, as_of="2026-11-16T06:00:00Z", source="test", scope={"tenant_id": "t"})
        store.save(second, as_of="2026-11-23T06:00:00Z", source="test", scope={"tenant_id": "t"})
    return path


def test_json_names_the_weeks_and_the_hand_counted_changes(tmp_path, capsys):
    path = _store(tmp_path / "h.duckdb", BEFORE, AFTER)
    assert main(["diff", "--history", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["from"], payload["to"], payload["series"]) == ("2026-W47", "2026-W48", "test/t")
    assert payload["overall"] == {"before": 55.0, "after": 65.0, "delta": 10.0}
    assert payload["counts"]["newly_unhealthy"] == 2 and payload["counts"]["plans_off"] == 1
    assert [r["plan"] for r in payload["changes"]["plans_on"]] == ["VirtualMachines"]


def test_fail_on_drop_exits_2_only_beyond_the_threshold(tmp_path, capsys):
    path = _store(tmp_path / "h.duckdb", AFTER, BEFORE)  # the score falls 65 -> 55
    assert main(["diff", "--history", str(path), "--fail-on-drop", "5"]) == 2
    assert "fell 10.00 points" in capsys.readouterr().err
    assert main(["diff", "--history", str(path), "--fail-on-drop", "15"]) == 0
    assert main(["diff", "--history", str(path), "--from", "2026-W48", "--to", "2026-W48",
                 "--fail-on-drop", "0"]) == 0  # the same week against itself: no drop


def test_text_output_and_explicit_weeks(tmp_path, capsys):
    path = _store(tmp_path / "h.duckdb", BEFORE, AFTER)
    assert main(["diff", "--history", str(path), "--from", "2026-W47", "--to", "2026-W48"]) == 0
    out = capsys.readouterr().out
    assert "Overall secure score: 55.00% -> 65.00% (+10.00 points)" in out
    assert "Recommendations newly unhealthy" in out and "Defender plans switched off" in out


@pytest.mark.parametrize("args, message", [
    (["--to", "2026-W01"], "no snapshot for week 2026-W01"),
    (["--to", "2026-W47"], "no week before 2026-W47"),
])
def test_unanswerable_questions_exit_1_with_a_reason(tmp_path, capsys, args, message):
    path = _store(tmp_path / "h.duckdb", BEFORE, AFTER)
    assert main(["diff", "--history", str(path), *args]) == 1
    assert message in capsys.readouterr().err


def test_missing_store_is_a_clear_error_from_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mdcnb", "diff", "--history", str(tmp_path / "none.duckdb")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "no history store" in proc.stderr and "Traceback" not in proc.stderr
