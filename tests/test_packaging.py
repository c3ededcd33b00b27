"""The project's set-up promises: dependencies agree between pyproject.toml, environment.yml and the lock, and the
supported Pythons are the same everywhere they are named."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells a few packages differently
CONDA_NAMES = {"duckdb": "python-duckdb", "isal": "python-isal"}
# environment.yml entries that are not runtime packages of mdcnb: the interpreter and the tools that install it
CONDA_TOOLING = {"python", "pip", "c-compiler"}
SUPPORTED = ["3.11", "3.12", "3.13"]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _runtime() -> dict[str, str]:
    """Runtime dependencies of pyproject.toml: name -> version specifier."""
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in _project()["dependencies"]}


def _conda() -> dict[str, str]:
    """environment.yml's conda dependencies (not its nested pip list): name -> version spec."""
    text = (ROOT / "environment.yml").read_text().split("\ndependencies:\n", 1)[1]
    return {m[1].lower(): m[2] for m in re.finditer(r"^  - ([A-Za-z0-9_.-]+)[ \t]*([^#\s]*)", text, re.MULTILINE)}


def _lock() -> dict[str, Version]:
    pins = (line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines()
            if "==" in line and not line.startswith("#"))
    return {name.strip().lower(): Version(version.split(";")[0].strip()) for name, version in pins}


def test_environment_yml_and_pyproject_name_the_same_runtime_packages_with_the_same_bounds():
    conda = {name: spec for name, spec in _conda().items() if name not in CONDA_TOOLING}
    assert conda == {CONDA_NAMES.get(name, name): spec for name, spec in _runtime().items()}


def test_the_supported_pythons_agree_in_pyproject_and_environment_yml():
    project = _project()
    assert project["requires-python"] == f">={SUPPORTED[0]}"
    listed = sorted(c.rsplit(":: ", 1)[1] for c in project["classifiers"]
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert listed == SUPPORTED
    assert _conda()["python"] == f">={SUPPORTED[0]},<3.{int(SUPPORTED[-1].split('.')[1]) + 1}"


def test_every_dependency_is_pinned_in_the_lock_within_its_bounds():
    pinned = _lock()
    wanted = [Requirement(r) for r in _project()["dependencies"] + _project()["optional-dependencies"]["test"]]
    missing = [r.name for r in wanted if r.name.lower() not in pinned]
    assert not missing, f"not pinned in requirements.lock: {missing}"
    outside = [f"{r.name}=={pinned[r.name.lower()]} ({r.specifier})" for r in wanted
               if not r.specifier.contains(pinned[r.name.lower()])]
    assert not outside, f"pinned outside pyproject's bounds: {outside}"


def test_make_installs_the_lock():
    assert "-r requirements.lock" in (ROOT / "Makefile").read_text()
    assert "--constraint \"$repo/requirements.lock\"" in (ROOT / ".ci" / "wheel-check").read_text()


def test_readme_starts_with_the_two_commands():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert head.index("make report") < head.index("make test")
