"""CloudTrail figure builders draw exactly the numbers of the aggregated tables they receive."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import cloudtrail as ct
from mdcnb.figures import cloudtrail as fig
from mdcnb.figures import style


def test_daily_reads_stacks_actors_in_order() -> None:
    daily = pd.DataFrame({"date": ["d1", "d1", "d2"], "actor": ["cspm", "other", "cspm"],
                          "label": ["", "", ""], "read_only_events": [5, 7, 6], "events": [5, 9, 6]})
    f = fig.daily_reads(daily)
    assert [t.name for t in f.data] == ["CspmMonitorAws", "everyone else"]
    assert list(f.data[0].y) == [5, 6] and list(f.data[1].x) == ["d1"] and f.layout.barmode == "stack"


def test_series_and_bars_carry_the_values() -> None:
    daily = pd.DataFrame({"date": ["d1", "d2", "d1"], "account_id": ["a", "a", "b"], "region": ["r", "r", "r"],
                          "read_only_events": [1, 2, 3], "read_only_bytes": [10, 20, 30]})
    lines = fig.cspm_by_account_region(daily)
    assert [(t.name, list(t.y)) for t in lines.data] == [("a / r", [1, 2]), ("b / r", [3])]
    calls = pd.DataFrame({"event_source": ["ec2.amazonaws.com", "iam.amazonaws.com"],
                          "event_name": ["DescribeInstances", "ListRoles"], "read_only_events": [20, 4],
                          "read_only_bytes": [1, 1], "share": [20 / 24, 4 / 24]})
    bars = fig.top_calls(calls)
    assert list(bars.data[0].y) == ["iam ListRoles", "ec2 DescribeInstances"] and list(bars.data[0].x) == [4, 20]
    share = pd.DataFrame({"account_id": ["111122223333"], "read_events": [32], "cspm_read_events": [26]})
    s = fig.read_share(share)
    assert list(s.data[0].x) == [26] and list(s.data[1].x) == [6]


def test_cost_chart_shows_before_and_after() -> None:
    cost = {"price": {"currency": "USD"}, "monthly_cost": 12.5, "monthly_cost_after_filter": 4.0,
            "monthly_saving": 8.5, "window_days": 21}
    f = fig.siem_cost(cost)
    assert list(f.data[0].y) == [12.5, 4.0] and "saving USD 8.50 / month" in f.layout.title.text
    assert "from 21 days of logs" in f.layout.title.text


def hourly_rows(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """An hourly volume frame (`schema.CLOUDTRAIL_HOURLY` columns the analysis reads) from (hour, account, actor, n)."""
    hour, account, actor, events = zip(*rows, strict=True)
    return pd.DataFrame({"hour": pd.to_datetime(list(hour), utc=True), "account_id": list(account),
                         "region": "eu-west-1", "actor": list(actor), "read_only_events": list(events)})


def test_hourly_is_zero_filled_per_account_with_the_rest_as_other() -> None:
    hourly = hourly_rows([("2026-11-06 03:00", "a", "cspm", 10), ("2026-11-07 15:00", "a", "cspm", 5),
                          ("2026-11-06 09:00", "b", "cspm", 4), ("2026-11-06 09:00", "c", "cspm", 1),
                          ("2026-11-06 10:00", "c", "cspm", 2), ("2026-11-06 10:00", "a", "other", 99)])
    out = ct.cspm_hourly(hourly, accounts=1)
    # two whole days = 48 hours per series: a (15 reads), then b + c summed as "other accounts (2)"
    assert out.groupby("account_id", sort=False).size().to_dict() == {"a": 48, "other accounts (2)": 48}
    a = out[out["account_id"] == "a"].set_index("hour")["read_only_events"]
    assert a.sum() == 15 and (a == 0).sum() == 46  # the 'other' actor's 99 is not CSPM's
    assert a[pd.Timestamp("2026-11-06 03:00", tz="UTC")] == 10 and a[pd.Timestamp("2026-11-06 04:00", tz="UTC")] == 0
    other = out[out["account_id"] == "other accounts (2)"].set_index("hour")["read_only_events"]
    assert other[pd.Timestamp("2026-11-06 09:00", tz="UTC")] == 5 and other.sum() == 7
    assert list(dict.fromkeys(ct.cspm_hourly(hourly, accounts=2)["account_id"])) == ["a", "b", "c"]  # one left


def test_hourly_chart_is_one_panel_per_account_in_the_accounts_colour_with_its_window() -> None:
    hourly = ct.cspm_hourly(hourly_rows([("2026-11-06 03:00", "a", "cspm", 10), ("2026-11-08 09:00", "b", "cspm", 4)]))
    f = fig.cspm_hourly(hourly)
    assert [(t.name, t.yaxis, sum(t.y), len(t.y)) for t in f.data] == [("a", "y", 10, 72), ("b", "y2", 4, 72)]
    assert [t.line.color for t in f.data] == [style.account_color("a"), style.account_color("b")]
    assert "2026-11-06 to 2026-11-08" in f.layout.title.text


def test_an_account_has_one_colour_on_every_chart() -> None:
    daily = pd.DataFrame({"date": ["2026-11-06", "2026-11-07"], "account_id": ["607116248894", "379725360901"],
                          "region": ["r", "r"], "read_only_events": [1, 2], "read_only_bytes": [1, 1]})
    lines = fig.cspm_by_account_region(daily)
    hourly = fig.cspm_hourly(ct.cspm_hourly(hourly_rows([("2026-11-06 03:00", "607116248894", "cspm", 1)])))
    line = next(t for t in lines.data if t.name == "607116248894 / r")
    assert line.line.color == hourly.data[0].line.color == style.account_color("607116248894")
    assert style.account_color("607116248894") != style.account_color("379725360901")  # these two differ
    assert style.account_color("other accounts (3)") == style.OTHER_ACCOUNTS_COLOR
    assert "2026-11-06 to 2026-11-07" in lines.layout.title.text
