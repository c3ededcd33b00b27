"""The native reader of plain assessment lines (`_assessscan.c`): the codes and distinct values it gives for
hand-built lines, every line it must leave to msgspec, and a file of such lines read into exactly the per-row path's
rows and skips, with the native reader on and off. `make test` runs this file again with MDCNB_NATIVE=0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from azure_examples import dataset_from

from mdcnb.normalize import _assessscan, assessment_columns, assessment_shape, normalise_dataset, pooled
from mdcnb.sources.dataset import Span

SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"


def _taken(scanner: _assessscan.Scanner) -> dict[str, tuple[list[int], list]]:
    return {name: (np.frombuffer(codes, np.int32).tolist(), values)
            for name, (codes, values) in zip(assessment_shape.FIELDS, scanner.take(), strict=True)}


def test_each_field_is_coded_into_its_distinct_values() -> None:
    lines = [b'{"id":"A","name":"k1","properties":{"status":{"code":"Healthy","cause":null},"displayName":"t"}}\n',
             b'{"id":"B","name":null,"subscriptionId":"s","sku":null,"kind":"",'
             b'"properties":{"status": { "cause":"c" ,"code":"Healthy"},'
             b'"risk":{"level":"High", "x":[1.5e3,-0,"\\u00e9\\n"]}}}',
             b' { "id" : "C" , "name":"k1","properties":{"status":null,"metadata":"caf\xc3\xa9"}} \r\n']
    scanner = _assessscan.Scanner()
    assert [scanner.add(line) for line in lines] == [True, True, True]
    taken = _taken(scanner)
    assert taken["id"] == ([0, 1, 2], ["A", "B", "C"])
    assert taken["name"] == ([0, -1, 0], ["k1"])  # -1: null
    assert taken["subscriptionId"] == ([-1, 0, -1], ["s"])
    assert taken["displayName"] == ([0, -1, -1], ["t"])
    assert taken["status.code"] == ([0, 0, -1], ["Healthy"])  # a null status: its texts null
    assert taken["status.cause"] == ([-1, 0, -1], ["c"])
    assert taken["status.firstEvaluationDate"] == ([-1, -1, -1], [])
    assert taken["risk"] == ([0, 1, 0], [b"null", b'{"level":"High", "x":[1.5e3,-0,"\\u00e9\\n"]}'])  # raw: as written
    assert taken["metadata"] == ([0, 0, 1], [b"null", b'"caf\xc3\xa9"'])  # raw: bytes beyond ASCII passed
    assert taken["resourceDetails"] == ([0, 0, 0], [b"null"])
    assert scanner.add(lines[2])  # a take starts afresh
    assert _taken(scanner)["id"] == ([0], ["C"])


def _nested(depth: int) -> bytes:
    return b'{"x":' * depth + b"1" + b"}" * depth


REFUSED = {
    "escape in a text": b'{"id":"A\\u0041","properties":{}}',
    "escaped key": b'{"\\u0069d":"A","properties":{}}',
    "unknown key": b'{"id":"A","properties":{},"extra":1}',
    "key spelled otherwise": b'{"id":"A","Properties":{}}',
    "unknown property": b'{"id":"A","properties":{"Status":{}}}',
    "text beyond ASCII": '{"id":"A","name":"é","properties":{}}'.encode(),
    "text not UTF-8": b'{"id":"A","name":"\xff","properties":{}}',
    "number for text": b'{"id":"A","name":7,"properties":{}}',
    "object where only null is read": b'{"id":"A","sku":{},"properties":{}}',
    "null id": b'{"id":null,"properties":{}}',
    "no id": b'{"properties":{}}',
    "no properties": b'{"id":"A"}',
    "null properties": b'{"id":"A","properties":null}',
    "duplicate key": b'{"id":"A","id":"B","properties":{}}',
    "duplicate property": b'{"id":"A","properties":{"risk":null,"risk":null}}',
    "additional data": b'{"id":"A","properties":{"additionalData":{}}}',
    "truncated line": b'{"id":"A","properties":{"status":{"code":"Healthy"}',
    "escape in a status text": b'{"id":"A","properties":{"status":{"code":"\\u0048ealthy"}}}',
    "unknown status key": b'{"id":"A","properties":{"status":{"code":"Healthy","Cause":"x"}}}',
    "duplicate status key": b'{"id":"A","properties":{"status":{"code":"Healthy","code":"Healthy"}}}',
    "status of another type": b'{"id":"A","properties":{"status":"Healthy"}}',
    "number for a status text": b'{"id":"A","properties":{"status":{"code":1}}}',
    "malformed raw literal": b'{"id":"A","properties":{"links":{"azurePortal":tru}}}',
    "unknown escape in raw": b'{"id":"A","properties":{"links":{"azurePortal":"\\x"}}}',
    "short unicode escape in raw": b'{"id":"A","properties":{"links":{"azurePortal":"\\u12"}}}',
    "control character in raw": b'{"id":"A","properties":{"links":{"azurePortal":"a\tb"}}}',
    "leading zero in raw": b'{"id":"A","properties":{"risk":01}}',
    "bare minus in raw": b'{"id":"A","properties":{"risk":-}}',
    "mismatched bracket in raw": b'{"id":"A","properties":{"risk":[1}}}',
    "trailing comma in raw": b'{"id":"A","properties":{"risk":[1,]}}',
    "raw nested too deep": b'{"id":"A","properties":{"risk":' + _nested(63) + b"}}",
    "text after the record": b'{"id":"A","properties":{}} x',
    "not an object": b'[{"id":"A","properties":{}}]',
    "empty record": b"{}",
}


@pytest.mark.parametrize("line", REFUSED.values(), ids=REFUSED.keys())
def test_lines_not_of_the_plain_shape_are_left_whole_to_msgspec(line: bytes) -> None:
    """A line it refuses leaves nothing behind: the next line it takes is alone in the take."""
    scanner = _assessscan.Scanner()
    assert scanner.add(line) is False
    assert scanner.add(b'{"id":"Z","properties":{"risk":' + _nested(62) + b"}}")  # as deep as it reads
    taken = _taken(scanner)
    assert taken["id"] == ([0], ["Z"]) and taken["name"] == ([-1], [])
    assert {name: len(codes) for name, (codes, _) in taken.items()} == dict.fromkeys(assessment_shape.FIELDS, 1)


def _record(n: int, **top) -> dict:
    resource = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm{n}"
    return {"id": f"{resource}/providers/Microsoft.Security/assessments/k1", "name": "k1", "subscriptionId": SUB,
            "properties": {"resourceDetails": {"Source": "Azure", "Id": resource}, "displayName": "title k1",
                           "status": {"code": "Unhealthy"}, "metadata": {"severity": "Low"}}, **top}


@pytest.fixture
def odd_file(tmp_path: Path) -> Path:
    """Fifteen lines, chunks of three: plain lines and lines the native reader refuses or cannot finish."""
    lines = [orjson.dumps(_record(n)) for n in range(1, 16)]
    lines[3] = lines[3].replace(b'"name":"k1"', b'"name":"k\\u0031"')  # 4: an escape; msgspec reads it, a row
    lines[6] = orjson.dumps(_record(7, name=7))  # 7: a number for a text: the per-row path reads it, a row
    lines[7] = lines[7][:-5]  # 8: truncated: not JSON
    lines[8] = lines[0]  # 9: the id of line 1 again: a duplicate
    lines[9] = lines[9].replace(b'"name":"k1"', b'"name":"k\xff"')  # 10: not UTF-8 in a text: not JSON
    lines[10] = lines[10].replace(b'"Low"', b'"L\xffw"')  # 11: not UTF-8 in raw metadata: read, then not JSON
    lines[11] = orjson.dumps(_record(12, extra="x"))  # 12: an unknown key: the per-row path reads it, a row
    dataset_from(tmp_path, assessments=[])
    (tmp_path / "assessments.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path


@pytest.mark.parametrize("native", [True, False])
def test_refused_lines_give_the_per_row_rows_and_skips(odd_file: Path, monkeypatch, native: bool) -> None:
    if native and not assessment_shape.NATIVE:
        pytest.skip("MDCNB_NATIVE=0: the native reader is off")
    monkeypatch.setattr(assessment_columns, "CHUNK", 3)
    monkeypatch.setattr(assessment_shape, "NATIVE", native)
    by_msgspec = []  # the size of each chunk msgspec read column by column
    read = assessment_shape._fields
    monkeypatch.setattr(assessment_shape, "_fields", lambda records: by_msgspec.append(len(records)) or read(records))

    columnar = normalise_dataset(odd_file).frames()
    per_row = normalise_dataset(odd_file, columnar=False).frames()
    for name in per_row:
        pd.testing.assert_frame_equal(columnar[name], per_row[name], obj=name)
    first = _record(1)["id"].lower()
    assert [(s.location, s.reason.split(":")[0].split(" (")[0]) for s in columnar["skips"].itertuples()] == [
        ("line 8", "not JSON"), ("line 9", f"duplicate id {first}"), ("line 10", "not JSON"),
        ("line 11", "not JSON")]
    rows = columnar["assessments"]
    assert rows["assessment_id"].tolist() == [_record(n)["id"].lower() for n in (*range(1, 8), *range(12, 16))]
    assert rows["assessment_key"].tolist() == ["k1"] * 6 + ["7"] + ["k1"] * 4  # 7: the number read as text
    assert set(rows["severity"]) == {"Low"}
    # chunks (lines 8 and 10 are no records): 1-3 plain; 4-6 with an escape (msgspec); 7, 9, 11 with a number for
    # a text, a duplicate id, raw text orjson refuses (per row); 12-14 with an unknown key (per row); 15 plain
    assert by_msgspec == ([3] if native else [3, 3, 1])


@pytest.mark.parametrize(("setting", "native"), [(None, True), ("1", True), ("0", False)])
def test_mdcnb_native_0_turns_the_native_reader_off(setting: str | None, native: bool) -> None:
    """`make test` runs the assessment tests again with MDCNB_NATIVE=0: then msgspec reads every line."""
    env = {k: v for k, v in os.environ.items() if k != "MDCNB_NATIVE"} | ({} if setting is None
                                                                         else {"MDCNB_NATIVE": setting})
    probe = "from mdcnb.normalize import assessment_shape; print(assessment_shape.PlainReader().scanner is not None)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=env, check=True)
    assert out.stdout.decode().strip() == str(native)


def test_a_span_is_read_by_the_scanner_alone_then_as_any_file(tmp_path: Path, monkeypatch) -> None:
    """A span (as the pooled reader cuts them) is read by the scanner a block at a time, without the per-line
    reader, up to its first chunk that is not plain: blank lines, lines longer than a block, a last line without a
    newline; from the chunk with a duplicate id on, the general reader reads it, its lines numbered on."""
    if not assessment_shape.NATIVE:
        pytest.skip("MDCNB_NATIVE=0: the native reader is off")
    monkeypatch.setattr(assessment_columns, "CHUNK", 3)
    monkeypatch.setattr(assessment_columns, "BLOCK", 100)  # shorter than a line: the buffer grows to hold one
    records = [orjson.dumps(_record(n)) for n in range(1, 11)]
    escaped = records[8].replace(b'"name":"k1"', b'"name":"k\\u0031"')
    lines = [records[0], b"", records[1], b" \t\x0b\r", *records[2:6], records[0], records[6], records[7], escaped,
             records[9]]  # 1-5: records 1-3 and two blank lines; 6-8: 4-6; 9-11: 1 again, 7, 8; 12-13: 9, 10
    dataset_from(tmp_path, assessments=[])
    (tmp_path / "assessments.jsonl").write_bytes(b"\n".join(lines))
    general = []
    columns = assessment_columns._columns
    monkeypatch.setattr(assessment_columns, "_columns", lambda chunk, *rest: general.append(
        [item[0] for item in chunk]) or columns(chunk, *rest))

    span = Span(0, (tmp_path / "assessments.jsonl").stat().st_size)
    read = pooled._assessment_span(tmp_path, {}, span, {})
    frame, skips, _ = pooled._joined([read])
    assert general == [[9, 10, 11], [12, 13]]  # lines 1-8 were read by the scanner alone
    assert (read.lines, read.read) == (13, 11)
    per_row = normalise_dataset(tmp_path, columnar=False).frames()
    pd.testing.assert_frame_equal(frame, per_row["assessments"])
    assert [(s.location, s.reason) for s in skips] == [(s.location, s.reason) for s in per_row["skips"].itertuples()]
    assert [s.location for s in skips] == ["line 9"]
    assert frame["assessment_id"].tolist() == [_record(n)["id"].lower() for n in range(1, 11)]


def test_a_line_the_scanner_refuses_hands_its_chunk_of_a_span_to_the_general_reader(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    if not assessment_shape.NATIVE:
        pytest.skip("MDCNB_NATIVE=0: the native reader is off")
    monkeypatch.setattr(assessment_columns, "CHUNK", 3)
    lines = [orjson.dumps(_record(n)) for n in range(1, 8)]
    lines[4] = lines[4].replace(b'"name":"k1"', b'"name":"k\\u0031"')  # line 5, in the second chunk (4-6)
    dataset_from(tmp_path, assessments=[])
    (tmp_path / "assessments.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    general = []
    columns = assessment_columns._columns
    monkeypatch.setattr(assessment_columns, "_columns", lambda chunk, *rest: general.append(
        [item[0] for item in chunk]) or columns(chunk, *rest))

    read = pooled._assessment_span(tmp_path, {}, Span(0, (tmp_path / "assessments.jsonl").stat().st_size), {})
    frame, skips, _ = pooled._joined([read])
    assert general == [[4, 5, 6], [7]] and (read.lines, read.read) == (7, 7) and skips == []
    pd.testing.assert_frame_equal(frame, normalise_dataset(tmp_path, columnar=False).frames()["assessments"])


def _values(fields: assessment_shape.Fields) -> dict[str, list]:
    """Each field's value per row (None for null)."""
    return {name: [values[code] if code >= 0 else None for code in np.asarray(codes).tolist()]
            for name, (codes, values) in fields.coded.items()}


def test_every_line_it_takes_msgspec_reads_to_the_same_fields() -> None:
    """Every truncation of a full line and 3,000 random mutations of it (a byte replaced, removed or doubled): each
    line the scanner takes, msgspec reads too, and to the same values in every field."""
    import random

    record = _record(1) | {"type": "microsoft.security/assessments", "tenantId": "t", "kind": "", "location": "",
                           "resourceGroup": "", "managedBy": "", "sku": None, "plan": None, "tags": None,
                           "identity": None, "zones": None, "extendedLocation": None}
    record["properties"] |= {"links": {"azurePortal": "p"}, "risk": {"level": "High", "riskFactors": ["a", "b"]},
                             "statusPerInitiative": [{"policyInitiativeName": "x", "assessmentStatus": {"code": 1}}]}
    record["properties"]["status"] |= {"cause": "c", "firstEvaluationDate": "2026-11-01T00:00:00Z"}
    line = orjson.dumps(record)
    rng = random.Random(19)
    alphabet = b'{}[]":,\\ nul0-1e.taAx\xc3\xa9\xff\t'
    variants = [line[:n] for n in range(len(line) + 1)]
    for _ in range(3000):
        at = rng.randrange(len(line))
        byte = bytes([rng.choice(alphabet)])
        variants.append(rng.choice([line[:at] + byte + line[at + 1:], line[:at] + line[at + 1:],
                                    line[:at] + line[at:at + 1] * 2 + line[at + 1:]]))
    taken = 0
    for variant in variants:
        scanner = _assessscan.Scanner()
        if not scanner.add(variant):
            continue
        taken += 1
        decoded = assessment_shape.decoded(variant)
        assert type(decoded) is assessment_shape.Record, variant
        reader = assessment_shape.PlainReader(native=True)
        reader.scanner = scanner
        assert _values(reader.taken()) == _values(assessment_shape._fields([decoded])), variant
    assert taken > 1000  # mutations inside texts and raw values, still plain
