"""Faults of the history store and the live pull's paging: a full disk, a store that cannot be read back after a
write, and a nextLink that spells the default HTTPS port. Each builds its bad input from a clean sample."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from azure_server import AzureTestService, serve, tls
from azure_tenant import build
from history_tenants import CLIENT, FAST, SECRET, TOKEN

from mdcnb.sources.azure import pull
from mdcnb.sources.azure_paging import PullOptions, _same_origin
from mdcnb.sources.dataset import SAMPLE_DATASET, read_manifest
from mdcnb.tables import history_weeks
from mdcnb.tables.history import HistoryStore

SAMPLE_WEEK = "2026-W48"


# --- a full disk ---------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MB filesystem (tmpfs): the sample's six weeks do not fit. Mounting needs root; elsewhere skipped."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_named_as_the_cause_and_the_earlier_weeks_stay_whole(small_disk):
    path = small_disk / "history.duckdb"
    said: list[str] = []
    assert history_weeks.record_run(SAMPLE_DATASET, path, log=said.append) is None
    (message,) = said
    assert message.startswith(f"history: snapshot not stored in {path}")
    assert "No space left on device" in message and "rollback" not in message.lower()
    # the weeks committed before the disk filled read back whole; the week that did not fit is not listed
    with HistoryStore(path, read_only=True) as store:
        snaps = store.snapshots()
        for snap in snaps:
            store.verify(snap)
    assert SAMPLE_WEEK not in [s.week for s in snaps]


_SIZE_LIMITED_WRITER = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from mdcnb.tables import history_weeks, load_tables

    week = Path(sys.argv[1])
    tables = load_tables(week)                    # the table cache is written before the limit
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
    said = []
    stored = history_weeks.record_run(week, sys.argv[2], tables=tables, log=said.append)
    print(stored is None, said[-1])
""")


def test_a_write_past_the_file_size_limit_is_named_as_the_cause(tmp_path):
    """The full-disk case where no small filesystem can be mounted (no root): an emulation, a real limit on the
    writer's file size (RLIMIT_FSIZE, 1 MB; one sample week needs about 2 MB) makes DuckDB's COMMIT fail the same
    way, with `File too large` instead of `No space left on device`."""
    path = tmp_path / "history.duckdb"
    done = subprocess.run([sys.executable, "-c", _SIZE_LIMITED_WRITER, str(SAMPLE_DATASET / "history" / "2026-W43"),
                           str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    refused, message = done.stdout.strip().split(" ", 1)
    assert refused == "True" and message.startswith(f"history: snapshot not stored in {path}")
    assert "File too large" in message and "rollback" not in message.lower()


# --- a store that cannot be read back after the write ----------------------------------------------------------------

def test_a_week_that_cannot_be_read_back_is_not_reported_stored(tmp_path, monkeypatch):
    """The file loses its tail between the write and the next open (a failing disk; emulated by truncating the real
    file as the writing connection closes): the run must not say the week was stored."""
    path, week = tmp_path / "history.duckdb", SAMPLE_DATASET / "history" / "2026-W43"  # one week: a dataset itself
    close = HistoryStore.close

    def close_then_lose_the_tail(store: HistoryStore) -> None:
        close(store)
        if not store.read_only and path.exists():
            with path.open("r+b") as fh:
                fh.truncate(300_000)

    monkeypatch.setattr(HistoryStore, "close", close_then_lose_the_tail)
    said: list[str] = []
    assert history_weeks.record_run(week, path, log=said.append) is None
    (message,) = said
    assert message.startswith(f"history: snapshot not stored in {path}: ") and "Could not read" in message


# --- nextLink spelling the default port --------------------------------------------------------------------------

@pytest.mark.parametrize("url, endpoint, same", [
    ("https://management.azure.com:443/x?a=1", "https://management.azure.com", True),
    ("https://management.azure.com/x", "https://management.azure.com:443", True),
    ("https://Management.Azure.com:443/x", "https://management.azure.com/", True),
    ("http://host:80/x", "http://host", True),
    ("https://management.azure.com:8443/x", "https://management.azure.com", False),
    ("http://management.azure.com:443/x", "https://management.azure.com", False),
    ("https://management.azure.com.evil.example/x", "https://management.azure.com", False),
    ("https://user@management.azure.com/x", "https://management.azure.com", False),
    ("https://management.azure.com:99999/x", "https://management.azure.com", False),
    ("file:///etc/passwd", "https://management.azure.com", False),
])
def test_same_origin_treats_the_default_port_as_omitted(url, endpoint, same):
    assert _same_origin(url, endpoint) is same


@pytest.mark.parametrize("endpoint, link_base", [
    ("https://127.0.0.1", "https://127.0.0.1:443"),   # nextLinks spell the default port, the endpoint omits it
    ("https://127.0.0.1:443", "https://127.0.0.1"),   # and the other way round
])
def test_next_links_that_spell_the_default_port_are_followed(tmp_path, endpoint, link_base):
    """The ARM test service on port 443 itself (root only, else skipped; the comparison is tested above), one item
    per ARM list page, so the 3 assessment metadata items need two nextLinks."""
    from azure.identity import ClientSecretCredential

    ctx, bundle = tls(tmp_path)
    served = tmp_path / "tenant"
    counts = build(served, subscriptions=2, vms_per_subscription=1)
    try:
        arm = serve(AzureTestService(served, page_size=1, token=TOKEN), ctx, port=443)
    except OSError as exc:
        pytest.skip(f"port 443 cannot be bound here: {exc}")
    aad = serve(AzureTestService(token=TOKEN, aad=True, client_secret=SECRET), ctx)
    arm.service.link_base = link_base
    try:
        credential = ClientSecretCredential("72f988bf-86f1-41af-91ab-2d7cd011db47", CLIENT, SECRET, authority=aad.url,
                                            disable_instance_discovery=True, connection_verify=str(bundle))
        pull(tmp_path / "out", arm_endpoint=endpoint, credential=credential,
             options=PullOptions(retry=FAST), connection_verify=str(bundle))
    finally:
        arm.stop()
        aad.stop()
    manifest = read_manifest(tmp_path / "out")
    assert manifest["complete"] is True, manifest["pull_log"]
    assert manifest["counts"]["assessmentmetadata"] == counts["assessmentmetadata"] == 3
    metadata_pages = [r for r in arm.service.requests if "assessmentmetadata" in r.path.lower()]
    assert len(metadata_pages) == 3
