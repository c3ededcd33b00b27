"""Report tables on a laptop screen: ids behind names, long text cut with the full text on hover, `—` when missing."""

from __future__ import annotations

import re

import pandas as pd

from mdcnb.report.table_html import MAX_TEXT, html_table, id_names

SUB = "140005be-576c-48e4-91c3-73eef8103e08"


def cells(html: str) -> list[tuple[str | None, str]]:
    """(title, text) of every body cell."""
    return [(title or None, text) for title, text in re.findall(r'<td(?: class="\w+")?(?: title="([^"]*)")?>(.*?)</td>',
                                                                html)]


def headers(html: str) -> list[str]:
    return re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)


def test_an_id_with_a_name_beside_it_is_hidden_behind_the_name():
    df = pd.DataFrame({"control_id": ["c-1"], "control_name": ["Enable MFA"], "unhealthy": [17]})
    html = html_table(df, 10)
    assert headers(html) == ["control name", "unhealthy"]
    assert cells(html) == [("c-1", "Enable MFA"), (None, "17")]


def test_a_name_names_one_id_only_and_an_unnamed_id_is_shortened():
    df = pd.DataFrame({"resource_id": [f"/subscriptions/{SUB}/vms/vm-1"], "resource_name": ["vm-1"],
                       "subscription_id": [SUB], "account_id": ["607116248894"]})
    assert id_names(df.columns) == {"resource_id": "resource_name"}
    html = html_table(df, 10)
    assert headers(html) == ["resource name", "subscription id", "account id"]
    # the subscription has no name column: its first 8 characters, the full id on hover; a 12-digit id stays
    assert cells(html) == [(f"/subscriptions/{SUB}/vms/vm-1", "vm-1"), (SUB, "140005be…"), (None, "607116248894")]


def test_a_missing_name_shows_the_id_shortened():
    df = pd.DataFrame({"scope_id": ["/subscriptions/a", f"/subscriptions/{SUB}"], "name": ["prod", None]})
    assert cells(html_table(df, 10)) == [("/subscriptions/a", "prod"), (f"/subscriptions/{SUB}", "140005be…")]


def test_long_text_is_cut_with_the_full_text_on_hover_and_escaped():
    text = "<b>" + "x" * 200
    (title, shown), = cells(html_table(pd.DataFrame({"remediation": [text]}), 10))
    assert len(shown.replace("&lt;", "<").replace("&gt;", ">")) == MAX_TEXT and shown.endswith("…")
    assert title == "&lt;b&gt;" + "x" * 200 and "<b>" not in shown


def test_numbers_read_with_separators_and_only_the_first_rows_show():
    df = pd.DataFrame({"events": [14978, 2, 3], "share": [0.63469, 1.0, None]})
    assert cells(html_table(df, 2)) == [(None, "14,978"), (None, "63.5 %"), (None, "2"), (None, "100.0 %")]


def test_a_path_may_wrap_at_its_slashes():
    (_, shown), = cells(html_table(pd.DataFrame({"resource_type": ["microsoft.compute/virtualmachines"]}), 10))
    assert shown == "microsoft.compute/<wbr>virtualmachines"
