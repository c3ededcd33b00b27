"""Which estate a history snapshot belongs to, and whether its pull was complete.

A series is keyed by (cloud, tenant id, scope kind, scope id). A tenant-wide pull's scope id is the tenant itself
and a management group's is the group, so subscriptions that come and go never start a new series; only an
explicit list of subscriptions is identified by (a hash of) that list, because the list is then the estate.
Two tenants in one store always have different keys, and the sample (cloud `sample`) never mixes with a live
tenant. `migrate_2_to_3` rewrites the keys of a store written before the key had these parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mdcnb.sources.dataset import iter_records, most_common_tenant, read_manifest, records_tenant

KINDS = ("tenant", "management_group", "subscriptions")
UNKNOWN_TENANT = "unknown"
# The cloud a source's manifest means when it does not name one (pulls before the manifest said).
DEFAULT_CLOUD = {"azure": "AzureCloud"}
_TENANT_KEYS = ("tenant_id", "tenantId", "tenant")
_GROUP_KEYS = ("management_group", "managementGroup")


@dataclass(frozen=True)
class SeriesKey:
    """The identity of one estate over time; `str()` gives the series name stored with each snapshot."""

    cloud: str
    tenant: str
    kind: str
    scope_id: str

    def __str__(self) -> str:
        root = f"{self.cloud}/{self.tenant}"
        return root if self.kind == "tenant" else f"{root}/{self.kind}={self.scope_id}"


def scope_tenant(scope: Mapping[str, Any]) -> str | None:
    """The tenant id a scope names, lower case (None when it names none)."""
    found = next((scope[k] for k in _TENANT_KEYS if scope.get(k)), None)
    return str(found).lower() if found else None


def key_of(source: str, scope: Mapping[str, Any] | None, *, cloud: str | None = None,
           tenant: str | None = None) -> SeriesKey:
    """The key of a snapshot from its source and manifest scope; `tenant` stands in when the scope names none."""
    scope = dict(scope or {})
    tenant_id = scope_tenant(scope) or (tenant.lower() if tenant else UNKNOWN_TENANT)
    group = next((str(scope[k]) for k in _GROUP_KEYS if scope.get(k)), None)
    subscriptions = scope.get("subscriptions")
    kind = scope.get("kind")
    if kind not in KINDS:  # scopes written without a kind (the sample, older manifests)
        listed = isinstance(subscriptions, list) and subscriptions and not scope_tenant(scope)
        kind = "management_group" if group else "subscriptions" if listed else "tenant"
    if kind == "management_group":
        scope_id = (group or "").lower()
    elif kind == "subscriptions":
        names = sorted(str(s).lower() for s in subscriptions or []) if isinstance(subscriptions, list) else []
        scope_id = hashlib.sha256(json.dumps(names).encode()).hexdigest()[:12]
    else:
        scope_id = tenant_id
    return SeriesKey(cloud or DEFAULT_CLOUD.get(source, source), tenant_id, kind, scope_id)


def pull_complete(manifest: Mapping[str, Any]) -> bool:
    """Whether a dataset holds everything it was asked for: the pull's own verdict (`complete`, set when its
    totals reconcile), else an empty pull log (the sample and hand-made datasets have no verdict)."""
    if "complete" in manifest:
        return bool(manifest["complete"])
    return not manifest.get("pull_log")


def dataset_key(dataset: Path, manifest: Mapping[str, Any] | None = None) -> SeriesKey:
    """The key of a dataset directory. A manifest naming no tenant (pulls before it did) takes the tenant of its
    subscription records."""
    manifest = manifest if manifest is not None else read_manifest(dataset)
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    tenant = None
    if not scope_tenant(scope):
        tenant = records_tenant(r for _, r in iter_records(dataset, "subscriptions", []))
    return key_of(str(manifest.get("source") or "unknown"), scope, cloud=manifest.get("cloud"), tenant=tenant)


# --- schema 2 -> 3 ------------------------------------------------------------------------------------------------

KEY_COLUMNS = "cloud VARCHAR, tenant_id VARCHAR, scope_kind VARCHAR, scope_id VARCHAR, complete BOOLEAN"


def migrate_2_to_3(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3 keys each snapshot by (cloud, tenant, scope kind, scope id) and records whether its pull was complete.

    Each stored snapshot's key is rebuilt from what the store kept of its manifest (source and scope), the manifest
    itself when its dataset directory is still there (cloud, completeness), and the tenant of the snapshot's own
    subscriptions table when the scope named no tenant. Completeness stays null (unknown) when the manifest is gone.
    Old keys that now name the same estate and week (a tenant-wide pull before and after a subscription was added)
    keep one snapshot, as recording that week again would: the complete one, else the one recorded last.
    """
    for column in KEY_COLUMNS.split(", "):
        con.execute(f"ALTER TABLE snapshots ADD COLUMN {column}")
    has_subscriptions = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                                    "'snap_subscriptions' AND column_name = 'tenant_id'").fetchone()[0]
    rows = con.execute("SELECT snapshot_id, source, scope, dataset FROM snapshots").fetchall()
    for snapshot_id, source, scope_text, dataset in rows:
        manifest = _manifest_if_present(dataset)
        tenants = con.execute("SELECT tenant_id FROM snap_subscriptions WHERE snapshot_id = ?",
                              [snapshot_id]).fetchall() if has_subscriptions else []
        key = key_of(source or "", json.loads(scope_text or "{}"), cloud=manifest.get("cloud"),
                     tenant=most_common_tenant(t for (t,) in tenants))
        con.execute("UPDATE snapshots SET series = ?, cloud = ?, tenant_id = ?, scope_kind = ?, scope_id = ?, "
                    "complete = ? WHERE snapshot_id = ?",
                    [str(key), key.cloud, key.tenant, key.kind, key.scope_id,
                     pull_complete(manifest) if manifest else None, snapshot_id])
    losers = [r[0] for r in con.execute(
        "SELECT snapshot_id FROM (SELECT snapshot_id, row_number() OVER (PARTITION BY series, week ORDER BY "
        "coalesce(complete, true) DESC, recorded_at DESC, snapshot_id DESC) AS rank FROM snapshots) WHERE rank > 1"
    ).fetchall()]
    if losers:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_name LIKE 'snap\\_%' ESCAPE '\\'").fetchall()]
        for name in [*tables, "snapshots"]:
            con.execute(f"DELETE FROM {name} WHERE snapshot_id IN (SELECT unnest(?))", [losers])


def _manifest_if_present(dataset: str | None) -> dict[str, Any]:
    """The manifest of a snapshot's dataset directory when it is still there and readable, else {}."""
    if not dataset:
        return {}
    with contextlib.suppress(OSError, ValueError):
        manifest = read_manifest(Path(dataset))
        return manifest if isinstance(manifest, dict) else {}
    return {}
