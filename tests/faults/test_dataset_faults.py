"""Damaged datasets: each case is built from a copy of the clean sample tenant and must end in a counted skip naming the
file and what was lost, or in exit status 2 with one line naming the file. Never a traceback, never invalid JSON,
never a silently wrong number."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from pathlib import Path

import pytest
from azure_examples import dataset_from, example_items

from mdcnb.cli import main
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import load_tables

SCORES = "securescores.jsonl.gz"
SAMPLE_SCORES = 19  # securescores records of the sample (its manifest counts, and `zcat | wc -l` gives, 19)
SAMPLE_OVERALL = 38.59  # `mdcnb score --json` on the clean sample
ACCOUNT = "989808846884"  # the sample's organisation management account
SERVERS_ACCOUNT = "607116248894"  # a sample account with Defender for Servers and running instances


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MDCNB_TABLE_CACHE", "off")
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE_DATASET, target, ignore=shutil.ignore_patterns("cloudtrail", "history"))
    return target


def strict_json(text: str) -> dict:
    """JSON as every other parser reads it: NaN and Infinity are not JSON."""
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in JSON output")
    return json.loads(text, parse_constant=refuse)


def score_json(dataset: Path, capsys: pytest.CaptureFixture) -> tuple[dict, str]:
    assert main(["score", "--json", "--dataset", str(dataset)]) == 0
    out = capsys.readouterr()
    return strict_json(out.out), out.err


def one_line_error(dataset: Path, capsys: pytest.CaptureFixture, *args: str) -> str:
    """Run a command that must refuse the dataset: exit 2 and one line on stderr, nothing on stdout."""
    assert main([*args, "--dataset", str(dataset)]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mdcnb: ") and out.out == ""
    return lines[0]


def score_lines(dataset: Path) -> list[dict]:
    with gzip.open(dataset / SCORES, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def write_score_lines(dataset: Path, lines: list[str]) -> None:
    with gzip.open(dataset / SCORES, "wt", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def overall(records: list[dict]) -> float:
    """The combined secure score as DESIGN.md states it: sum round(w x current / max, 2) / sum w' (0 counts as 1)."""
    terms = [round(r["properties"]["weight"] * r["properties"]["score"]["current"] / r["properties"]["score"]["max"], 2)
             for r in records]
    weights = [r["properties"]["weight"] or 1 for r in records]
    return round(sum(terms) / sum(weights) * 100, 2)


# ------------------------------------------------------------------ record files

def test_corrupt_deflate_stream_is_a_skip_counting_the_lost_records(dataset, capsys):
    path = dataset / SCORES
    data = bytearray(path.read_bytes())
    data[40:60] = bytes(b ^ 0xFF for b in data[40:60])  # flipped bits early in the deflate stream
    path.write_bytes(bytes(data))
    inflater, damaged = zlib.decompressobj(16 + zlib.MAX_WBITS), False  # the stream really is broken
    for offset in range(len(data)):
        try:
            inflater.decompress(data[offset:offset + 1])
        except zlib.error:
            damaged = True
            break
    assert damaged

    tables = load_tables(dataset)
    read = len(tables.secure_scores)  # the whole records before the damage
    assert read < SAMPLE_SCORES
    (skip,) = tables.skips.itertuples(index=False)
    assert skip.source == str(path) and skip.record_type == "securescores"
    assert f"{read} of {SAMPLE_SCORES} record(s) read, {SAMPLE_SCORES - read} lost" in skip.reason
    document, err = score_json(dataset, capsys)
    assert len(document["scopes"]) == read and str(path) in err and "lost" in err


@pytest.mark.parametrize("damage", ["directory", "broken link"])
def test_a_record_file_that_is_no_file_is_a_skip_not_an_absent_file(dataset, capsys, damage):
    path = dataset / SCORES
    path.unlink()
    if damage == "directory":
        path.mkdir()
    else:
        path.symlink_to(dataset / "elsewhere.jsonl.gz")
    tables = load_tables(dataset)
    (skip,) = tables.skips.itertuples(index=False)
    assert skip.source == str(path) and skip.location == "file"
    assert ("directory" if damage == "directory" else "broken symbolic link") in skip.reason
    assert f"0 of {SAMPLE_SCORES} record(s) read, {SAMPLE_SCORES} lost" in skip.reason
    document, err = score_json(dataset, capsys)
    assert document["scopes"] == [] and str(path) in err


def test_plain_and_gzip_copies_of_one_record_type_are_refused(dataset, capsys):
    plain = dataset / "securescores.jsonl"
    plain.write_text(json.dumps(score_lines(dataset)[0]) + "\n")  # an older, shorter copy beside the .gz
    line = one_line_error(dataset, capsys, "score")
    assert str(plain) in line and "securescores.jsonl.gz" in line and "both exist" in line


# ------------------------------------------------------------------ manifest

@pytest.mark.parametrize(("content", "problem"), [
    (b'{"source": "sample", "scope": {"tenant_id": "caf\xe9"}}', "not valid UTF-8"),
    (b"[1, 2, 3]", "expected a JSON object, got a list"),
    (b'{"as_of": {"date": "2026-11-27"}}', "as_of must be an ISO-8601 time"),
    (b'{"counts": [19, 12]}', "counts must be an object"),
    (b'{"counts": {"securescores": NaN}}', "not JSON"),
    (b"\x1f\x8b\x08\x00garbage\x00\xff\xfe", "not"),
])
def test_a_damaged_manifest_stops_the_command_with_one_line(dataset, capsys, content, problem):
    (dataset / "manifest.json").write_bytes(content)
    line = one_line_error(dataset, capsys, "score")
    assert str(dataset / "manifest.json") in line and problem in line


# ------------------------------------------------------------------ records

def test_a_record_nested_a_thousand_levels_is_a_skip(dataset, capsys):
    records = score_lines(dataset)
    deep = json.dumps(records[0]).replace("ascScore", "deepScore")
    deep = deep[:-1] + ', "extra": ' + '{"x": ' * 1000 + '"bottom"' + "}" * 1000 + "}"  # 1,000 levels below the record
    write_score_lines(dataset, [json.dumps(r) for r in records] + [deep])
    skips = load_tables(dataset).skips
    assert skips[["location", "record_type"]].values.tolist() == [[f"line {SAMPLE_SCORES + 1}", "securescores"]]
    assert "nested deeper than" in skips.iloc[0]["reason"]
    document, _ = score_json(dataset, capsys)
    assert document["overall"]["percentage"] == SAMPLE_OVERALL


def test_a_weight_of_2_to_the_64_is_a_skip_of_its_record(dataset, capsys):
    records = score_lines(dataset)
    lines = [json.dumps(r) for r in records]
    lines[3] = lines[3].replace(f'"weight": {records[3]["properties"]["weight"]}', f'"weight": {2**64}')
    assert str(2**64) in lines[3]
    write_score_lines(dataset, lines)
    skips = load_tables(dataset).skips
    assert skips[["location", "record_type"]].values.tolist() == [["line 4", "securescores"]]
    document, err = score_json(dataset, capsys)
    kept = records[:3] + records[4:]
    assert len(document["scopes"]) == SAMPLE_SCORES - 1 and document["overall"]["percentage"] == overall(kept)
    assert "line 4" in err


@pytest.mark.parametrize(("field", "value"), [("current", "Infinity"), ("max", "NaN"), ("current", "-Infinity"),
                                              ("max", "1e999")])
def test_a_score_that_is_no_finite_number_is_a_skip(dataset, capsys, field, value):
    records = score_lines(dataset)
    records[0]["properties"]["score"][field] = value
    write_score_lines(dataset, [json.dumps(r) for r in records])
    skips = load_tables(dataset).skips
    assert skips[["location", "record_type"]].values.tolist() == [["line 1", "securescores"]]
    document, err = score_json(dataset, capsys)  # strict: no NaN or Infinity in the output
    assert len(document["scopes"]) == SAMPLE_SCORES - 1
    assert document["overall"]["percentage"] == overall(records[1:])  # not 37.06 (NaN max counted as 0 points)
    assert "line 1" in err and "finite" in err


def test_a_sample_figure_is_unchanged(dataset, capsys):
    document, err = score_json(dataset, capsys)
    assert document["overall"]["percentage"] == SAMPLE_OVERALL and err == ""


# ------------------------------------------------------------------ resource types

def test_assessed_resources_keep_their_provider_namespace(dataset):
    with gzip.open(dataset / "assessments.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = fh.readlines()
    vm = "/subscriptions/527dd316-6f4a-43d5-9eea-1e31852b4207/resourceGroups/rg/providers/Microsoft.Compute/" \
         "virtualMachines/vm1"
    exported = {  # the shape of a real continuous-export record (reference/azure-api.md, Sumo Logic MDC app)
        "id": f"{vm}/providers/Microsoft.Security/assessments/11111111-2222-3333-4444-555555555555",
        "name": "11111111-2222-3333-4444-555555555555",
        "properties": {"resourceDetails": {"source": "Azure", "id": vm, "resourceName": "vm1",
                                           "resourceType": "virtualMachines", "resourceProvider": "Microsoft.Compute",
                                           "nativeResourceId": vm},
                       "status": {"code": "NotApplicable", "cause": "UnsupportedPricingPlan"}}}
    with gzip.open(dataset / "assessments.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines([*lines, json.dumps(exported) + "\n"])
    assessments = load_tables(dataset).assessments.set_index("assessment_id")
    assert assessments.loc[exported["id"].lower(), "resource_type"] == "Microsoft.Compute/virtualMachines"
    ec2 = assessments[assessments["resource_id"].str.contains("/securityentitydata/aws-ec2-instance-")]
    assert len(ec2) and set(ec2["resource_type"]) == {"ec2/instance"}  # sample: ResourceProvider ec2, type instance
    recorded = load_tables(_recorded(dataset.parent / "recorded")).assessments
    assert len(recorded) == 15 and recorded["resource_type"].str.contains("/").all()


def _recorded(root: Path) -> Path:
    return dataset_from(root, assessments=example_items("recordings/SecurityAssessmentTests.GetAllAssessments-1.json"))


# ------------------------------------------------------------------ AWS inventory

def audit_json(dataset: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["aws", "audit", "--json", "--dataset", str(dataset)]) == 0
    return strict_json(capsys.readouterr().out)


def test_an_aws_inventory_file_nested_deeply_is_a_skip(dataset, capsys):
    path = dataset / "aws" / ACCOUNT / "iam_ListRoles.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    document = audit_json(dataset, capsys)
    assert [s["source"] for s in document["skips"]] == [str(path)]
    mine = {r["check_id"]: r for r in document["results"] if r["account_id"] == ACCOUNT}
    assert mine["identity.roles_exist"]["status"] == "could not check"


def test_aws_inventory_with_swapped_types_is_a_skip_and_could_not_check(dataset, capsys):
    roles = dataset / "aws" / ACCOUNT / "iam_ListRoles.json"
    calls = json.loads(roles.read_text())
    calls[0]["response"]["Roles"][0] = [calls[0]["response"]["Roles"][0]]  # a list where a role object belongs
    roles.write_text(json.dumps(calls))
    instances = dataset / "aws" / SERVERS_ACCOUNT / "ec2_DescribeInstances.json"
    calls = json.loads(instances.read_text())
    calls[0]["response"]["Reservations"] = {"Instances": []}  # an object where the list of reservations belongs
    instances.write_text(json.dumps(calls))
    document = audit_json(dataset, capsys)
    assert sorted((s["source"], s["location"]) for s in document["skips"]) == [
        (str(instances), "item 0"), (str(roles), "item 0")]
    results = {(r["account_id"], r["check_id"]): r for r in document["results"]}
    assert results[ACCOUNT, "identity.roles_exist"]["status"] == "could not check"  # pass on the clean sample
    assert "iam_ListRoles.json" in results[ACCOUNT, "identity.roles_exist"]["evidence"]
    assert results[SERVERS_ACCOUNT, "servers.ssm_managed"]["status"] == "could not check"  # fail on the clean sample
