"""Dated price tables: Defender plan prices and SIEM ingestion prices, with their sources.

A price table is a JSON file in `data/prices/` named `prices-<date>-<currency>.json`: table-level `name`, `date`,
`currency`, `region`, `source`, `hours_per_month` and `rows`, one per (plan, sub-plan, billing unit) with the hourly and
monthly price of recurring units or the usage price of metered ones, and each row's own source, source date and
confidence (P primary, S secondary, U uncertain). `mdcnb prices refresh` writes new tables from the Azure Retail
Prices API; a user file of negotiated prices overrides rows (`apply_overrides`). Every cost figure names the table it
used through `PriceTable.label`. pandas is imported only where a table becomes a DataFrame: `price_rows` reads and
checks a table as plain rows (all `mdcnb prices show` needs).
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

from mdcnb.core.package_data import data_dir

PRICES_DIR = data_dir("prices")
HOURS_PER_MONTH = 730
BYTES_PER_GB = 1_000_000_000  # SIEMs (Sentinel included) bill GB = 10^9 bytes
DEFAULT_SIEM = "sentinel-analytics"
ROW_COLUMNS = ("plan", "sub_plan", "kind", "billing_unit", "hourly_price", "monthly_price", "usage_price", "usage_unit",
               "usage_block", "product_name", "meter_name", "source", "source_date", "confidence", "note")
PRICE_COLUMNS = ("hourly_price", "monthly_price", "usage_price")


class PriceTableError(ValueError):
    """A price table or override file that cannot be used, with the reason."""


@dataclass(frozen=True)
class PriceTable:
    """One dated price table (rows as a DataFrame) and where it came from."""

    name: str
    date: str
    currency: str
    source: str
    rows: pd.DataFrame
    region: str = "Global"
    hours_per_month: float = HOURS_PER_MONTH
    siem_bytes_per_event: float = 1320.0
    path: Path | None = None
    overrides: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """The name every figure prints: table, date, currency and any override file."""
        return table_label(self.name, self.date, self.currency, self.overrides)

    def info(self) -> dict[str, Any]:
        """`{"name", "source", "date", "currency", "overrides"}` for JSON output and report headlines."""
        return {"name": self.name, "source": self.source, "date": self.date, "currency": self.currency,
                "overrides": list(self.overrides)}

    def recurring(self, plan: str, sub_plan: str | None) -> pd.Series | None:
        """The recurring (hourly/monthly) row of a plan and sub-plan, or None when the table has none."""
        rows = self.rows[(self.rows["plan"] == plan) & (self.rows["kind"] == "recurring")]
        exact = rows[rows["sub_plan"] == (sub_plan or "")]
        if len(exact):
            return exact.iloc[0]
        return None

    def monthly_prices(self) -> dict[tuple[str, str], float]:
        """Each (plan, sub-plan)'s monthly price, from its first recurring row; a plan without one, or priced by
        usage only, is missing. One pass, for callers that price many rows."""
        rows = self.rows[self.rows["kind"] == "recurring"].drop_duplicates(["plan", "sub_plan"])
        return {(plan, sub_plan): float(price)
                for plan, sub_plan, price in zip(rows["plan"], rows["sub_plan"], rows["monthly_price"], strict=True)
                if not math.isnan(price)}

    def monthly_price(self, plan: str, sub_plan: str | None) -> float | None:
        return self.monthly_prices().get((plan, sub_plan or ""))

    def with_monthly_price(self, plan: str, sub_plan: str | None, monthly: float, note: str) -> PriceTable:
        """A copy with one recurring price changed (what-if prices from the notebook widget)."""
        rows = self.rows.copy()
        mask = (rows["plan"] == plan) & (rows["sub_plan"] == (sub_plan or "")) & (rows["kind"] == "recurring")
        if not mask.any():
            raise PriceTableError(f"{self.name} has no recurring price for {plan} {sub_plan or ''}".rstrip())
        rows.loc[mask, "monthly_price"] = monthly
        rows.loc[mask, "hourly_price"] = monthly / self.hours_per_month
        return replace(self, rows=rows, overrides=tuple(dict.fromkeys((*self.overrides, note))))


def table_label(name: str, date: str, currency: str, overrides: tuple[str, ...] = ()) -> str:
    text = f"price table {name} ({date}, {str(currency).upper()})"
    return text + (f" with prices overridden by {', '.join(overrides)}" if overrides else "")


def _number(value: Any) -> float:
    """A price cell as a float; NaN for a missing or non-numeric one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else math.nan
    except ValueError:
        return math.nan


def price_rows(data: dict[str, Any], path: Path | None = None) -> list[dict[str, Any]]:
    """A table's rows from its JSON form, checked as the model relies on: every ROW_COLUMNS cell, prices as floats
    (NaN when missing), plan/sub-plan/kind as text, a recurring row's monthly price from its hourly one if missing."""
    missing = [k for k in ("name", "date", "currency", "source", "rows") if k not in data]
    if missing:
        raise PriceTableError(f"{path or 'price table'}: missing {', '.join(missing)}")
    hours = float(data.get("hours_per_month", HOURS_PER_MONTH))
    rows = []
    for given in data["rows"]:
        row = {c: given.get(c) for c in ROW_COLUMNS}
        row.update({c: _number(row[c]) for c in (*PRICE_COLUMNS, "usage_block")})
        row.update({c: "" if row[c] is None else str(row[c]) for c in ("plan", "sub_plan", "kind")})
        if row["kind"] == "recurring" and math.isnan(row["monthly_price"]) and not math.isnan(row["hourly_price"]):
            row["monthly_price"] = row["hourly_price"] * hours
        rows.append(row)
    if any(math.isinf(row[c]) or row[c] < 0 for row in rows for c in PRICE_COLUMNS):
        raise PriceTableError(f"{path or data['name']}: a price is negative or not a finite number")
    bad_kind = sorted({row["kind"] for row in rows} - {"recurring", "usage"})
    if bad_kind:
        raise PriceTableError(f"{path or data['name']}: unknown row kind {bad_kind} (recurring or usage)")
    return rows


def price_table_from_dict(data: dict[str, Any], path: Path | None = None) -> PriceTable:
    """Build a `PriceTable` from its JSON form, checking what the model relies on (`price_rows`)."""
    import pandas as pd

    rows = pd.DataFrame(price_rows(data, path), columns=list(ROW_COLUMNS))
    rows = rows.astype({c: "float64" for c in (*PRICE_COLUMNS, "usage_block")})
    return PriceTable(rows=rows, path=path, **_header(data))


def _header(data: dict[str, Any]) -> dict[str, Any]:
    """A table's fields other than its rows, from its JSON form (checked by `price_rows` first)."""
    siem_bytes = (data.get("siem_bytes_per_event") or {}).get("value", 1320.0)
    return {"name": str(data["name"]), "date": str(data["date"]), "currency": str(data["currency"]).upper(),
            "source": str(data["source"]), "region": str(data.get("region", "Global")),
            "hours_per_month": float(data.get("hours_per_month", HOURS_PER_MONTH)),
            "siem_bytes_per_event": float(siem_bytes)}


def read_price_data(path: Path) -> dict[str, Any]:
    """A price table file's JSON form."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PriceTableError(f"{path}: cannot read price table ({exc})") from exc


def load_price_table(path: Path) -> PriceTable:
    return price_table_from_dict(read_price_data(path), Path(path))


def price_table_paths(directory: Path = PRICES_DIR, currency: str | None = None) -> list[Path]:
    """Price tables in `directory`, oldest first (by the date in the name)."""
    pattern = f"prices-*-{currency.upper()}.json" if currency else "prices-*.json"
    return sorted(Path(directory).glob(pattern))


def latest_price_path(directory: Path = PRICES_DIR, currency: str = "USD") -> Path:
    paths = price_table_paths(directory, currency)
    if not paths:
        raise PriceTableError(f"no {currency} price table in {directory}; "
                              f"run `mdcnb prices refresh --currency {currency}`")
    return paths[-1]


def latest_price_table(directory: Path = PRICES_DIR, currency: str = "USD") -> PriceTable:
    return load_price_table(latest_price_path(directory, currency))


def price_table_to_dict(table: PriceTable) -> dict[str, Any]:
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in table.rows.to_dict("records")]
    return {"name": table.name, "date": table.date, "currency": table.currency, "region": table.region,
            "hours_per_month": table.hours_per_month, "source": table.source,
            "siem_bytes_per_event": {"value": table.siem_bytes_per_event}, "rows": rows}


def write_price_table(table: PriceTable, directory: Path = PRICES_DIR) -> Path:
    """Write `prices-<date>-<currency>.json` (a refresh on the same day replaces that day's table).

    Atomically: a temporary file beside it, renamed over it once complete, so a failed write (a full disk) leaves the
    table that was there untouched. A price that is no finite number is a PriceTableError (JSON has none).
    """
    path = Path(directory) / f"prices-{table.date}-{table.currency}.json"
    try:
        text = json.dumps(price_table_to_dict(table), indent=1, allow_nan=False) + "\n"
    except ValueError as exc:
        raise PriceTableError(f"{table.name}: a price is not a finite number; nothing written") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; price tables are shared data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def apply_overrides(table: PriceTable, path: Path) -> PriceTable:
    """Replace prices with negotiated ones from a CSV file.

    Columns: `plan`, `sub_plan` (may be empty), one or more of `monthly_price`, `hourly_price`, `usage_price`, optional
    `billing_unit` (to pick a usage row), `currency` (must equal the table's) and `note`. A row matching nothing in the
    table is an error, so a typo cannot silently leave a list price in place.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            overrides = list(csv.DictReader(fh))
    except OSError as exc:
        raise PriceTableError(f"{path}: cannot read override file ({exc})") from exc
    rows = table.rows.copy()
    for lineno, override in enumerate(overrides, start=2):
        where = f"{path}:{lineno}"
        currency = (override.get("currency") or table.currency).strip().upper()
        if currency != table.currency:
            raise PriceTableError(f"{where}: price in {currency} but the table is in {table.currency}")
        mask = (rows["plan"] == (override.get("plan") or "").strip()) & \
               (rows["sub_plan"] == (override.get("sub_plan") or "").strip())
        unit = (override.get("billing_unit") or "").strip()
        mask &= (rows["billing_unit"] == unit) if unit else (rows["kind"] == "recurring")
        if not mask.any():
            raise PriceTableError(f"{where}: no price row for plan {override.get('plan')!r} sub-plan "
                                  f"{override.get('sub_plan')!r}{f' unit {unit!r}' if unit else ''} in {table.name}")
        prices = {c: override.get(c) for c in PRICE_COLUMNS if (override.get(c) or "").strip()}
        if not prices:
            raise PriceTableError(f"{where}: no price given (monthly_price, hourly_price or usage_price)")
        try:
            values = {c: float(v) for c, v in prices.items()}
        except ValueError as exc:
            raise PriceTableError(f"{where}: not a number ({exc})") from exc
        if "monthly_price" in values and "hourly_price" not in values:
            values["hourly_price"] = values["monthly_price"] / table.hours_per_month
        if "hourly_price" in values and "monthly_price" not in values:
            values["monthly_price"] = values["hourly_price"] * table.hours_per_month
        for col, value in values.items():
            rows.loc[mask, col] = value
        rows.loc[mask, "source"] = f"override {path.name}" + (f": {override['note']}" if override.get("note") else "")
        rows.loc[mask, "confidence"] = "negotiated"
    return replace(table, rows=rows, overrides=(*table.overrides, path.name))


@dataclass(frozen=True)
class SiemPrice:
    """A SIEM ingestion price: per GB (10^9 bytes) and/or per million events, with the table and date it came from.

    The first five fields match `analysis.cloudtrail_cost.SiemPrice`, so either module's cost arithmetic accepts it.
    """

    per_gb: float = 0.0
    per_million_events: float = 0.0
    currency: str = "USD"
    source: str = "given by the user"
    as_of: str | None = None
    siem: str = "custom"
    bytes_per_event: float = 1320.0
    confidence: str = "user"

    def cost(self, events: float, nbytes: float | None = None) -> float:
        """Price of `events` events of `nbytes` bytes in all (default: events x the average event size)."""
        size = events * self.bytes_per_event if nbytes is None else nbytes
        return size / BYTES_PER_GB * self.per_gb + events / 1e6 * self.per_million_events

    @property
    def unit(self) -> str:
        parts = ([f"{self.per_gb:g} {self.currency}/GB"] if self.per_gb else []) + \
                ([f"{self.per_million_events:g} {self.currency}/million events"] if self.per_million_events else [])
        return " + ".join(parts) or "free"


def siem_options(table: PriceTable) -> list[str]:
    return sorted(table.rows.loc[table.rows["plan"] == "SIEM", "sub_plan"])


class _Plain(NamedTuple):
    """What `siem_price` reads of a price table: its header, and its rows as dicts."""

    name: str
    label: str
    date: str
    currency: str
    siem_bytes_per_event: float
    rows: list[dict[str, Any]]

    @classmethod
    def of(cls, table: PriceTable | None) -> _Plain:
        """`table`, or else the latest USD table read without pandas (so that `mdcnb cloudtrail volume` on an
        empty folder starts without it)."""
        if table is not None:
            return cls(table.name, table.label, table.date, table.currency, table.siem_bytes_per_event,
                       table.rows.to_dict("records"))
        path = latest_price_path()
        data = read_price_data(path)
        rows = price_rows(data, path)
        head = _header(data)
        return cls(head["name"], table_label(head["name"], head["date"], head["currency"]), head["date"],
                   head["currency"], head["siem_bytes_per_event"], rows)


def siem_price(siem: str = DEFAULT_SIEM, table: PriceTable | None = None, *, price_per_gb: float | None = None,
               price_per_million_events: float | None = None, bytes_per_event: float | None = None) -> SiemPrice:
    """The ingestion price of one SIEM from the dated table (default: the latest USD table), or the caller's price.

    `siem` is a SIEM row's sub-plan (e.g. `sentinel-analytics`, `sentinel-basic`, `datadog-indexing`,
    `cloudtrail-extra-copy`; `siem_options(table)` lists them). `price_per_gb` and/or `price_per_million_events`
    replace the table price (the source then says so); `bytes_per_event` replaces the table's average billed size
    of a CloudTrail event, used when only event counts are known.
    """
    plain = _Plain.of(table)
    size = float(bytes_per_event if bytes_per_event is not None else plain.siem_bytes_per_event)
    if price_per_gb is not None or price_per_million_events is not None:
        return SiemPrice(float(price_per_gb or 0.0), float(price_per_million_events or 0.0), plain.currency,
                         "given by the user", None, "custom", size, "user")
    siems = [row for row in plain.rows if row["plan"] == "SIEM"]
    rows = [row for row in siems if row["sub_plan"] == siem]
    if not rows or math.isnan(rows[0]["usage_price"]):
        known = ", ".join(sorted(row["sub_plan"] for row in siems))
        raise PriceTableError(f"{plain.name} has no SIEM price {siem!r}; known: {known}")
    row = rows[0]
    price = float(row["usage_price"])
    if str(row["usage_unit"]).lower().endswith("events"):
        per_gb, per_million = 0.0, price / float(row["usage_block"]) * 1e6
    else:
        per_gb, per_million = price, 0.0
    return SiemPrice(per_gb, per_million, plain.currency, f"{plain.label}: {row['source']}", plain.date, siem, size,
                     str(row["confidence"]))
