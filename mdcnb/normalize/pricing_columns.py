"""Defender plans (`pricings` items) normalised chunk by chunk: the rows of `inventory.pricing`, with a pricing's
settings read once per distinct `properties` instead of folding and reading every record.

A big tenant holds a pricing per plan and subscription (some tens of thousands), which repeat a few dozen settings:
what differs between them is the id, the name, the subscription and the enablement time. A line is read by orjson,
as the per-row path reads it. In a chunk of plain records (`chunked.plain_rows`; `properties` an object with no key
but `enablementTime` itself that folds onto it; the name, subscription and enablement time text or null) the id,
name, subscription and enablement time are converted per record, or once per distinct value, and the rest of
`properties`, carried as its JSON text, is folded and read by `inventory.pricing_settings` once per distinct text.
Any other chunk goes record by record through the per-row path (`chunked`), so odd input gives the same rows and the
same skips in the same order.
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
    column_key,
    each,
    filled,
    frame,
    json_object,
    plain_rows,
    read_chunks,
)
from mdcnb.normalize.common import RecordError, fold, last_segment, lower, subscription_of, text
from mdcnb.normalize.inventory import ENABLEMENT_TIME, pricing_level, pricing_scope, pricing_settings
from mdcnb.sources.dataset import Skip

RECORD_TYPE = "pricings"
TABLES = (schema.PLANS.name, schema.PLAN_EXTENSIONS.name)
_FOLDED_TIME = ENABLEMENT_TIME.lower()
_TEXTS = ("name", "subscriptionId")
Settings = tuple[dict[str, Any], list[dict[str, Any]]]  # `inventory.pricing_settings`


def normalise(dataset: Path, skips: list[Skip], per_row: PerRow) -> dict[str, pd.DataFrame]:
    """The `plans` and `plan_extensions` tables; their skips (unreadable lines, skipped records) appended to `skips`."""
    settings: dict[bytes, Settings] = {}  # the settings of each distinct text, kept across chunks
    pieces, _ = read_chunks(dataset, RECORD_TYPE, json_object, lambda chunk, seen: _columns(chunk, seen, settings),
                            skips, per_row)
    return {table.name: frame(table, pieces, TABLES) for table in (schema.PLANS, schema.PLAN_EXTENSIONS)}


def _columns(chunk: list[Item], seen: dict[str, int | str], read: dict[bytes, Settings]) -> dict[str, list[Any]]:
    """The columns of a plain chunk (`column_key`), its ids entered into `seen` (`read`: the settings of the texts
    read before); `NotPlain` otherwise."""
    records, ids = plain_rows(chunk, seen)
    props = [{} if p is None else p for p in (record.get("properties") for record in records)]
    if not all(type(p) is dict for p in props):
        raise NotPlain
    if any(key.lower() == _FOLDED_TIME for key in set().union(*props) - {ENABLEMENT_TIME}):
        raise NotPlain  # the enablement time spelled otherwise: folding decides which spelling counts
    texts = {key: [record.get(key) for record in records] for key in _TEXTS}
    times = [p.get(ENABLEMENT_TIME) for p in props]
    if not all(value is None or type(value) is str for values in (*texts.values(), times) for value in values):
        raise NotPlain
    try:
        scopes = [pricing_scope(record.get("id")) for record in records]
        settings = each([orjson.dumps({k: v for k, v in p.items() if k != ENABLEMENT_TIME}) for p in props],
                        _settings, read)
    except (RecordError, TypeError, ValueError, AttributeError):
        raise NotPlain from None  # a record the per-row path skips, with its reason
    scope_ids = [scope for _, scope in scopes]
    subscriptions = [of_scope or of_record for of_scope, of_record in
                     zip(each(scope_ids, subscription_of), each(texts["subscriptionId"], lower), strict=True)]
    plans = filled(each(texts["name"], text), [pricing_id for pricing_id, _ in scopes], last_segment)
    columns: dict[str, list[Any]] = {"scope_id": scope_ids, "subscription_id": subscriptions,
                                     "level": each(scope_ids, pricing_level), "plan": plans,
                                     "enablement_time": each(times, text)}
    columns |= {name: [row[name] for row, _ in settings] for name in schema.PLANS.names if name not in columns}
    extensions = [{"scope_id": scope, "subscription_id": subscription, "plan": plan, **extension}
                  for scope, subscription, plan, (_, listed) in zip(scope_ids, subscriptions, plans, settings,
                                                                    strict=True) for extension in listed]
    for name in schema.PLAN_EXTENSIONS.names:
        columns[column_key(schema.PLAN_EXTENSIONS.name, name, TABLES)] = [row[name] for row in extensions]
    seen.update(zip(ids, (item[0] for item in chunk), strict=True))
    return columns


def _settings(key: bytes) -> Settings:
    return pricing_settings(fold(orjson.loads(key)))
