"""Measures: every figure mdcnb shows, defined once (`registry`), computed over a `Snapshot`."""
