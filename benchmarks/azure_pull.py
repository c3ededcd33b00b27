"""Benchmark of the live Azure pull on a generated tenant served by the loopback test service.

    .venv/bin/python benchmarks/azure_pull.py                 # 2,000 subscriptions, >= 1,000,000 assessments
    .venv/bin/python benchmarks/azure_pull.py --scale 200     # a quicker look

Generates the tenant once with `mdcnb sample --scale N` (kept in .benchmarks/), serves it from
`tests/azure_server.py` in a separate process (so the figures are the client's), pulls it with the default
options and prints: requests sent against the lower bound (pages of 1,000 rows per query, ARM list pages), pull
throughput, rows per second through normalisation (`load_tables`) and peak memory. Targets: requests <= 1.05 x the
lower bound; peak memory of the pull < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from azure.core.credentials import AccessToken

from mdcnb.sources.azure import pull
from mdcnb.sources.azure_paging import PullOptions
from mdcnb.sources.azure_queries import CLASSIC_CONNECTORS, RESOURCES, SECURITY, SUBSCRIPTIONS
from mdcnb.sources.dataset import RECORD_TYPES, read_manifest
from mdcnb.tables import load_tables

ROOT = Path(__file__).resolve().parent.parent
PAGE = 1000
TOKEN = "bench-token"


class BenchToken:
    """The test service checks one fixed bearer token; token issuance is not what is measured here."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


def tenant(scale: str) -> Path:
    path = ROOT / ".benchmarks" / f"tenant-{scale}"
    if not (path / "manifest.json").exists():
        print(f"generating the tenant (mdcnb sample --scale {scale}) in {path} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "mdcnb", "sample", "--scale", scale, "--weeks", "1", "--plain", "--out",
                        str(path)], check=True)
    return path


def rows_by_type(dataset: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Rows per lower-case ARM type in the given record files (counted here, independently of the pull)."""
    counts: dict[str, int] = {}
    for name in names:
        path = dataset / f"{name}.jsonl"
        if path.exists():
            with path.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        t = str(orjson.loads(line).get("type", "")).lower()
                        counts[t] = counts.get(t, 0) + 1
    return counts


def lower_bound(dataset: Path) -> dict[str, int]:
    """Fewest requests any client needs: per query ceil(rows / 1000) (at least 1), ARM lists one per page."""
    counts = rows_by_type(dataset, ("subscriptions", "securityconnectors", "resources", "assessmentmetadata",
                                    *sorted(set(SECURITY.types.values()))))
    subs = counts.get("microsoft.resources/subscriptions", 0)
    arg = sum(max(1, math.ceil(sum(counts.get(t, 0) for t in q.types) / PAGE))
              for q in (SUBSCRIPTIONS, SECURITY, RESOURCES))
    metadata = max(1, math.ceil(counts.get("microsoft.security/assessmentmetadata", 0) / PAGE))
    return {"resourcegraph": arg, "arm": metadata + subs * CLASSIC_CONNECTORS.per_subscription,
            "assessments": counts.get("microsoft.security/assessments", 0), "subscriptions": subs}


def serve(dataset: Path) -> tuple[subprocess.Popen, dict]:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "azure_server.py"), str(dataset),
                               "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    info = json.loads(server.stdout.readline())
    return server, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="2000", help="subscriptions of the generated tenant (default 2000)")
    parser.add_argument("--dataset", type=Path, help="serve this dataset instead of generating one")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    dataset = args.dataset or tenant(args.scale)
    bound = lower_bound(dataset)
    if bound["assessments"] < 1_000_000:
        print(f"note: this tenant holds {bound['assessments']:,} assessments, fewer than the 1,000,000 the targets "
              "are set for", file=sys.stderr)
    started = time.monotonic()
    server, info = serve(dataset)
    print(f"test service up in {time.monotonic() - started:.1f} s at {info['url']}", file=sys.stderr)
    out = Path(tempfile.mkdtemp(prefix="azure-pull-bench-"))
    try:
        t0 = time.monotonic()
        pull(out, arm_endpoint=info["url"], credential=BenchToken(), connection_verify=info["ca"],
             options=PullOptions(workers=args.workers))
        pull_seconds = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    pull_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    manifest = read_manifest(out)
    rows = sum(manifest["counts"].values())
    by_kind = manifest["requests"]["by_kind"]
    arg, arm = by_kind.get("resourcegraph", 0), by_kind.get("arm", 0)
    bound_total = bound["resourcegraph"] + bound["arm"]
    print(f"tenant: {bound['subscriptions']:,} subscriptions, {bound['assessments']:,} assessments, "
          f"{rows:,} rows pulled; complete={manifest['complete']} (pull log entries: {len(manifest['pull_log'])})")
    print(f"requests: {arg + arm:,} vs lower bound {bound_total:,} -> ratio {(arg + arm) / bound_total:.3f} "
          "(target <= 1.05)")
    print(f"  resource graph: {arg:,} vs {bound['resourcegraph']:,} -> {arg / bound['resourcegraph']:.3f}; "
          f"ARM lists: {arm:,} vs {bound['arm']:,}; throttled {manifest['requests']['throttled']}, "
          f"quota waits {manifest['requests']['quota_waits']}")
    print(f"pull: {pull_seconds:.1f} s, {rows / pull_seconds:,.0f} rows/s; peak memory {pull_peak_mb:,.0f} MB "
          "(target < 2048 MB)", flush=True)
    t0 = time.monotonic()
    try:
        tables = load_tables(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    norm_seconds = time.monotonic() - t0
    total_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"normalisation (load_tables): {norm_seconds:.1f} s, {rows / norm_seconds:,.0f} rows/s, "
          f"{len(tables.assessments):,} assessment rows; peak memory incl. tables {total_peak_mb:,.0f} MB")
    assert set(manifest["counts"]) == set(RECORD_TYPES)


if __name__ == "__main__":
    main()
