"""The AWS-side inventory of a dataset: raw boto3 responses per account, as the audit reads them.

Layout inside a dataset directory (beside the Azure record files of `mdcnb.sources.dataset`):

    aws/<account-id>/collection.json               {"account_id", "collected_at", "source", "regions"}
    aws/<account-id>/<service>_<Operation>.json    a JSON list of calls, one per region / request:
        {"region": "us-east-1" | null, "params": {...}, "response": {...}}      the boto3 response (pages merged,
                                                                                 ResponseMetadata dropped)
        {"region": ..., "params": {...}, "error": {"code": "AccessDenied", "message": "..."}}

e.g. `aws/111122223333/iam_ListRoles.json`, `aws/111122223333/ec2_DescribeInstances.json` (one call per region).
Times are ISO-8601 strings. The same files come from the live collector (`mdcnb.sources.aws_inventory`) and from
the sample generator (`mdcnb.sample.aws_inventory`), so the audit has one code path for both.

Reading never crashes: an unreadable file becomes a `Skip` and the operation counts as not collected; a call whose
response has not the shape the audit reads (`inventory_shapes.json`) becomes a `Skip` and a failed call.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from mdcnb.sources.dataset import Skip

AWS_DIR = "aws"
COLLECTION = "collection.json"
_ACCOUNT_DIR = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Call:
    """One recorded AWS API call: the response, or the error the service returned."""

    region: str | None
    params: dict[str, Any]
    response: dict[str, Any] | None = None
    error: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"region": self.region, "params": self.params}
        if self.error is not None:
            out["error"] = self.error
        else:
            out["response"] = self.response
        return out


@dataclass
class AccountInventory:
    """Everything collected from one AWS account, keyed by `<service>_<Operation>`."""

    account_id: str
    calls: dict[str, list[Call]] = dataclasses.field(default_factory=dict)
    collected_at: datetime | None = None
    source: str = ""
    regions: list[str] = dataclasses.field(default_factory=list)

    def add(self, key: str, call: Call) -> None:
        self.calls.setdefault(key, []).append(call)


def aws_root(dataset: Path) -> Path:
    return Path(dataset) / AWS_DIR


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=1, sort_keys=True, default=_json_default, ensure_ascii=False)
        tmp.write("\n")
    os.replace(tmp.name, path)


def write_inventory(dataset: Path, inventory: AccountInventory) -> Path:
    """Write one account's inventory under `aws/<account-id>/` (atomically per file); returns the folder."""
    folder = aws_root(dataset) / inventory.account_id
    meta = {"account_id": inventory.account_id, "collected_at": inventory.collected_at,
            "source": inventory.source, "regions": inventory.regions}
    _write_json(folder / COLLECTION, meta)
    for key, calls in sorted(inventory.calls.items()):
        _write_json(folder / f"{key}.json", [c.as_json() for c in calls])
    return folder


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


MAX_FILE_BYTES = 512 << 20
SHAPES_FILE = Path(__file__).with_name("inventory_shapes.json")


@cache
def shapes() -> dict[str, Any]:
    """The shape each recorded response must have for the audit to read it (`inventory_shapes.json`)."""
    return json.loads(SHAPES_FILE.read_text(encoding="utf-8"))


def _read_json(path: Path) -> Any:
    """A JSON file's value, bounded: a size checked before reading and orjson's nesting limit (1,024 levels, where
    the standard library would exhaust the recursion limit). OSError or ValueError saying why not."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{size:,} bytes, more than the {MAX_FILE_BYTES >> 20} MiB an inventory file may hold")
    return orjson.loads(path.read_bytes())


def shape_problem(value: Any, shape: Any, where: str = "response") -> str | None:
    """Where `value` departs from `shape` (see `inventory_shapes.json`), or None when it fits. Walks the shape, so
    its depth, not the data's, bounds the recursion."""
    if value is None or shape == "any":
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where}: expected an object, got {type(value).__name__}"
        return next((problem for key, sub in shape.items()
                     if (problem := shape_problem(value.get(key), sub, f"{where}.{key}"))), None)
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where}: expected a list, got {type(value).__name__}"
        return next((problem for index, item in enumerate(value)
                     if (problem := shape_problem(item, shape[0], f"{where}[{index}]"))), None)
    return None if isinstance(value, str) else f"{where}: expected a string, got {type(value).__name__}"


def _read_calls(path: Path, skips: list[Skip]) -> list[Call] | None:
    """The calls of one `<service>_<Operation>.json`. A call whose response has not the shape the audit reads is
    kept as a failed call (so checks say they could not check, never judge on part of the data) and skipped."""
    try:
        data = _read_json(path)
    except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        skips.append(Skip(str(path), "file", "aws_inventory", f"not read, every call in it lost: {exc}"))
        return None
    if not isinstance(data, list):
        skips.append(Skip(str(path), "file", "aws_inventory",
                          f"expected a JSON list of calls, got {type(data).__name__}: every call in it lost"))
        return None
    shape = shapes().get(path.stem, "any")
    calls = []
    for index, item in enumerate(data):
        ok = isinstance(item, dict) and (isinstance(item.get("response"), dict) or isinstance(item.get("error"), dict))
        if not ok:
            skips.append(Skip(str(path), f"item {index}", "aws_inventory", "a call needs a response or an error"))
            continue
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        region = item.get("region") if isinstance(item.get("region"), str) else None
        problem = shape_problem(item.get("response"), shape) if item.get("error") is None else None
        if problem:
            skips.append(Skip(str(path), f"item {index}", "aws_inventory", f"unexpected shape, call unused: {problem}"))
            calls.append(Call(region, params, error={"code": "UnexpectedShape", "message": f"{path.name}: {problem}"}))
            continue
        calls.append(Call(region, params, item.get("response"), item.get("error")))
    return calls


def read_inventory(folder: Path, skips: list[Skip]) -> AccountInventory:
    """Read `aws/<account-id>/`; unreadable files are appended to `skips`."""
    folder = Path(folder)
    inventory = AccountInventory(folder.name)
    meta_path = folder / COLLECTION
    if meta_path.exists():
        try:
            meta = _read_json(meta_path)
            inventory.collected_at = _parse_time(meta.get("collected_at"))
            inventory.source = str(meta.get("source") or "")
            inventory.regions = [str(r) for r in meta.get("regions") or []]
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            skips.append(Skip(str(meta_path), "file", "aws_inventory", f"unreadable collection metadata: {exc}"))
    for path in sorted(folder.glob("*_*.json")):
        calls = _read_calls(path, skips)
        if calls is not None:
            inventory.calls[path.stem] = calls
    return inventory


def read_inventories(dataset: Path) -> tuple[dict[str, AccountInventory], list[Skip]]:
    """All account inventories of a dataset (empty when it has no `aws/` folder), with the skipped files."""
    skips: list[Skip] = []
    root = aws_root(dataset)
    if not root.is_dir():
        return {}, skips
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if not _ACCOUNT_DIR.match(folder.name):
            skips.append(Skip(str(folder), "folder", "aws_inventory", "not a 12-digit AWS account id"))
            continue
        out[folder.name] = read_inventory(folder, skips)
    return out, skips
