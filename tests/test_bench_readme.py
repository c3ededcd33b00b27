"""The README's performance section is what `benchmarks/readme.py` makes of the committed results, and no results
file is older than its benchmark script (the script's content hash is recorded with the figures)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def _module(name: str) -> ModuleType:
    """A module of benchmarks/ (a folder of scripts, not a package)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # readme.py and the benchmarks import _results by name
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readme = _module("readme")
results = _module("_results")


def test_readme_section_is_what_the_committed_results_give() -> None:
    current = readme.README.read_text(encoding="utf-8")
    wanted = readme.replaced(current, readme.section(readme.load_results(), readme.load_targets()))
    assert current == wanted, "README.md's performance section is stale: run .venv/bin/python benchmarks/readme.py"


def test_no_results_file_is_older_than_its_benchmark_script() -> None:
    recorded = readme.load_results()
    for result in recorded:
        script = ROOT / result["benchmark"]
        assert script.is_file(), f"{result['benchmark']} recorded results but is gone"
        assert results.script_hash(script) == result["script_sha256"], \
            f"{result['benchmark']} changed after its results were recorded: run it again"


def test_every_target_row_is_in_the_section_measured_or_said_absent() -> None:
    body = readme.section(readme.load_results(), readme.load_targets())
    for row in readme.load_targets():
        assert sum(line.startswith(f"| {row['measure']} |") for line in body.splitlines()) == 1


def _result(benchmark: str, figures: list[dict]) -> dict:
    return {"benchmark": benchmark, "script_sha256": "0" * 64, "date": "2026-12-03 13:00 UTC",
            "machine": {"cores": 2, "ram_gb": 23.4, "load_average": [1.5, 2.0, 3.25]}, "commit": "abc1234567",
            "command": f"{benchmark} --repeats 3", "note": "", "figures": figures}


def test_section_from_built_results(tmp_path) -> None:
    """A row with a figure shows its text and run; a row without says so; a figure of no target row is added."""
    targets = [{"id": "a.one", "measure": "first", "today": "9×", "target": "≤ 2×", "benchmark": "`a.py`"},
               {"id": "b.two", "measure": "second", "today": "1 s", "target": "≤ 0.3 s", "benchmark": "`b.py`"}]
    (tmp_path / "a.json").write_text(json.dumps(_result("benchmarks/a.py", [
        {"id": "a.one", "value": 1.5, "unit": "x", "text": "1.50× (2 rounds)"},
        {"id": "a.extra", "measure": "extra figure", "target": "≥ 4×", "value": 5, "unit": "x", "text": "5.0×"}])))
    body = readme.section(readme.load_results(tmp_path), targets)
    assert body.splitlines() == [
        "| measure | before (issue 19) | target | measured | run |",
        "|---|---|---|---|---|",
        "| first | 9× | ≤ 2× | 1.50× (2 rounds) | [1] |",
        "| second | 1 s | ≤ 0.3 s | not measured in this run (`b.py`) |  |",
        "| extra figure | | ≥ 4× | 5.0× | [1] |",
        "",
        "- [1] `benchmarks/a.py --repeats 3`, 2026-12-03 13:00 UTC, commit abc1234567, 2 cores, 23.4 GB RAM, "
        "load average 1.5/2/3.25."]


def test_replaced_keeps_the_text_around_the_markers() -> None:
    text = f"# t\nbefore\n{readme.START}\nold row\n{readme.END}\nafter\n"
    assert readme.replaced(text, "new row\n") == f"# t\nbefore\n{readme.START}\nnew row\n{readme.END}\nafter\n"

