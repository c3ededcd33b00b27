"""Live pulls for the history tests: the loopback ARM service (tests/azure_server.py) serves a variant of the small
test tenant (tests/azure_tenant.py: another tenant id, another secure score, more subscriptions) and the real
`mdcnb.sources.azure.pull` writes the dataset, manifest and all, over real TLS with a real token flow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from azure.identity import ClientSecretCredential
from azure_server import AzureTestService, serve
from azure_tenant import TENANT, build

from mdcnb.sources.azure import pull
from mdcnb.sources.azure_http import RetrySettings
from mdcnb.sources.azure_paging import PullOptions
from mdcnb.sources.dataset import MANIFEST

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.history-test-token"
SECRET = "history-test-secret-31c7"
CLIENT = "11111111-2222-3333-4444-555555555555"
FAST = RetrySettings(backoff_factor=0.01, backoff_max=0.05, read_timeout=2.0, connection_timeout=2.0)
SCORE_MAX = 8  # every subscription's secure score in azure_tenant: max 8 points


def tenant_variant(path: Path, *, tenant: str = TENANT, subscriptions: int = 6, points: float = 4.0) -> Path:
    """The test tenant under another tenant id, with `subscriptions` subscriptions each scoring `points` of 8."""
    build(path, subscriptions=subscriptions)
    for file in path.glob("*.jsonl"):
        rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        for row in rows:
            if file.stem == "securescores":
                row["properties"]["score"].update(current=points, percentage=round(points / SCORE_MAX, 4))
        file.write_text("".join(json.dumps(r).replace(TENANT, tenant) + "\n" for r in rows))
    return path


def pull_tenant(served: Path, out: Path, tls_files: tuple, *, forbidden: Iterable[str] = (),
                as_of: str | None = None) -> Path:
    """Pull the served tenant into `out`. `as_of` dates the pull in an earlier week (its manifest's `created`), as
    last week's run would have; `forbidden` subscriptions answer 403, which makes the pull incomplete."""
    ctx, bundle = tls_files
    aad = serve(AzureTestService(token=TOKEN, aad=True, client_secret=SECRET), ctx)
    arm = serve(AzureTestService(served, token=TOKEN), ctx)
    arm.service.forbidden |= {s.lower() for s in forbidden}
    try:
        credential = ClientSecretCredential(TENANT, CLIENT, SECRET, authority=aad.url,
                                            disable_instance_discovery=True, connection_verify=str(bundle))
        pull(out, arm_endpoint=arm.url, credential=credential, options=PullOptions(retry=FAST),
             connection_verify=str(bundle))
    finally:
        arm.stop()
        aad.stop()
    if as_of:
        manifest = json.loads((out / MANIFEST).read_text())
        manifest["created"] = pd.Timestamp(as_of).isoformat()
        (out / MANIFEST).write_text(json.dumps(manifest))
    return out
