"""CloudTrail scan faults (issue 16): late duplicates, damaged gzip files, oversized plain files, unlistable folders.

Every bad input is built from clean logs (the sample tenant's, or `mdcnb.sample.cloudtrail_synth`'s) and every expected
figure is counted here from the records written, with the standard library, not by the scanner.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import random
import resource
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mdcnb.normalize.cloudtrail.counts import ScanOptions
from mdcnb.normalize.cloudtrail.identity import RoleMatcher
from mdcnb.sample.cloudtrail_synth import Builder, TrailAccount, log_key, write_account_logs
from mdcnb.sources.cloudtrail.layout import ReadError, list_local
from mdcnb.sources.cloudtrail.s3 import list_logs, s3_reader
from mdcnb.tables.cloudtrail import scan, volume

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "data" / "sample" / "cloudtrail"
ACCOUNT = "210987654321"
CSPM = f"arn:aws:iam::{ACCOUNT}:role/CspmMonitorAws"


def records_of(path: Path) -> list[dict[str, Any]]:
    return json.loads(gzip.decompress(path.read_bytes()))["Records"]


def is_cspm_read(rec: dict[str, Any]) -> bool:
    issuer = rec.get("userIdentity", {}).get("sessionContext", {}).get("sessionIssuer", {}).get("arn", "")
    return issuer.endswith(":role/CspmMonitorAws") and rec.get("readOnly") is True


def hand_count(root: Path) -> dict[str, int]:
    """Records, distinct eventIDs and distinct CSPM reads in every log file below `root`, read with json."""
    recs = [r for p in sorted(root.rglob("*.json.gz")) for r in records_of(p)]
    distinct = {r["eventID"]: r for r in recs}
    return {"records": len(recs), "events": len(distinct),
            "cspm_reads": sum(map(is_cspm_read, distinct.values()))}


def compact(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


# ---- a duplicate delivered days later, in another day's folder -----------------------------------------------
@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """Six days of one account in two regions, a file every 3 hours per region (16 files a day)."""
    acct = TrailAccount(ACCOUNT, ("us-east-1", "eu-west-1"), 6, CSPM, user_events_per_day=30)
    write_account_logs(tmp_path, Builder(random.Random(11)), acct, datetime(2026, 11, 1, tzinfo=UTC), 6,
                       delivery_hours=3)
    return tmp_path


@pytest.mark.parametrize(("files_per_task", "processes"), [(1, 1), (8, 2)])
def test_duplicate_three_days_later_in_another_days_folder_is_counted_once(
        trail: Path, monkeypatch: pytest.MonkeyPatch, files_per_task: int, processes: int) -> None:
    clean = hand_count(trail)
    assert clean["records"] == clean["events"]  # the synthetic trail holds no duplicate of its own
    first = sorted((trail / f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/01").glob("*.json.gz"))[0]
    nov1 = records_of(first)
    read = next(r for r in nov1 if is_cspm_read(r))
    other = next(r for r in nov1 if not is_cspm_read(r))
    new = dict(read, eventID="0e8d6c1a-5b4f-4d3e-9a2b-1c0d9e8f7a6b")  # a Nov 1 read first delivered on Nov 4
    late = [(datetime(2026, 11, 4, 9, 5, tzinfo=UTC), [read, other, new]),  # 3 days after its day
            (datetime(2026, 11, 5, 9, 5, tzinfo=UTC), [read])]              # and again a day later
    for delivered, recs in late:
        path = trail / log_key(ACCOUNT, "us-east-1", delivered, "LATECOPY00000000")
        path.write_bytes(gzip.compress(compact(recs)))
    # by hand: 4 records added, one of them (new) a new event, so 3 copies of events already counted
    assert hand_count(trail) == {"records": clean["records"] + 4, "events": clean["events"] + 1,
                                 "cspm_reads": clean["cspm_reads"] + 1}
    monkeypatch.setattr(scan, "FILES_PER_TASK", files_per_task)
    s = volume(trail, processes=processes).summary()
    assert s["events_total"] == clean["events"] + 1
    assert s["cspm_read_events"] == clean["cspm_reads"] + 1
    assert s["duplicates_dropped"] == 3
    assert s["late_events_not_deduplicated"] == 0 and s["files_skipped"] == []
    # the Nov 5 copy at least comes after Nov 1's ids were forgotten (margin 1 day): the second pass caught it
    assert s["late_events_checked"] >= 1 and s["tasks_reread_for_late_events"] >= 1
    if files_per_task == 1:  # one task per file: every record of the two late files was checked late
        assert s["late_events_checked"] == 4


def test_late_check_names_a_day_it_could_not_finish(trail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of the late day's early tasks that changes between the two passes: the late copy is counted, and the
    result says so (never a silent miscount)."""
    first = sorted((trail / f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/01").glob("*.json.gz"))[0]
    copy = records_of(first)[0]
    trail.joinpath(log_key(ACCOUNT, "us-east-1", datetime(2026, 11, 5, 9, 5, tzinfo=UTC), "LATECOPY00000000")
                   ).write_bytes(gzip.compress(compact([copy])))
    monkeypatch.setattr(scan, "FILES_PER_TASK", 1)
    clean = hand_count(trail)
    real_consume = scan._consume

    def consume_then_damage(*args: Any) -> None:
        real_consume(*args)
        first.write_bytes(b"gone")  # the file that held the original is unreadable for the second pass
    monkeypatch.setattr(scan, "_consume", consume_then_damage)
    s = volume(trail, processes=1).summary()
    assert s["events_total"] == clean["events"] + 1  # the copy could not be checked: counted, and reported
    assert s["late_events_not_deduplicated"] == 1
    assert [x["path"] for x in s["files_skipped"]] == ["events of 2026-11-01 delivered late"]


# ---- damaged gzip ----------------------------------------------------------------------------------------------
def sample_records(days: str = "0[5-9]") -> list[dict[str, Any]]:
    """The records of one sample account's us-east-1 folders of some days of November (a few hundred)."""
    folder = SAMPLE_LOGS / "AWSLogs/o-c0nt0s0a1b/607116248894/CloudTrail/us-east-1/2026/11"
    return [r for p in sorted(folder.glob(f"{days}/*.json.gz")) for r in records_of(p)]


def test_truncated_gzip_counts_the_records_before_the_cut_and_estimates_the_loss(tmp_path: Path) -> None:
    records = sample_records()
    text = compact(records)
    blob = gzip.compress(text)
    cut = blob[:len(blob) * 3 // 5]
    inflated = len(zlib.decompressobj(wbits=31).decompress(cut))  # the text before the cut
    # each record's span in the text, from the lengths written: complete ones end before the cut
    spans, start = [], len('{"Records":[')
    for rec in records:
        end = start + len(json.dumps(rec, separators=(",", ":")))
        spans.append((start, end))
        start = end + 1
    complete = [rec for rec, (_, end) in zip(records, spans, strict=True) if end <= inflated]
    cut_through = sum(1 for s, e in spans if s < inflated < e)
    assert 100 < len(complete) < len(records) - 100 and cut_through == 1
    path = tmp_path / log_key("607116248894", "us-east-1", datetime(2026, 11, 9, 12, 5, tzinfo=UTC), "TRUNCATED0000000")
    path.parent.mkdir(parents=True)
    path.write_bytes(cut)
    s = volume(tmp_path, processes=1).summary()
    assert s["events_total"] == len(complete)
    assert s["cspm_read_events"] == sum(map(is_cspm_read, complete))
    assert s["records_lost_estimate"] == 1
    [skip] = s["files_skipped"]
    assert skip["path"] == str(path)
    assert skip["reason"].startswith("truncated gzip (end of stream missing): ~1 record(s) lost (estimate); "
                                     f"the {len(complete)} complete record(s) before the cut are counted")


def test_corrupt_gzip_is_all_or_nothing_with_an_estimate_from_the_bytes_read(tmp_path: Path) -> None:
    records = sample_records()
    blob = bytearray(gzip.compress(compact(records)))
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte half-way: deflate notices it, at the latest at the CRC
    path = tmp_path / "AWSLogs/607116248894/CloudTrail/us-east-1/2026/11/09/corrupt.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(blob))
    s = volume(tmp_path, processes=1).summary()
    assert s["events_total"] == 0
    [skip] = s["files_skipped"]
    assert skip["reason"].startswith("corrupt gzip (")
    assert "all-or-nothing: none of the file's records is counted" in skip["reason"]
    assert f"~{s['records_lost_estimate']} record(s) lost (estimate" in skip["reason"]
    assert 0.5 * len(records) <= s["records_lost_estimate"] <= 1.5 * len(records)


# ---- checks made in a forked child: as an unprivileged user, or with little address space --------------------
def in_child(fn: Callable[[], Any], *, uid: int | None = None, address_space: int | None = None) -> Any:
    """fn() run in a forked child (as `uid`, or with RLIMIT_AS `address_space` more bytes than now); its result,
    or the exception it raised."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(reader)
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
            if address_space is not None:
                size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
                resource.setrlimit(resource.RLIMIT_AS, (size + address_space, size + address_space))
            try:
                out = ("ok", fn())
            except BaseException as exc:  # handed to the parent, which raises it
                out = ("error", f"{type(exc).__name__}: {exc}")
            with os.fdopen(writer, "wb") as fh:
                fh.write(pickle.dumps(out))
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status != "ok":
        raise AssertionError(f"in the child: {value}")
    return value


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mdcnb-faults-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def test_unlistable_folder_and_broken_symlink_are_named_skips(shared_dir: Path) -> None:
    account = "o-c0nt0s0a1b/607116248894"
    source = SAMPLE_LOGS / f"AWSLogs/{account}/CloudTrail/us-east-1/2026/11"
    target = shared_dir / f"AWSLogs/{account}/CloudTrail/us-east-1/2026/11"
    for day in ("09", "10", "11"):
        shutil.copytree(source / day, target / day)
    for p in [shared_dir, *shared_dir.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    readable = hand_count(target / "09")["events"] + hand_count(target / "11")["events"]
    (target / "10").chmod(0o000)  # its listing is denied (to anyone but root: the scan runs as nobody below)
    dangling = target / "11" / "607116248894_CloudTrail_us-east-1_20261111T2355Z_GONE000000000000.json.gz"
    dangling.symlink_to(shared_dir / "nowhere.json.gz")

    def scan_tree() -> dict[str, Any]:
        return volume(shared_dir, processes=1).summary()

    s = in_child(scan_tree, uid=65534) if os.geteuid() == 0 else scan_tree()
    skipped = {x["path"]: x["reason"] for x in s["files_skipped"]}
    assert skipped == {str(target / "10"): "cannot list folder (Permission denied)",
                       str(dangling): f"broken symlink (target {shared_dir / 'nowhere.json.gz'} missing)"}
    assert s["events_total"] == readable


def test_a_plain_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    """A plain file of 4 GiB (sparse) with a limit of 1 MiB, scanned with 512 MiB of address space to spare:
    reading it whole would fail; its size is checked first, so it is a counted skip."""
    big = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/big.json"
    big.parent.mkdir(parents=True)
    with big.open("wb") as fh:
        fh.write(b'{"Records":[')
        fh.truncate(4 << 30)
    small = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/small.json.gz"
    small.write_bytes(gzip.compress(compact(sample_records()[:5])))
    opts = ScanOptions(RoleMatcher.build([]), max_file_bytes=1 << 20)

    def scan_tree() -> dict[str, Any]:
        return scan.scan_files(list_local(tmp_path), opts, processes=1).summary()

    s = in_child(scan_tree, address_space=512 << 20)
    assert s["files_skipped"] == [{"path": str(big), "reason": f"larger than {1 << 20} bytes"}]
    assert s["events_total"] == 5


def test_a_plain_s3_object_over_the_size_limit_is_not_fetched() -> None:
    """Against moto's S3 on 127.0.0.1: an object listed over the limit is fetched whole only when its first two
    bytes (a ranged GET) show gzip; plain text that large is a counted skip, its body never requested."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket="trail")
        folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02"
        gz = gzip.compress(os.urandom(3000))  # incompressible: over the limit compressed too
        client.put_object(Bucket="trail", Key=f"{folder}/plain.json", Body=b'{"Records":[' + b" " * 5000 + b"]}")
        client.put_object(Bucket="trail", Key=f"{folder}/packed.json.gz", Body=gz)
        sent: list[tuple[str, bytes | None]] = []  # the GETs as sent: (object name, Range header)
        client.meta.events.register("before-send.s3.GetObject", lambda request, **_: sent.append(
            (request.url.rsplit("/", 1)[1], request.headers.get("Range"))))
        plain, packed = sorted(list_logs(client, "trail", ""), key=lambda f: f.location, reverse=True)
        read = s3_reader(client, "trail", max_bytes=1000)
        with pytest.raises(ReadError, match=r"^larger than 1000 bytes$"):
            read(plain)
        assert read(packed) == gz
        assert sent == [("plain.json", b"bytes=0-1"), ("packed.json.gz", b"bytes=0-1"), ("packed.json.gz", None)]
    finally:
        server.stop()
