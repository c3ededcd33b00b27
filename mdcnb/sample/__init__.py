"""The deterministic sample tenant: `mdcnb sample --out DIR [--seed N] [--scale small|large|N] [--weeks W]`.

The generator is a small pipeline of *parts*. `build_context` turns seed, scale and weeks into one
`SampleContext` (see `mdcnb.sample.context`); each part is a function `part(ctx) -> None` that writes its
share of the dataset under `ctx.out`. To add a part, write `mdcnb/sample/<name>.py` with a function taking
the context and add it to `PARTS` below (one line).

What a part finds in the context:

- `ctx.seed`, `ctx.scale`, `ctx.out` (dataset directory), `ctx.as_of` (time of the latest snapshot, fixed so
  the output is byte-for-byte reproducible), `ctx.plain` (latest week's record files not gzipped), `ctx.weeks`
  (the latest snapshot is `ctx.out`, the `weeks - 1` earlier ones are `ctx.out/history/<ISO week>/`;
  `ctx.week_time(w)`, `ctx.week_label(w)`, `ctx.week_dir(w)` for week index w, 0 = oldest).
- the tenant: `ctx.tenant_id`, `ctx.management_groups`, `ctx.subscriptions`, `ctx.connectors` (native AWS/GCP
  `securityConnectors` and the classic AWS connector: hierarchy id = account id / project number, regions,
  `scan_interval_hours`, `cspm_role_arn`, offerings, `first_week` when added during the history,
  `active(week)`), `ctx.aws_accounts` (every account of the AWS organisation, including the one without a
  connector), `ctx.cloud_resources` / `ctx.ec2_instances` (AWS/GCP inventory; EC2 with type, state and
  whether an Arc machine exists), `ctx.connector_for_account(id)`.
- randomness that depends only on the seed and what is drawn: `ctx.rng(*key)` (a `random.Random`) and
  `ctx.unit(*key)` (three floats in [0, 1)). Never use global randomness or the clock.

Parts: `azure` (this package: subscriptions, connectors, pricings, resources, assessments with metadata,
secure scores and controls, regulatory compliance, for every week); `cloudtrail` and `aws_inventory` are
plugged in by their owners. Parts run in order; `azure` writes each snapshot's `manifest.json` (source
"sample", seed, scale, as-of time, week, record counts), so later parts only add files beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mdcnb.sample import cloudtrail
from mdcnb.sample.aws_inventory import aws_inventory
from mdcnb.sample.context import SampleContext
from mdcnb.sample.snapshot import write_snapshot
from mdcnb.sample.tenant import build_context

Part = Callable[[SampleContext], None]


def azure(ctx: SampleContext) -> None:
    """Every weekly snapshot of the Azure-side records, oldest first; the latest one is `ctx.out` itself."""
    for week in range(ctx.weeks):
        write_snapshot(ctx, week)


PARTS: tuple[Part, ...] = (
    azure,
    cloudtrail.write,
    aws_inventory,
)


def generate(out: Path | str, seed: int = 0, scale: str = "small", weeks: int | None = None,
             plain: bool = False) -> SampleContext:
    """Generate the sample tenant into `out` (replacing the files it writes) and return its context. Record files
    are gzipped (`<type>.jsonl.gz`, which keeps the committed sample small); `plain` writes the latest week's
    as plain `<type>.jsonl`, the way `mdcnb pull` does."""
    ctx = build_context(seed=seed, scale=scale, out=Path(out), weeks=weeks, plain=plain)
    for part in PARTS:
        part(ctx)
    return ctx


__all__ = ["PARTS", "Part", "SampleContext", "build_context", "generate"]
