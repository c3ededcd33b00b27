"""Helpers to read the published Azure examples and recordings in tests/fixtures/azure-examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mdcnb.sources.dataset_write import write_records

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "azure-examples"


def example_items(relative: str) -> list[dict[str, Any]]:
    """The items of an example (`responses.<2xx>.body`) or recording (`body`): `value[]`, ARG `data[]` or the body."""
    document = json.loads((EXAMPLES / relative).read_text(encoding="utf-8"))
    if "responses" in document:
        status = min(k for k in document["responses"] if k.startswith("2"))
        body = document["responses"][status].get("body")
    else:
        body = document.get("body")
    for key in ("value", "data"):  # ARM list / Resource Graph object-array page
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return body[key]
    return [body] if isinstance(body, dict) else []


def dataset_from(root: Path, **record_types: list[dict[str, Any]]) -> Path:
    """Write a dataset directory holding the given records per record type."""
    for record_type, records in record_types.items():
        write_records(root, record_type, records)
    return root
