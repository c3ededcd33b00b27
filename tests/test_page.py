"""The page helpers: what a notebook shows (escaped, masked) and what it leaves for the report."""

from __future__ import annotations

import json
import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from report_notebooks import SUBSCRIPTION, XSS_NAME, write_dataset

from mdcnb.measures import registry
from mdcnb.report.page import HEADLINE_KEY, SKIPS_MIME, Page


@pytest.fixture(autouse=True)
def shell():
    """An IPython shell, so `display` publishes rich outputs the way it does in a kernel."""
    return InteractiveShell.instance()


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "ds")


def frame(rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"name": [XSS_NAME] + [f"vm-{i}" for i in range(1, rows)],
                         "subscription_id": [SUBSCRIPTION] * rows, "tags": [["a", "b"]] * rows,
                         "score": [0.5 * i for i in range(rows)]})


def shown_html(call) -> list[str]:
    with capture_output() as captured:
        call()
    return [o.data["text/html"] for o in captured.outputs if "text/html" in o.data]


def test_table_is_escaped_limited_and_exported(tmp_path, dataset):
    page = Page("10_x", report_dir=tmp_path / "r", dataset=dataset, max_rows=2)
    (html,) = shown_html(lambda: page.table(frame(5), "things", title=f"Title {XSS_NAME}"))
    assert XSS_NAME not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    assert "showing 2 of 5 rows" in html
    assert 'href="csv/10_x/things.csv"' in html
    exported = pd.read_csv(tmp_path / "r" / "csv" / "10_x" / "things.csv")
    assert len(exported) == 5 and exported["name"][0] == XSS_NAME and exported["tags"][0] == "a; b"


def test_large_table_csv_is_zipped_whole_and_replaces_the_plain_one(tmp_path, dataset, monkeypatch):
    """A CSV over the limit is written as `<name>.csv.zip` holding every row (a 2,000-subscription week folder
    stays small enough to send); a later, smaller table of the same name goes back to plain CSV."""
    monkeypatch.setattr("mdcnb.report.page.CSV_ZIP_BYTES", 2_000)
    page = Page("10_x", report_dir=tmp_path / "r", dataset=dataset)
    big = frame(400)                      # 400 rows of about 60 bytes: well over 2,000 bytes
    (html,) = shown_html(lambda: page.table(big, "things"))
    folder = tmp_path / "r" / "csv" / "10_x"
    assert 'href="csv/10_x/things.csv.zip"' in html and sorted(p.name for p in folder.iterdir()) == ["things.csv.zip"]
    exported = pd.read_csv(folder / "things.csv.zip")
    assert len(exported) == 400 and list(exported.columns) == ["name", "subscription_id", "tags", "score"]
    assert exported["score"].sum() == sum(0.5 * i for i in range(400))
    shown_html(lambda: page.table(frame(3), "things"))
    assert sorted(p.name for p in folder.iterdir()) == ["things.csv"]


def test_without_report_dir_nothing_is_written(tmp_path, dataset):
    page = Page("10_x", dataset=dataset)
    (html,) = shown_html(lambda: page.table(frame(), "things"))
    assert "href" not in html and "showing" not in html
    assert list(tmp_path.iterdir()) == [dataset]


def test_masked_page_masks_tables_figures_headlines_and_csv(tmp_path, dataset, monkeypatch):
    monkeypatch.setenv("MDCNB_MASK_KEY", "k")
    page = Page("10_x", report_dir=tmp_path / "r", dataset=dataset, mask_ids=True)
    fig = go.Figure(go.Bar(x=[f"/subscriptions/{SUBSCRIPTION}"], y=[1]))
    with capture_output() as captured:
        page.table(frame(), "t")
        page.figure(fig, "f", data=frame())
        page.measure("score.scopes", qualifier=SUBSCRIPTION)
        page.note("Subscription {sub} has {n} findings", sub=SUBSCRIPTION, n=3)
    everything = json.dumps([o.data for o in captured.outputs], default=str)
    everything += "".join(p.read_text() for p in (tmp_path / "r").rglob("*.*"))
    assert SUBSCRIPTION not in everything
    pseudonym = page.masker.pseudonym(SUBSCRIPTION)
    assert everything.count(pseudonym) >= 6


def test_headlines_come_from_the_registry_and_are_recorded_in_the_outputs(tmp_path):
    page = Page("10_x", report_dir=tmp_path, environments=["Azure"])  # the sample tenant
    with capture_output() as captured:
        page.measure("score.overall")
        page.measure("coverage.resources")
    snap, filters = page.snapshot(), registry.Filters(environments=("Azure",))
    score = registry.value("score.overall", snap, filters)
    records = [o.metadata[HEADLINE_KEY] for o in captured.outputs if HEADLINE_KEY in (o.metadata or {})]
    assert [(r["measure"], r["label"], r["value"], r["text"]) for r in records] == [
        ("score.overall", "Secure score", score, f"{score:.2f} %"),
        ("coverage.resources", "Resources assessed or inventoried (all environments)",
         registry.value("coverage.resources", snap), str(registry.value("coverage.resources", snap)))]
    shown = [o.data["text/html"] for o in captured.outputs if HEADLINE_KEY in (o.metadata or {})]
    assert shown[0] == f'<p class="mdcnb-headline"><b>Secure score:</b> {score:.2f} %</p>'
    assert not any(tmp_path.glob("headlines*")), "no side files"


def test_skips_are_recorded_in_the_outputs_for_the_index(tmp_path, dataset):
    page = Page("10_x", report_dir=tmp_path, dataset=dataset)
    with capture_output() as captured:
        page.skips(pd.DataFrame([{"source": "a.jsonl", "location": "line 3", "record_type": "assessments",
                                  "reason": "not JSON"}]))
        page.skips(pd.DataFrame(columns=["source", "location", "record_type", "reason"]))
    rows = [o.data[SKIPS_MIME] for o in captured.outputs if SKIPS_MIME in o.data]
    assert rows == [[{"source": "a.jsonl", "location": "line 3", "record_type": "assessments", "reason": "not JSON"}]]


def test_note_escapes_values_but_keeps_the_template():
    (html,) = shown_html(lambda: Page("x").note("<b>{n}</b> resources named {name}", n=2, name=XSS_NAME))
    assert html == "<p><b>2</b> resources named &lt;img src=x onerror=alert(1)&gt;</p>"


def test_note_writes_numbers_dates_and_code_the_report_way():
    (html,) = shown_html(lambda: Page("x").note("{files} files, window {first}; {hint}", files=12500,
                                                first=pd.Timestamp("2026-11-06 06:00", tz="UTC"),
                                                hint="run `mdcnb prices refresh` <now>"))
    assert html == "<p>12,500 files, window 2026-11-06; run <code>mdcnb prices refresh</code> &lt;now&gt;</p>"


def test_missing_values_show_as_a_dash() -> None:
    """Nullable columns (pandas prints their missing values as `<NA>`) show `—`; floats keep 2 decimals."""
    from mdcnb.report.page import html_table

    df = pd.DataFrame({"name": pd.array(["a", None], dtype="string"), "n": pd.array([1, None], dtype="Int64"),
                       "score": pd.array([0.125, None], dtype="Float64")})
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html_table(df, 10))
    assert cells == ["a", "1", "0.12", "—", "—", "—"]


def test_table_numbers_follow_the_formatting_convention() -> None:
    """Bytes in KB/MB/GB, shares (fractions) in % with one decimal, potential gains in signed points, whole-number
    floats without decimals, dates in ISO; a table of a measure takes that measure's column units."""
    from mdcnb.report.page import html_table

    df = pd.DataFrame({"read_bytes": [4_213_748, 950], "cspm_share_of_read_bytes": [0.607095926, 0.0],
                       "gain_points": [12.5, 3.0], "hours": [4.0, 24.0], "ratio_free": [2.345, 1.0],
                       "due_date": pd.to_datetime(["2026-11-06 06:00", "2026-12-15 00:00"], utc=True)})
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html_table(df, 10))
    assert cells == ["4.2 MB", "60.7 %", "+12.50 pts", "4", "2.35", "2026-11-06",
                     "950 bytes", "0.0 %", "+3.00 pts", "24", "1.00", "2026-12-15"]
    scopes = pd.DataFrame({"name": ["web"], "before": [30.89], "after": [24.22], "delta": [-6.67]})
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html_table(scopes, 10, "history.changes"))
    assert cells == ["web", "30.89 %", "24.22 %", "-6.67 pts"]
    costs = pd.DataFrame({"display": ["Defender CSPM"], "as configured": [275.94], "delta": [465.01]})
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html_table(costs, 10, "cost.plans_monthly", "EUR"))
    assert cells == ["Defender CSPM", "EUR 275.94", "EUR +465.01"]


def test_empty_table_is_one_sentence_and_its_csv_keeps_the_header(tmp_path, dataset):
    page = Page("10_x", report_dir=tmp_path / "r", dataset=dataset)
    empty = frame().iloc[0:0]
    (html,) = shown_html(lambda: page.table(empty, "none", title="Failing controls",
                                            empty="No failing controls in this scope."))
    assert html == '<p class="mdcnb-empty">No failing controls in this scope.</p>'
    (default,) = shown_html(lambda: page.table(empty, "none", title="Failing controls"))
    assert default == '<p class="mdcnb-empty">Failing controls: none.</p>'
    assert (tmp_path / "r" / "csv" / "10_x" / "none.csv").read_text().strip() == "name,subscription_id,tags,score"


def test_snippet_is_monospace_escaped_with_a_copy_button(dataset):
    page = Page("10_x", dataset=dataset)
    (html,) = shown_html(lambda: page.snippet("Splunk", f'index=x NOT "{XSS_NAME}"', "in props.conf"))
    assert '<button type="button" class="mdcnb-copy">Copy</button>' in html
    escaped = "index=x NOT &quot;&lt;img src=x onerror=alert(1)&gt;&quot;"
    assert f'<pre class="mdcnb-code"><code>{escaped}</code></pre>' in html
    assert XSS_NAME not in html and "<p>in props.conf</p>" in html
