"""Plotly figure builders, one module per page."""
