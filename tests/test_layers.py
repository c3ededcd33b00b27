"""The import-linter layers contract in pyproject.toml covers all of mdcnb and bites on an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return contract


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin"})


def test_every_package_of_mdcnb_is_a_layer() -> None:
    layers = {name.strip() for entry in _contract()["layers"] for name in entry.split("|")}
    packages = {p.parent.name for p in (ROOT / "mdcnb").glob("*/__init__.py")}
    modules = {p.stem for p in (ROOT / "mdcnb").glob("*.py")} - {"__init__", "__main__"}
    assert packages == layers
    assert not modules, f"modules beside the layer packages: {sorted(modules)}"


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "mdcnb", copy / "mdcnb", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_contract_holds(tree_copy: Path) -> None:
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_an_upward_import_breaks_the_contract(tree_copy: Path) -> None:
    """The analysis layer importing a figure builder (a layer above it) must fail `lint-imports`."""
    module = tree_copy / "mdcnb" / "analysis" / "score.py"
    original = module.read_text(encoding="utf-8")
    module.write_text(original + "\nfrom mdcnb.figures import score as _upward  # noqa: E402,F401\n", encoding="utf-8")
    try:
        result = _lint(tree_copy)
    finally:
        module.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    assert "mdcnb.analysis is not allowed to import mdcnb.figures" in result.stdout
    assert "mdcnb.analysis.score -> mdcnb.figures.score" in result.stdout
