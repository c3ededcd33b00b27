"""The CloudTrail page's panel: headline numbers, who reads per day, CSPM per account and region and hour by hour,
its top calls and services, and the other MDC roles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdcnb.analysis import cloudtrail
from mdcnb.figures import cloudtrail as cloudtrail_figures
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, day, iso, measures_of, present

HEADLINES = ("cloudtrail.cspm_read_events", "cloudtrail.cspm_sign_ins", "cloudtrail.cspm_share_of_reads",
             "cloudtrail.other_mdc_role_events")


def cloudtrail_explorer(snapshot: Snapshot, *, since: str | None = None, until: str | None = None,
                        accounts: Sequence[str] = (), top_calls: int = 20,
                        mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """CloudTrail panel: every view follows the date range and account; all but the headline numbers (which cover
    every region: their labels say so) follow the region too."""
    volume, hourly = snapshot.cloudtrail.volume, snapshot.cloudtrail.hourly
    panel = FilterPanel(accounts=present(volume["account_id"]), regions=present(volume["region"]), dates=True,
                        defaults=Filters(accounts=tuple(accounts), since=day(since), until=day(until)), mask=mask)

    def pick(name: str, frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
        """The rows of `frame` (`volume` or `hourly`) the selection keeps, filtered once per change."""
        return panel.once(name, lambda f: cloudtrail.filter_volume(frame, f.accounts, since=iso(f.since),
                                                                  until=iso(f.until), regions=f.regions))

    def picked(f: Filters) -> pd.DataFrame:
        return pick("volume", volume, f)

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines", caption="Headline numbers",
               ignores=("regions",))
    panel.view(lambda f: cloudtrail_figures.daily_reads(cloudtrail.daily_by_actor(picked(f))), "cloudtrail_events")
    panel.view(lambda f: cloudtrail_figures.cspm_by_account_region(cloudtrail.cspm_daily(picked(f))), "cspm_reads")
    panel.view(lambda f: cloudtrail_figures.cspm_hourly(cloudtrail.cspm_hourly(pick("hourly", hourly, f))),
               "cspm_reads")
    panel.view(lambda f: cloudtrail_figures.top_calls(cloudtrail.top_calls(picked(f), limit=top_calls)),
               "cspm_calls")
    panel.view(lambda f: cloudtrail.top_services(picked(f)), "cspm_services", caption="CspmMonitorAws reads by service")
    panel.view(lambda f: cloudtrail_figures.other_roles(cloudtrail.other_mdc_roles(picked(f))), "other_roles")
    return panel
