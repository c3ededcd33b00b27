"""Views of regulatory compliance for the compliance page: the scope x standard pass-rate matrix (worst scopes
first, capped) and failing controls summarised for reading. Builds on `mdcnb.analysis.compliance`; pure functions.
"""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis.compliance import COUNT_COLUMNS
from mdcnb.analysis.score_detail import scope_label

RESOURCES_SHOWN = 3


def pass_rate_matrix(standard_table: pd.DataFrame, names: pd.Series, limit: int = 40) -> tuple[pd.DataFrame, str]:
    """Scopes x standards of pass rates (0..1, NaN when nothing assessed), lowest mean first, at most `limit` rows.

    Returns the matrix and a title suffix saying how many scopes were left out.
    """
    if standard_table.empty:
        return pd.DataFrame(), ""
    frame = standard_table.assign(scope=scope_label(standard_table["scope_id"], names))
    matrix = frame.pivot_table(index="scope", columns="standard", values="pass_rate", aggfunc="first", dropna=False)
    order = matrix.mean(axis=1, skipna=True).sort_values(kind="stable", na_position="last")
    matrix = matrix.loc[order.index]
    if len(matrix) <= limit:
        return matrix, ""
    return matrix.head(limit), f" (lowest {limit} of {len(matrix):,} scopes)"


def failing_summary(failing: pd.DataFrame, names: pd.Series, standard_table: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Failing controls (`compliance.failing_controls`) with scope names and the unhealthy resources counted,
    the first few named (the full lists stay in the exported table).

    With the scope x standard counts (`compliance.standards`), each row also says what fixing its control would
    gain: the points its standard's pass rate in that scope rises by, 100 / (passed + failed) controls; the rows
    are then ordered by that gain, largest first (then by standard, control and scope)."""
    out = failing.assign(scope=scope_label(failing["scope_id"], names),
                         unhealthy_resources=failing["resources"].map(len))
    out["resources_first"] = out["resources"].map(
        lambda ids: "; ".join(i.rsplit("/", 1)[-1] for i in ids[:RESOURCES_SHOWN])
        + (f"; … {len(ids) - RESOURCES_SHOWN} more" if len(ids) > RESOURCES_SHOWN else ""))
    columns = ["standard", "control", "control_description", "scope", "assessment_key", "description",
               "failed_resources", "unhealthy_resources", "resources_first"]
    if standard_table is None:
        return out[columns]
    counted = standard_table[["scope_id", "standard", "passed_controls", "failed_controls"]]
    out = out.merge(counted, on=["scope_id", "standard"], how="left")
    assessed = out["passed_controls"] + out["failed_controls"]
    out["gain_points"] = (100 / assessed.where(assessed > 0)).round(2)
    out = out.sort_values(["gain_points", "standard", "control", "scope"], ascending=[False, True, True, True],
                          kind="stable", na_position="last")
    return out[["gain_points", *columns]].reset_index(drop=True)


def states_view(standard_table: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Control states per standard and scope (`compliance.standards`) as a reader sees them: the scope by name,
    no id columns (the exported table keeps the ids)."""
    out = standard_table.assign(scope=scope_label(standard_table["scope_id"], names))
    return out[["standard", "scope", "state", *COUNT_COLUMNS, "pass_rate"]]
