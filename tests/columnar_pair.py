"""The check every columnar reader's tests make: its tables are exactly the per-row path's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mdcnb.normalize import normalise_dataset


def same_as_per_row(dataset: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The tables the columnar readers make of `dataset`, after checking that `names` and the skips are exactly
    the per-row path's (`columnar=False`)."""
    columnar, per_row = normalise_dataset(dataset).frames(), normalise_dataset(dataset, columnar=False).frames()
    for name in (*names, "skips"):
        pd.testing.assert_frame_equal(columnar[name], per_row[name], obj=name)
    return columnar
