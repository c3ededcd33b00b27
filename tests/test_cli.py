"""The command line starts cheap: discovering and registering every command loads no heavy library."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from mdcnb.cli import support as cli_support
from mdcnb.tables import history

# Libraries that take most of a second or more to import; only a command that runs may load them.
HEAVY = ("pandas", "numpy", "duckdb", "boto3", "botocore", "azure", "plotly", "ipywidgets", "papermill", "nbconvert",
         "msgspec", "pyarrow")

PROBE = """
import json, sys
from mdcnb.cli import build_parser
build_parser()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_registering_every_command_imports_no_heavy_library() -> None:
    # A fresh interpreter: this test process has long imported pandas through conftest and other tests.
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(proc.stdout))
    assert "mdcnb" in loaded
    assert not loaded & set(HEAVY), f"imported while registering commands: {sorted(loaded & set(HEAVY))}"


def test_help_runs_and_lists_the_discovered_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "mdcnb", "--help"], capture_output=True, text=True, check=True,
                          timeout=120)
    for name in ("aws", "cloudtrail", "compliance", "cost", "diff", "prices", "pull", "report", "sample", "score",
                 "tables"):
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.MULTILINE), f"{name} missing from --help"


def test_history_default_in_help_names_the_variable_history_reads() -> None:
    assert cli_support.HISTORY_DEFAULT.startswith(f"${history.HISTORY_ENV} ")
    assert history.HISTORY_FILE in cli_support.HISTORY_DEFAULT


RUN_PROBE = """
import contextlib, io, json, sys
from mdcnb.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help
        code = exc.code
print(json.dumps([code, out.getvalue(), sorted({name.split(".")[0] for name in sys.modules})]))
"""


# What a command that only prints what it read, or what nothing read, must not import (pandas alone is 1.5 s).
NOT_AT_START = {"pandas", "plotly", "pyarrow", "duckdb", "ipywidgets"}


@pytest.mark.parametrize("argv", [["--help"], ["prices", "show"], ["cloudtrail", "volume", "--logs", "{empty}"],
                                  ["cloudtrail", "volume", "--logs", "{empty}", "--json"]],
                         ids=["help", "prices-show", "cloudtrail-empty", "cloudtrail-empty-json"])
def test_light_commands_run_without_pandas_or_plotly(argv: list[str], tmp_path) -> None:
    """Commands that only print what they read (or that an empty folder holds nothing) start without pandas,
    plotly, pyarrow, DuckDB or ipywidgets: what the interpreter holds when the command has run."""
    argv = [arg.replace("{empty}", str(tmp_path)) for arg in argv]
    proc = subprocess.run([sys.executable, "-c", RUN_PROBE, *argv], capture_output=True, text=True, check=True,
                          timeout=120)
    code, out, loaded = json.loads(proc.stdout)
    assert code == 0 and out.strip()
    assert not NOT_AT_START & set(loaded), f"{argv} imported {sorted(NOT_AT_START & set(loaded))}"


def test_prices_show_prints_each_row_with_derived_monthly_prices(tmp_path) -> None:
    """The plain-row table (no pandas) shows every row; a recurring row priced by the hour gets its monthly price
    (hours x hourly), a missing price shows as "-"."""
    table = {"name": "prices-2026-01-01-USD", "date": "2026-01-01", "currency": "usd", "source": "hand-made",
             "hours_per_month": 730, "rows": [
                 {"plan": "VirtualMachines", "sub_plan": "P2", "kind": "recurring", "billing_unit": "server",
                  "hourly_price": 0.02, "confidence": "S"},
                 {"plan": "SIEM", "sub_plan": "sentinel-basic", "kind": "usage", "billing_unit": "GB",
                  "usage_price": None, "usage_unit": "GB", "confidence": "U"}]}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    proc = subprocess.run([sys.executable, "-m", "mdcnb", "prices", "show", "--prices", str(path)],
                          capture_output=True, text=True, check=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["price table prices-2026-01-01-USD (2026-01-01, USD)", "source: hand-made"]
    assert lines[2].split() == ["plan", "sub_plan", "billing_unit", "hourly_price", "monthly_price", "usage_price",
                                "usage_unit", "confidence", "source_date"]
    assert [line.split() for line in lines[3:]] == [
        ["VirtualMachines", "P2", "server", "0.02", "14.6", "-", "-", "S", "-"],
        ["SIEM", "sentinel-basic", "GB", "-", "-", "-", "GB", "U", "-"]]


def test_version_is_read_when_asked_and_printed_on_stdout() -> None:
    """`mdcnb.__version__` is read lazily (importlib.metadata is a third of a light start): still the installed one."""
    from importlib.metadata import version

    proc = subprocess.run([sys.executable, "-m", "mdcnb", "--version"], capture_output=True, text=True, check=True,
                          timeout=120)
    assert proc.stdout == f"mdcnb {version('mdcnb')}\n"
