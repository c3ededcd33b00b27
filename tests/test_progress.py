"""Progress bars are drawn on a terminal only: a real pty for the terminal, a pipe for CI; `--quiet` silences them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import run_on_terminal

from mdcnb.sources.dataset import SAMPLE_DATASET

LOG_FILES = 3


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    """The first three CloudTrail log files of the sample, at their AWSLogs/... paths."""
    root = tmp_path_factory.mktemp("logs")
    for path in sorted((SAMPLE_DATASET / "cloudtrail").rglob("*.json.gz"))[:LOG_FILES]:
        target = root / path.relative_to(SAMPLE_DATASET / "cloudtrail")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root


def scan(logs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mdcnb", *extra, "cloudtrail", "volume", "--logs", str(logs), "--processes", "1"]


def test_a_terminal_shows_the_scan_bar_with_its_file_count(logs, tmp_path):
    code, text = run_on_terminal(scan(logs), stdout=tmp_path / "out.txt")
    assert code == 0 and "CspmMonitorAws" in (tmp_path / "out.txt").read_text()
    assert "CloudTrail logs:   0%" in text and f"0/{LOG_FILES}" in text


@pytest.mark.parametrize("quiet", [["--quiet"], []], ids=["before the command", "after it"])
def test_quiet_draws_nothing_on_a_terminal(logs, tmp_path, quiet):
    args = scan(logs, *quiet) if quiet else [*scan(logs), "--quiet"]
    code, text = run_on_terminal(args, stdout=tmp_path / "out.txt")
    assert code == 0 and "CspmMonitorAws" in (tmp_path / "out.txt").read_text()
    assert "CloudTrail logs" not in text


def test_piped_output_draws_nothing(logs):
    done = subprocess.run(scan(logs), capture_output=True, text=True, check=True)
    assert "CspmMonitorAws" in done.stdout
    assert "CloudTrail logs" not in done.stderr and "\r" not in done.stderr
