"""`mdcnb prices refresh` against a real loopback HTTPS server serving bad bodies: a clear one-line error (exit 2) and
no table written, or a table that holds only finite, non-negative prices. Never a traceback, never unbounded."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from loopback_https import https_server

from mdcnb.cli import main
from mdcnb.sources import retail_prices
from mdcnb.sources.prices import PRICES_DIR, load_price_table
from mdcnb.sources.retail_prices import FetchLog, RetailPricesError

BASE = sorted(PRICES_DIR.glob("prices-*-USD.json"))[-1]  # the clean table the sample ships


def item(meter: str, price: object, unit: str = "1 Hour") -> dict:
    return {"productName": "Microsoft Defender for Servers", "meterName": meter, "retailPrice": price,
            "unitOfMeasure": unit, "armRegionName": "Global", "type": "Consumption", "skuName": "Standard",
            "meterId": f"m-{meter}", "effectiveStartDate": "2026-10-01T00:00:00Z"}


GOOD = {"Items": [item("Standard P1 Node", 0.0062), item("Standard P2 Node", 0.0185)], "NextPageLink": None}


def refresh(server, out: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
            *extra: str) -> tuple[int, str, str]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_path)
    code = main(["prices", "refresh", "--currency", "EUR", "--endpoint", f"{server.base_url}/api/retail/prices",
                 "--base", str(BASE), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(code: int, out: str, err: str, folder: Path) -> str:
    """The refresh failed cleanly: status 2, one line on stderr, nothing written."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mdcnb: ") and out == ""
    assert not folder.exists() or not any(folder.iterdir())
    return lines[0]


@pytest.mark.parametrize(("body", "problem"), [
    (b"[1, 2, 3]", "expected a JSON object with Items, got list"),
    (b'{"Items": "prices"}', "Items is str, not a list"),
    (b'{"Items": [7, {"retailPrice": 1}]}', "item 0 is int, not an object"),
    (b'{"Items": [], "NextPageLink": 42}', "NextPageLink is int, not a URL"),
    (b'{"Items": [{"retailPrice": Infinity}]}', "not JSON"),
    (b"\x00\xff garbage \xfe", "not JSON"),
    (b'{"Items": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "not JSON"),
])
def test_a_body_of_the_wrong_type_is_a_one_line_error(tmp_path, capsys, monkeypatch, body, problem):
    with https_server(lambda request: (200, {}, body), tmp_path) as server:
        line = refused(*refresh(server, tmp_path / "out", capsys, monkeypatch), tmp_path / "out")
    assert problem in line and "page 1" in line


def test_only_finite_non_negative_prices_are_kept(tmp_path, capsys, monkeypatch):
    page = {"Items": [item("Standard P1 Node", "Infinity"), item("Standard P1 Node", "12"),
                      item("Standard P2 Node", -5.0), item("Standard P2 Node", True), item("Standard P2 Node", 0.0185)],
            "NextPageLink": None}
    text = json.dumps(page).replace('"retailPrice": "12"', '"retailPrice": 1e999')  # a number that overflows to inf
    with https_server(lambda request: (200, {}, text.encode()), tmp_path) as server:
        code, _, err = refresh(server, tmp_path / "out", capsys, monkeypatch)
    assert code == 0
    # 4 services asked, each got the first 4 items: every one has a price that is no finite, non-negative number
    assert "16 item(s) ignored" in err
    (written,) = (tmp_path / "out").iterdir()
    table = json.loads(written.read_text(), parse_constant=lambda token: pytest.fail(f"{token} in the table"))
    prices = [row[c] for row in table["rows"] for c in ("hourly_price", "monthly_price", "usage_price")
              if row[c] is not None]
    assert prices and all(p >= 0 for p in prices)
    p2 = next(r for r in table["rows"] if r["plan"] == "VirtualMachines" and r["sub_plan"] == "P2")
    assert p2["hourly_price"] == 0.0185  # the one usable item
    p1 = next(r for r in table["rows"] if r["plan"] == "VirtualMachines" and r["sub_plan"] == "P1")
    assert "no meter" in p1["note"]  # no usable P1 item: not priced from the API


@pytest.mark.parametrize("link", ["https://example.invalid/api/retail/prices?page=2", "file:///etc/passwd",
                                  "http://{host}/api/retail/prices?page=2", "https://{host}.evil.test/next",
                                  "https://127.0.0.1:1/api/retail/prices?page=2"])
def test_next_page_link_is_followed_only_to_the_same_host_over_https(tmp_path, capsys, monkeypatch, link):
    def pages(request):
        return 200, {}, {**GOOD, "NextPageLink": link.format(host=request.headers["host"].split(":")[0])}

    with https_server(pages, tmp_path) as server:
        line = refused(*refresh(server, tmp_path / "out", capsys, monkeypatch), tmp_path / "out")
        assert len(server.requests) == 1
    assert "NextPageLink" in line and "not followed" in line


def test_next_page_link_on_the_same_host_is_followed(tmp_path, capsys, monkeypatch):
    def pages(request):
        if "page=2" in request.path:
            return 200, {}, GOOD
        return 200, {}, {"Items": [], "NextPageLink": f"https://{request.headers['host']}/api/retail/prices?page=2"}

    with https_server(pages, tmp_path) as server:
        code, out, _ = refresh(server, tmp_path / "out", capsys, monkeypatch)
        assert code == 0 and len(server.requests) == 4 * 2  # 4 services, 2 pages each
    assert "2 of" in out


def endless(chunk: int, seconds: float, limit: int, pause: float = 0.0) -> Iterator[bytes]:
    """A body that never closes its JSON: `chunk`-byte pieces `pause` seconds apart, until `limit` bytes or `seconds`
    (the server's own stop)."""
    yield b'{"Items": ['
    sent, start = 0, time.monotonic()
    piece = json.dumps(item("Standard P1 Node", 0.0062)).encode() + b","
    data = piece * (chunk // len(piece) + 1)
    while sent < limit and time.monotonic() - start < seconds:
        yield data[:chunk]
        sent += chunk
        time.sleep(pause)


def test_an_endless_chunked_body_is_cut_at_the_page_size(tmp_path, capsys, monkeypatch):
    def handler(request):
        return 200, {}, endless(64 << 10, seconds=60, limit=64 << 20)

    start = time.monotonic()
    with https_server(handler, tmp_path) as server:
        line = refused(*refresh(server, tmp_path / "out", capsys, monkeypatch), tmp_path / "out")
    assert f"larger than {retail_prices.Limits().page_bytes:,} bytes" in line and time.monotonic() - start < 50


def test_a_trickling_body_stops_at_the_deadline(tmp_path):
    def handler(request):
        return 200, {}, endless(256, seconds=30, limit=1 << 30, pause=0.05)

    start = time.monotonic()
    with https_server(handler, tmp_path) as server, pytest.raises(RetailPricesError, match="longer than 2 s"):
        list(retail_prices.fetch_items("x", endpoint=server.base_url, connection_verify=server.ca_path,
                                       limits=retail_prices.Limits(seconds=2)))
    assert time.monotonic() - start < 10


def test_the_skip_fallback_is_bounded_in_bytes(tmp_path):
    full = {"Items": [{**item(f"meter {n}", 1.0), "padding": "x" * 2000} for n in range(100)], "NextPageLink": None}

    with https_server(lambda request: (200, {}, full), tmp_path) as server:  # full pages without a link, forever
        with pytest.raises(RetailPricesError, match="in all"):
            list(retail_prices.fetch_items("x", endpoint=server.base_url, connection_verify=server.ca_path,
                                           limits=retail_prices.Limits(total_bytes=1 << 20), log=FetchLog()))
        page = len(json.dumps(full))
        assert len(server.requests) == (1 << 20) // page + 1  # stopped on the page that crossed 1 MiB


def test_a_failed_write_leaves_the_old_table_untouched(tmp_path):
    """A refresh whose write fails (here the file size limit, as a full disk would) keeps yesterday's bytes."""
    out = tmp_path / "out"
    out.mkdir()
    today = datetime.now(UTC).date().isoformat()
    old = out / f"prices-{today}-EUR.json"
    shutil.copyfile(BASE, old)
    before = old.read_bytes()

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    with https_server(lambda request: (200, {}, GOOD), tmp_path) as server:
        env = {**os.environ, "REQUESTS_CA_BUNDLE": server.ca_path, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([sys.executable, "-m", "mdcnb", "prices", "refresh", "--currency", "EUR",
                               "--endpoint", f"{server.base_url}/api/retail/prices", "--base", str(BASE),
                               "--out", str(out)], env=env, capture_output=True, text=True, preexec_fn=limited,
                              timeout=120)
    assert len(before) > 4096 and old.read_bytes() == before
    assert done.returncode == 1 and "Traceback" not in done.stderr and "untouched" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [old.name]  # no temporary file left behind
    assert load_price_table(old).name == json.loads(before)["name"]
