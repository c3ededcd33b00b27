"""The column-by-column CSV of a big table is byte for byte what pandas writes (mdcnb.report.csv_columns)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest

from mdcnb.report.csv_columns import MIN_ROWS, PART_ROWS, columnwise_parts
from mdcnb.report.page import csv_ready, csv_text, formula_safe, write_csv

ROWS = MIN_ROWS + 123
AWKWARD = ["plain", "with, comma", 'a "quoted" word', "line\nbreak", "carriage\rreturn", "crlf\r\nend", "",
           "=SUM(A1)", "+1+2", "-3.5", "@cmd", "\tTAB", "\rCR first", "'already", "ünïcødé ✓", " space ", '"', ",",
           "-", "1e5", "+.5e-3", "=", "x" * 300]


def _neutralised(df: pd.DataFrame) -> pd.DataFrame:
    """`csv_ready` cells, text cells neutralised one by one (what `csv_text` hands the writers, cell by cell)."""
    out = csv_ready(df)
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column].dtype) or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(formula_safe, na_action="ignore")
    return out


def _reference(df: pd.DataFrame) -> str:
    """What pandas writes of the neutralised cells (the old path)."""
    return _neutralised(df).to_csv(index=False, lineterminator="\r\n")


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(AWKWARD), ROWS)
    text = np.array(AWKWARD, dtype=object)[pick]
    with_missing = text.copy()
    with_missing[rng.random(ROWS) < 0.1] = None
    unique_ids = [f"/subscriptions/{i:08d}/rg,{i % 7}/vm\"{i}" for i in range(ROWS)]
    floats = rng.normal(0, 1e6, ROWS)
    floats[rng.random(ROWS) < 0.1] = np.nan
    ints = pd.array(rng.integers(-5, 5, ROWS), dtype="Int64")
    ints[rng.random(ROWS) < 0.1] = pd.NA
    times = pd.Series(pd.date_range("2026-11-01", periods=ROWS, freq="37min", tz="UTC"))
    times[rng.random(ROWS) < 0.05] = pd.NaT
    lists = [[] if i % 5 == 0 else ["b,1", "=a", str(i)] if i % 3 else None for i in range(ROWS)]
    return pd.DataFrame({
        "object text": text, "missing": with_missing,
        "string": pd.array(with_missing, dtype="string"), "ids": unique_ids,
        "floats": floats, "round": np.round(floats, 2), "int": rng.integers(0, 10**12, ROWS),
        "nullable": ints, "flag": rng.random(ROWS) < 0.5, "when": times,
        "naive": pd.date_range("2026-01-01", periods=ROWS, freq="h"), "resources": lists,
        "dict": [{"k": i % 3, "v": "x,y"} if i % 4 else None for i in range(ROWS)],
    })



def _whole(frame: pd.DataFrame) -> str | None:
    """The whole text `columnwise_parts` gives, or None."""
    parts = columnwise_parts(frame)
    return None if parts is None else "".join(parts)

@pytest.mark.parametrize("seed", [1, 2])
def test_columnwise_text_is_what_pandas_writes(seed):
    df = _frame(seed)
    built = _whole(_neutralised(df))
    assert built is not None  # the frame is one it covers: the comparison below is of the new path
    assert built == _reference(df)
    assert csv_text(df) == _reference(df)


def test_a_row_of_empty_fields_and_odd_headers():
    df = pd.DataFrame({"a,b": [""] * ROWS, 'say "x"': pd.array([None] * ROWS, dtype="string"),
                       "n": [np.nan] * ROWS})
    assert _whole(_neutralised(df)) == _reference(df)
    assert _reference(df).splitlines()[1] == ",,"


def test_frames_it_does_not_cover_are_left_to_pandas():
    big = _frame(3)
    cases = {"few rows": big.head(MIN_ROWS - 1), "one column": big[["object text"]],
             "categorical": big.assign(c=pd.Categorical(big["object text"])),
             "mixed cells": big.assign(m=[1 if i % 2 else "=x" for i in range(ROWS)]),
             "set cells": big.assign(s=[{1, 2}] * ROWS)}
    for name, df in cases.items():
        assert _whole(_neutralised(df)) is None, name
        assert csv_text(df) == _reference(df), name


def test_big_table_quotes_and_neutralises_each_distinct_value_as_written_by_hand():
    """A table big enough for the column-wise writer: formulas get a leading quote (a plain number keeps its sign),
    a comma, a double quote or a line break is quoted with doubled quotes, a missing cell is an empty field."""
    cells = ["=SUM(A1)", "-3.5", "a,b", 'say "hi"', "x\r\ny", None, "plain", "+1e5", "@x", "-=x,y"]
    fields = ["'=SUM(A1)", "-3.5", '"a,b"', '"say ""hi"""', '"x\r\ny"', "", "plain", "+1e5", "'@x", "\"'-=x,y\""]
    rows = MIN_ROWS + 3
    df = pd.DataFrame({"text": pd.array([cells[i % len(cells)] for i in range(rows)], dtype="string"),
                       "n": range(rows)})
    expected = "text,n\r\n" + "".join(f"{fields[i % len(fields)]},{i}\r\n" for i in range(rows))
    assert csv_text(df) == expected


def test_distinct_ids_needing_quotes_or_a_formula_quote_are_found_in_any_chunk_of_values():
    """Ten thousand distinct ids, all plain but four, at the edges of the chunks of 4,096 values the writer
    searches at once: the last of the first chunk holds a double quote, the first of the second starts as a
    formula, one further on holds a comma and one in the third chunk starts as a formula."""
    rows = 10_000
    special = {4095: ('id"4095', '"id""4095"'), 4096: ("-x4096", "'-x4096"), 5000: ("id,5000", '"id,5000"'),
               9000: ("=id9000", "'=id9000")}
    cells = [special[i][0] if i in special else f"id-{i}" for i in range(rows)]
    fields = [special[i][1] if i in special else f"id-{i}" for i in range(rows)]
    df = pd.DataFrame({"id": pd.array(cells, dtype="string"), "n": range(rows)})
    assert csv_text(df) == "id,n\r\n" + "".join(f"{fields[i]},{i}\r\n" for i in range(rows))


def test_a_big_table_comes_in_pieces_of_whole_rows_as_written_by_hand():
    """Pieces of 2 rows: the header alone, then rows 0-1, 2-3, ...; joined, what pandas writes."""
    rows = MIN_ROWS + 1
    df = pd.DataFrame({"name": [f"r{i}" for i in range(rows)], "n": range(rows)})
    parts = list(columnwise_parts(df, rows=2))
    assert parts[:3] == ["name,n\r\n", "r0,0\r\nr1,1\r\n", "r2,2\r\nr3,3\r\n"]
    assert parts[-1] == f"r{rows - 1},{rows - 1}\r\n"  # an odd row count ends in a piece of one row
    assert len(parts) == 1 + (rows + 1) // 2
    assert "".join(parts) == df.to_csv(index=False, lineterminator="\r\n")


def test_write_csv_zips_a_big_table_written_in_pieces_and_leaves_a_small_one_plain(tmp_path):
    cells = ["=SUM(A1)", "a,b", None, "plain"]
    fields = ["'=SUM(A1)", '"a,b"', "", "plain"]
    rows = PART_ROWS * 2 + 7  # three pieces of rows
    df = pd.DataFrame({"text": pd.array([cells[i % 4] for i in range(rows)], dtype="string"), "n": range(rows)})
    expected = "text,n\r\n" + "".join(f"{fields[i % 4]},{i}\r\n" for i in range(rows))
    big = write_csv(df, tmp_path / "big.csv", zip_over=len(expected) - 1)
    assert big == tmp_path / "big.csv.zip" and not (tmp_path / "big.csv").exists()
    with zipfile.ZipFile(big) as archive:
        assert archive.namelist() == ["big.csv"]
        assert archive.read("big.csv") == expected.encode()
    plain = write_csv(df, tmp_path / "plain.csv", zip_over=len(expected))  # not larger than zip_over: plain
    assert plain == tmp_path / "plain.csv" and plain.read_bytes() == expected.encode()


_CSV_PEAK = textwrap.dedent("""
    import resource, tempfile
    from pathlib import Path
    import numpy as np, pandas as pd
    from mdcnb.report.page import write_csv
    rows = 200_000
    ids = np.array([f"/subscriptions/{i:08d}/resourcegroups/rg/providers/x/{i * 7919 % rows:08d}"
                    for i in range(rows)], dtype=object)
    frame = pd.DataFrame({f"c{k}": pd.array(ids, dtype="string") for k in range(4)} | {"n": np.arange(rows)})
    with tempfile.TemporaryDirectory() as tmp:
        write_csv(frame.head(10), Path(tmp) / "warm.csv", zip_over=2**20)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        write_csv(frame, Path(tmp) / "big.csv", zip_over=2**20)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
""")


def test_writing_a_big_tables_csv_never_holds_its_whole_text():
    """200,000 rows, 53 MB of CSV: building the text whole, then its bytes, took 134 MB more than the table (at
    2,000 subscriptions the unhealthy resources' CSV was 265 MB of a kernel's peak); piece by piece, well under."""
    done = subprocess.run([sys.executable, "-c", _CSV_PEAK], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 90, f"writing took {done.stdout.strip()} MB more"


def test_cells_sharing_one_list_or_dict_become_one_string():
    """Worked by hand: `a; b` and `{"k": 1}`, made once for the cells that share the object (the tables share equal
    lists: 67,000 lists of resources for 126,000 failing assessments), and an equal list of its own as equal text."""
    shared, info = ["a", "b"], {"k": 1}
    df = pd.DataFrame({"resources": [shared, shared, ["a", "b"], None], "extra": [info, None, info, "x"]})
    out = csv_ready(df)
    assert out["resources"][:3].tolist() == ["a; b", "a; b", "a; b"] and pd.isna(out["resources"][3])
    assert out["extra"][[0, 2, 3]].tolist() == ['{"k": 1}', '{"k": 1}', "x"] and pd.isna(out["extra"][1])
    assert out["resources"][0] is out["resources"][1] and out["extra"][0] is out["extra"][2]
