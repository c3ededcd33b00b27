"""ARG `resources` rows normalised chunk by chunk: the rows of `inventory.resource`, without folding every record's
keys or a lookup per field per record.

A big tenant holds a hundred thousand resources or more. Their `properties` differ by resource type and carry many
keys the normaliser does not read, so a line is read by orjson, as the per-row path reads it (no typed shape). A chunk
of plain records becomes columns here: every top-level key one of the Resource Graph row's (`Envelope`, `id`,
`properties`), spelled as Resource Graph spells it; the texts read (`name`, `type`, ...) text or null; `properties` an
object with no key that folds onto a key `inventory.resource_sizing` reads unless spelled as it reads it; the line
shallow enough for `fold`; new, distinct ids. Each text is converted once per distinct value, the sizing once per
distinct `sku` and read properties (carried as their JSON text, folded as the per-row path folds them), and the
id-derived fallbacks per row that lacks the field. Any other chunk goes record by record through the per-row path
(`chunked`), so odd input gives the same rows and the same skips in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.chunked import (
    Item,
    NotPlain,
    PerRow,
    each,
    filled,
    frame,
    json_object,
    plain_rows,
    read_chunks,
)
from mdcnb.normalize.common import (
    RecordError,
    fold,
    last_segment,
    lower,
    resource_group_of,
    subscription_of,
    text,
)
from mdcnb.normalize.inventory import SIZING_PROPERTIES, resource_sizing
from mdcnb.sources.dataset import Skip

RECORD_TYPE = "resources"
_SIZING = frozenset(SIZING_PROPERTIES)
_SIZING_FOLDED = frozenset(key.lower() for key in SIZING_PROPERTIES)
_TEXTS = ("name", "type", "kind", "subscriptionId", "resourceGroup", "location")
_SIZES = ("sku", "capacity", "vcores", "power_state")


def normalise(dataset: Path, skips: list[Skip], per_row: PerRow) -> dict[str, pd.DataFrame]:
    """The `resources` table; its skips (unreadable lines, skipped records) appended to `skips`."""
    sizes: dict[bytes, dict[str, Any]] = {}  # the sizing of each distinct key, kept across chunks
    pieces, _ = read_chunks(dataset, RECORD_TYPE, json_object, lambda chunk, seen: _columns(chunk, seen, sizes),
                            skips, per_row)
    return {schema.RESOURCES.name: frame(schema.RESOURCES, pieces)}


def _columns(chunk: list[Item], seen: dict[str, int | str], sized: dict[bytes, dict[str, Any]]
             ) -> dict[str, list[Any]]:
    """The columns of a plain chunk, its ids entered into `seen` (`sized`: the sizing of the keys read before);
    `NotPlain` otherwise."""
    records, resource_id = plain_rows(chunk, seen)
    texts = {key: [record.get(key) for record in records] for key in _TEXTS}
    if not all(value is None or type(value) is str for values in texts.values() for value in values):
        raise NotPlain
    try:
        sizes = each(_sizing_keys(records), _sizing, sized)
    except (RecordError, TypeError, ValueError, AttributeError):
        raise NotPlain from None  # a record the per-row path skips, with its reason
    columns: dict[str, list[Any]] = {
        "resource_id": resource_id,
        "name": filled(each(texts["name"], text), resource_id, last_segment),
        "type": each(texts["type"], lower),
        "kind": each(texts["kind"], text),
        "subscription_id": filled(each(texts["subscriptionId"], lower), resource_id, subscription_of),
        "resource_group": filled(each(texts["resourceGroup"], lower), resource_id, resource_group_of),
        "location": each(texts["location"], text),
        **{name: [size[name] for size in sizes] for name in _SIZES},
        "tags": [tags if type(tags) is dict else None for tags in (record.get("tags") for record in records)],
    }
    seen.update(zip(resource_id, (item[0] for item in chunk), strict=True))
    return columns


def _sizing_keys(records: list[dict[str, Any]]) -> list[bytes]:
    """Each record's `sku` and read properties as JSON text: what `resource_sizing` reads, hashable."""
    props = [{} if p is None else p for p in (record.get("properties") for record in records)]
    if not all(type(p) is dict for p in props):
        raise NotPlain
    if any(key.lower() in _SIZING_FOLDED for key in set().union(*props) - _SIZING):
        raise NotPlain  # a read key spelled otherwise: folding decides which spelling counts
    return [orjson.dumps((record.get("sku"), {key: p[key] for key in SIZING_PROPERTIES if key in p}))
            for record, p in zip(records, props, strict=True)]


def _sizing(key: bytes) -> dict[str, Any]:
    sku, props = orjson.loads(key)
    return resource_sizing(fold({"sku": sku, "properties": props}))
