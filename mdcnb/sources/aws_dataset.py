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

Reading never crashes: an unreadable file becomes a `Skip` and the operation counts as not collected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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


def _read_calls(path: Path, skips: list[Skip]) -> list[Call] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        skips.append(Skip(str(path), "file", "aws_inventory", f"not JSON: {exc}"))
        return None
    if not isinstance(data, list):
        skips.append(Skip(str(path), "file", "aws_inventory", "expected a JSON list of calls"))
        return None
    calls = []
    for index, item in enumerate(data):
        ok = isinstance(item, dict) and (isinstance(item.get("response"), dict) or isinstance(item.get("error"), dict))
        if not ok:
            skips.append(Skip(str(path), f"item {index}", "aws_inventory", "a call needs a response or an error"))
            continue
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        calls.append(Call(item.get("region"), params, item.get("response"), item.get("error")))
    return calls


def read_inventory(folder: Path, skips: list[Skip]) -> AccountInventory:
    """Read `aws/<account-id>/`; unreadable files are appended to `skips`."""
    folder = Path(folder)
    inventory = AccountInventory(folder.name)
    meta_path = folder / COLLECTION
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            inventory.collected_at = _parse_time(meta.get("collected_at"))
            inventory.source = str(meta.get("source") or "")
            inventory.regions = [str(r) for r in meta.get("regions") or []]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
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


def responses(calls: Iterable[Call]) -> list[dict[str, Any]]:
    """The successful responses among `calls`."""
    return [c.response for c in calls if c.error is None and c.response is not None]

