"""Shared pytest set-up."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    """Keep every test (and every notebook kernel it starts) off the user's own history store."""
    if "MDCNB_HISTORY" not in os.environ:
        os.environ["MDCNB_HISTORY"] = os.path.join(tempfile.mkdtemp(prefix="mdcnb-history-"), "history.duckdb")
