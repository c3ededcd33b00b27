"""`mdcnb cloudtrail volume` on an empty folder is answered without scanning (mdcnb.cli.empty_scan): the answer is
the one the scan gives, for every option that changes it, and has the keys of an answer with data."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from cloudtrail_helpers import CSPM, log_path, role_call, user_call, write_log

from mdcnb.cli import build_parser, empty_scan, main
from mdcnb.cli.commands.cloudtrail import document
from mdcnb.tables.cloudtrail import volume

OPTIONS = [[], ["--since", "2026-11-01", "--until", "2026-11-07"], ["--since", "2026-11-01T10:00:00Z"],
           ["--siem", "sentinel-basic"], ["--price-per-gb", "2.5", "--price-source", "our contract"],
           ["--price-per-million-events", "0.8"]]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _args(folder: Path, options: list[str]):
    return build_parser().parse_args(["cloudtrail", "volume", "--logs", str(folder), *options])


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: " ".join(o) or "defaults")
def test_empty_folder_answer_is_the_scans_answer(tmp_path, options) -> None:
    args = _args(tmp_path, options)
    assert empty_scan.applies(args)
    scanned = document(args, volume(tmp_path, since=args.since, until=args.until, processes=1))
    assert json.loads(json.dumps(empty_scan.document(args), default=str)) == \
        json.loads(json.dumps(scanned, default=str))


def test_empty_folder_prints_nothing_counted_with_the_keys_of_a_folder_with_data(tmp_path) -> None:
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    day = "2026-11-02"
    write_log(log_path(full, "111122223333", "us-east-1", day, "a"),
              [role_call(1, CSPM, f"{day}T01:00:00Z"), user_call(2, f"{day}T02:00:00Z")])
    code, out, err = _run("cloudtrail", "volume", "--logs", str(empty), "--json")
    assert (code, err) == (0, "")
    got = json.loads(out)
    _, with_data, _ = _run("cloudtrail", "volume", "--logs", str(full), "--json", "--processes", "1")
    with_data = json.loads(with_data)
    assert list(got) == list(with_data)
    for key in ("measures", "siem_cost", "filters"):
        assert list(got[key]) == list(with_data[key])
    assert with_data["events_total"] == 2 and with_data["files_listed"] == 1  # the folder with data was counted
    # nothing was there, so nothing is counted (the hand truth of an empty folder)
    assert got["source"] == str(empty)
    assert (got["files_listed"], got["files_read"], got["events_total"], got["cspm_read_events"]) == (0, 0, 0, 0)
    assert got["by_account"] == {} and got["files_skipped"] == [] and got["cspm_role_arns_found"] == []
    assert got["measures"]["cloudtrail.cspm_read_events"] == 0
    assert got["measures"]["cloudtrail.cspm_share_of_reads"] is None  # no read at all: no share
    assert got["siem_cost"]["monthly_cost"] == 0.0 and got["siem_cost"]["window_days"] == 1


def test_empty_folder_text_answer_is_the_scans(tmp_path) -> None:
    args = _args(tmp_path, ["--since", "2026-11-01", "--until", "2026-11-30"])
    code, fast, _ = _run("cloudtrail", "volume", "--logs", str(tmp_path), "--since", "2026-11-01",
                         "--until", "2026-11-30")
    from mdcnb.cli.commands.cloudtrail import _print_volume

    slow = io.StringIO()
    with contextlib.redirect_stdout(slow):
        _print_volume(document(args, volume(tmp_path, since=args.since, until=args.until, processes=1)))
    assert code == 0 and fast == slow.getvalue()
    assert "files read 0 of 0 listed" in fast and "30-day window" in fast


def test_recording_is_what_the_command_computes_today() -> None:
    """`python -m mdcnb.cli.empty_scan` rewrites the recording when a measure or the summary changes."""
    recorded = json.loads(empty_scan.RECORDED.read_text(encoding="utf-8"))
    assert recorded == json.loads(json.dumps(empty_scan.computed(), default=str)), \
        "the empty-folder answer changed: run .venv/bin/python -m mdcnb.cli.empty_scan"


def test_folder_with_any_file_or_other_inputs_is_scanned(tmp_path) -> None:
    assert empty_scan.applies(_args(tmp_path, []))
    for options in (["--role-arn", CSPM], ["--dataset", str(tmp_path)], ["--csv", str(tmp_path / "v.csv")]):
        assert not empty_scan.applies(_args(tmp_path, options))
    assert not empty_scan.applies(_args(tmp_path / "missing", []))  # the scan says it does not exist
    (tmp_path / "README.txt").write_text("not a log")
    assert not empty_scan.applies(_args(tmp_path, []))
    code, out, _ = _run("cloudtrail", "volume", "--logs", str(tmp_path), "--json", "--processes", "1")
    assert code == 0 and json.loads(out)["other_files_ignored"] == 1


@pytest.mark.parametrize("options, message", [
    (["--since", "2026-13-01"], "mdcnb cloudtrail volume: "),
    (["--siem", "no-such-siem"], "has no SIEM price 'no-such-siem'")])
def test_empty_folder_bad_option_is_one_line_and_status_2(tmp_path, options, message) -> None:
    code, out, err = _run("cloudtrail", "volume", "--logs", str(tmp_path), *options)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
