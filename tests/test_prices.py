"""Dated price tables: the committed table, negotiated-price overrides, SIEM prices."""

import pytest

from mdcnb.sources import prices
from mdcnb.sources.prices import PriceTableError, apply_overrides, latest_price_table, siem_price


def test_committed_table_is_complete_and_dated():
    table = latest_price_table()
    assert table.currency == "USD" and table.date == table.name.split("-", 1)[1][:10]
    recurring = table.rows[table.rows["kind"] == "recurring"]
    # every recurring price has both figures, agreeing on the 730-hour month, and a source and confidence
    assert recurring["monthly_price"].notna().all() and recurring["hourly_price"].notna().all()
    assert ((recurring["hourly_price"] * 730 - recurring["monthly_price"]).abs() < 0.01).all()
    assert table.rows["source"].str.len().gt(0).all()
    assert set(table.rows["confidence"]) <= {"P", "S", "U"}
    assert table.monthly_price("VirtualMachines", "P2") == pytest.approx(14.60)
    assert "prices-" in table.label and table.date in table.label


def test_overrides_replace_prices_and_are_named(tmp_path):
    table = latest_price_table()
    path = tmp_path / "negotiated.csv"
    path.write_text("plan,sub_plan,monthly_price,currency,note\nVirtualMachines,P2,12.00,USD,EA discount\n")
    changed = apply_overrides(table, path)
    row = changed.recurring("VirtualMachines", "P2")
    assert row["monthly_price"] == 12.0 and row["hourly_price"] == pytest.approx(12 / 730)
    assert row["confidence"] == "negotiated" and "EA discount" in row["source"]
    assert "negotiated.csv" in changed.label
    assert table.monthly_price("VirtualMachines", "P2") == pytest.approx(14.60)  # the original is untouched


@pytest.mark.parametrize(("text", "message"), [
    ("plan,sub_plan,monthly_price\nVirtualMachine,P2,12\n", "no price row for plan 'VirtualMachine'"),
    ("plan,sub_plan,monthly_price,currency\nVirtualMachines,P2,12,EUR\n", "EUR but the table is in USD"),
    ("plan,sub_plan,monthly_price\nVirtualMachines,P2,twelve\n", "not a number"),
    ("plan,sub_plan,note\nVirtualMachines,P2,x\n", "no price given"),
])
def test_bad_override_lines_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "o.csv"
    path.write_text(text)
    with pytest.raises(PriceTableError, match=message):
        apply_overrides(latest_price_table(), path)


def test_siem_price_defaults_and_user_prices():
    table = latest_price_table()
    default = siem_price(table=table)
    assert default.siem == prices.DEFAULT_SIEM and default.per_million_events == 0.0
    assert table.name in default.source and default.as_of == table.date
    # 1,000,000 events of 1,320 bytes = 1.32 GB at the table's per-GB price
    assert default.cost(1_000_000) == pytest.approx(1.32 * default.per_gb)
    assert default.cost(10, nbytes=2e9) == pytest.approx(2 * default.per_gb)
    per_event = siem_price("cloudtrail-extra-copy", table)
    assert per_event.cost(100_000) == pytest.approx(2.00)  # $2.00 per 100,000 events
    mine = siem_price(table=table, price_per_gb=2.5, bytes_per_event=2000)
    assert mine.cost(1_000_000) == pytest.approx(2 * 2.5) and mine.source == "given by the user"
    with pytest.raises(PriceTableError, match="no SIEM price 'splunk'"):
        siem_price("splunk", table)
