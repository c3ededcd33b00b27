"""ISO weeks: the unit a report, a snapshot and a trend point belong to."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd


def iso_week(when: datetime | date | str | pd.Timestamp) -> str:
    """ISO week label, e.g. `2026-W48` (the week a report and a snapshot belong to)."""
    year, week, _ = pd.Timestamp(when).isocalendar()
    return f"{year}-W{week:02d}"
