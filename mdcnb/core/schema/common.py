"""The contract every reader shares: what could not be read."""

from __future__ import annotations

from mdcnb.core.schema.contract import STRING, table

SKIPS = table(
    "skips",
    "Records or files that could not be read: listed, never dropped silently.",
    ("source", STRING, "file or request the record came from"),
    ("location", STRING, "line number, page or key within the source"),
    ("record_type", STRING, "dataset record type (e.g. assessments)"),
    ("reason", STRING, "why it was skipped"),
)
