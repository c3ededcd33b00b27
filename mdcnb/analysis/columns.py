"""Column helpers the analyses share."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def per_value(column: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`transform(column)` (an element-wise text operation) worked out once per distinct value and spread to the
    rows: a million assessments repeat a few thousand subscriptions or three states, and each new string made per
    row took memory (about 100 MB for the scope ids of 2,000 subscriptions' assessments); missing cells stay NA."""
    codes, distinct = pd.factorize(column)
    done = transform(pd.Series(distinct, dtype=column.dtype))
    return pd.Series(done.array.take(codes, allow_fill=True), index=column.index, name=column.name)


def casefolded(column: pd.Series) -> pd.Series:
    """The text column case-folded, a missing cell as "" (`per_value`: states and severities compared without
    case)."""
    return per_value(column.fillna(""), lambda s: s.str.casefold())
