"""The project's set-up promises: dependencies agree between pyproject.toml, environment.yml and the lock."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells a few packages differently
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()


def _runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [_name(r) for r in project["dependencies"]]


def test_every_runtime_dependency_is_in_environment_yml():
    listed = {_name(line.strip()[2:]) for line in (ROOT / "environment.yml").read_text().splitlines()
              if line.strip().startswith("- ")}
    missing = [d for d in _runtime_dependencies() if CONDA_NAMES.get(d, d) not in listed]
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"


def test_every_dependency_is_pinned_in_the_lock():
    pinned = {_name(line) for line in (ROOT / "requirements.lock").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _runtime_dependencies() + [_name(r) for r in project["optional-dependencies"]["test"]]
    missing = [d for d in wanted if d not in pinned]
    assert not missing, f"not pinned in requirements.lock: {missing}"


def test_readme_starts_with_the_two_commands():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert head.index("make report") < head.index("make test")
