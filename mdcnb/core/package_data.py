"""Where mdcnb's own files are, in a clone and in an installed wheel alike.

The sample tenant, the price tables and the notebooks live in the repository's top-level `data/` and `notebooks/`
folders; setup.py installs them as the packages `mdcnb.data` and `mdcnb.notebooks` (an editable install maps those
names onto the clone's folders). Files beside a module (JSON catalogues, templates) are read with `read_json`.
Everything goes through `importlib.resources`, never through paths relative to the repository.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def package_dir(package: str) -> Path:
    """The directory of an installed package (pip and uv unpack wheels, so it is a real directory)."""
    return Path(str(resources.files(package)))


def data_dir(name: str) -> Path:
    """A folder of the shipped data: `sample` (the embedded tenant) or `prices` (the dated price tables)."""
    return package_dir("mdcnb.data") / name


def notebooks_dir() -> Path:
    """The shipped notebooks."""
    return package_dir("mdcnb.notebooks")


def read_json(package: str, name: str) -> Any:
    """A JSON file shipped beside the modules of `package` (pass `__package__`)."""
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
