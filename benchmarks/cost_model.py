"""Benchmark of the cost model on a large generated estate (tables built directly, no I/O measured).

    .venv/bin/python benchmarks/cost_model.py                       # 2,000 subscriptions, 200,000 resources
    .venv/bin/python benchmarks/cost_model.py --subscriptions 200   # a quicker look

Times `billable_units`, `plan_settings` and the four scenarios (as configured, enable all, Servers P2 -> P1, tag
exclusion) over three runs and prints the medians, rows per second and peak memory. Target: the whole cost page's
computation under 60 s and 2 GB for 2,000 subscriptions.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time

from mdcnb.analysis import cost, cost_units
from mdcnb.core import schema
from mdcnb.sources.prices import latest_price_table
from mdcnb.tables import Tables

TYPES = [("microsoft.compute/virtualmachines", {}), ("microsoft.compute/virtualmachinescalesets", {"capacity": 4}),
         ("microsoft.storage/storageaccounts", {}), ("microsoft.containerservice/managedclusters", {"vcores": 16}),
         ("microsoft.sql/servers", {}), ("microsoft.keyvault/vaults", {}),
         ("microsoft.web/serverfarms", {"capacity": 2, "sku": "P1v3"}),
         ("microsoft.dbforpostgresql/flexibleservers", {})]
PLANS = list(cost_units.PLANS)


def estate(subscriptions: int, resources: int, seed: int = 7) -> Tables:
    rng = random.Random(seed)
    subs = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(subscriptions)]
    plans = [{"scope_id": f"/subscriptions/{s}", "subscription_id": s, "level": "subscription", "plan": p,
              "tier": "Standard" if on else "Free", "enabled": on, "sub_plan": "P2" if p == "VirtualMachines" else None,
              "free_trial_remaining_days": 0.0}
             for s in subs for p in PLANS for on in [rng.random() < 0.5]]
    rows = []
    for n in range(resources):
        sub = subs[n % subscriptions]
        kind, extra = TYPES[n % len(TYPES)]
        rows.append({"resource_id": f"/subscriptions/{sub}/resourcegroups/rg/providers/{kind}/r{n}", "name": f"r{n}",
                     "type": kind, "subscription_id": sub, "resource_group": "rg",
                     "power_state": "running" if rng.random() < 0.9 else "deallocated",
                     "tags": {"env": "dev"} if rng.random() < 0.3 else None, **extra})
    return Tables(subscriptions=schema.SUBSCRIPTIONS.frame({"subscription_id": s} for s in subs),
                  plans=schema.PLANS.frame(plans), resources=schema.RESOURCES.frame(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--resources-per-subscription", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    resources = args.subscriptions * args.resources_per_subscription
    tables = estate(args.subscriptions, resources)
    prices = latest_price_table()
    timings: dict[str, list[float]] = {"billable_units": [], "plan_settings": [], "scenarios (4 estimates)": []}
    for _ in range(args.runs):
        start = time.perf_counter()
        units = cost_units.billable_units(tables)
        timings["billable_units"].append(time.perf_counter() - start)
        start = time.perf_counter()
        settings = cost_units.plan_settings(tables)
        timings["plan_settings"].append(time.perf_counter() - start)
        start = time.perf_counter()
        result = cost.scenarios_from(units, settings, prices, "env", "dev")
        timings["scenarios (4 estimates)"].append(time.perf_counter() - start)
    print(f"estate: {args.subscriptions:,} subscriptions, {resources:,} resources, {len(units):,} unit rows, "
          f"{len(settings):,} plan settings")
    for name, values in timings.items():
        print(f"  {name:<26} median {statistics.median(values):7.2f} s over {args.runs} runs")
    total = sum(statistics.median(v) for v in timings.values())
    print(f"  {'total':<26} median {total:7.2f} s  ({resources / total:,.0f} resources/s); target < 60 s")
    print(f"  peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; target < 2,048 MB")
    print(f"  monthly total {result.configured.monthly_total:,.2f}, enable all {result.enable_all.monthly_total:,.2f} "
          f"({prices.label})")


if __name__ == "__main__":
    main()
