"""Regenerate the README's performance section from the benchmarks' recorded results (`make bench` runs it last).

The section lies between `<!-- bench:start -->` and `<!-- bench:end -->` in README.md. Its table has one row per
row of `benchmarks/targets.json` (issue 19's targets, in order), filled from the figure of that id in
`benchmarks/results/*.json` (see `_results.py`), or "not measured in this run" when no results file holds it;
then one row per other figure a benchmark recorded. Below it, one line per results file: the command, date,
machine and commit the figures come from. `tests/test_bench_readme.py` checks the README holds what this prints.

    .venv/bin/python benchmarks/readme.py           # rewrite the section in README.md
    .venv/bin/python benchmarks/readme.py --check   # exit 1 when the README's section differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
ABSENT = "not measured in this run"


def load_results(directory: Path = HERE / "results") -> list[dict[str, Any]]:
    """Every results file, in the order of their benchmark's name."""
    return sorted((json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("*.json")),
                  key=lambda r: r["benchmark"])


def load_targets(path: Path = HERE / "targets.json") -> list[dict[str, str]]:
    return json.loads(path.read_text(encoding="utf-8"))["rows"]


def section(results: list[dict[str, Any]], targets: list[dict[str, str]]) -> str:
    """The markdown between the markers (markers excluded)."""
    run_of = {r["benchmark"]: n for n, r in enumerate(results, start=1)}
    found = {f["id"]: (f, r) for r in results for f in r["figures"]}
    lines = ["| measure | before (issue 19) | target | measured | run |", "|---|---|---|---|---|"]
    for row in targets:
        figure, result = found.pop(row["id"], (None, None))
        measured = figure["text"] if figure else f"{ABSENT} ({row['benchmark']})"
        run = f"[{run_of[result['benchmark']]}]" if result else ""
        lines.append(f"| {row['measure']} | {row['today']} | {row['target']} | {measured} | {run} |")
    for figure, result in found.values():
        lines.append(f"| {figure.get('measure', figure['id'])} | | {figure.get('target', '')} | {figure['text']} | "
                     f"[{run_of[result['benchmark']]}] |")
    lines.append("")
    for result in results:
        m = result["machine"]
        load = "/".join(f"{x:g}" for x in m["load_average"])
        note = f"; {result['note']}" if result.get("note") else ""
        lines.append(f"- [{run_of[result['benchmark']]}] `{result['command']}`, {result['date']}, commit "
                     f"{result['commit']}, {m['cores']} cores, {m['ram_gb']:g} GB RAM, load average {load}{note}.")
    return "\n".join(lines).rstrip() + "\n"


def replaced(readme: str, body: str) -> str:
    """`readme` with the text between the markers replaced by `body`."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise SystemExit(f"README.md must hold {START} and then {END} once each")
    head, rest = readme.split(START)
    return f"{head}{START}\n{body}{END}{rest.split(END, 1)[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the section is stale")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    wanted = replaced(current, section(load_results(), load_targets()))
    if args.check:
        return 0 if wanted == current else 1
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
    print(f"README.md performance section: {'rewritten' if wanted != current else 'unchanged'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
