"""The AWS-side inventory as tables: what the readiness audit reads of each AWS account.

`aws_inventory(inventories)` normalises the recorded calls (`sources.aws_dataset.read_inventories`, or a live
collection) with `mdcnb.normalize.aws_inventory` into an `AwsInventory`, one DataFrame per contract of
`mdcnb.core.schema.AWS_INVENTORY_TABLES`; `by_account()` splits it into one `AwsInventory` per account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, make_dataclass
from datetime import datetime

import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.aws_inventory import normalise_inventories
from mdcnb.sources.aws_dataset import AccountInventory


class _InventoryAccess:
    """What `AwsInventory` adds to its generated fields."""

    @property
    def accounts(self) -> list[str]:
        """The accounts whose inventory was collected, in collection order."""
        return list(dict.fromkeys(self.aws_collections["account_id"]))

    def collected_at(self) -> datetime | None:
        """The newest collection time, or None when no account says when it was collected."""
        times = self.aws_collections["collected_at"].dropna()
        return times.max().to_pydatetime() if len(times) else None

    def by_account(self) -> dict[str, AwsInventory]:
        """One `AwsInventory` per collected account, holding that account's rows only."""
        groups = {name: dict(iter(getattr(self, name).groupby("account_id", sort=False)))
                  for name in schema.AWS_INVENTORY_TABLES}
        return {account: AwsInventory(**{name: _rows(groups[name], account, table)
                                         for name, table in schema.AWS_INVENTORY_TABLES.items()})
                for account in self.accounts}


def _rows(groups: dict[str, pd.DataFrame], account: str, table: schema.Table) -> pd.DataFrame:
    found = groups.get(account)
    return found.reset_index(drop=True) if found is not None else table.frame()


# One DataFrame per contract in `mdcnb.core.schema.AWS_INVENTORY_TABLES` (generated from it, as `Tables` is).
AwsInventory = make_dataclass(
    "AwsInventory",
    [(name, pd.DataFrame, field(default_factory=table.frame)) for name, table in schema.AWS_INVENTORY_TABLES.items()],
    bases=(_InventoryAccess,))
AwsInventory.__module__ = __name__  # pickled by this name


def aws_inventory(inventories: Mapping[str, AccountInventory]) -> AwsInventory:
    """The tables of these accounts' recorded calls (by account id)."""
    return AwsInventory(**normalise_inventories(inventories))
