"""The command line starts cheap: discovering and registering every command loads no heavy library."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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
