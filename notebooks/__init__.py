"""Installed as `mdcnb.notebooks`: the report's notebooks, found through `mdcnb.package_data`; setup.py maps this
folder into the package. `mdcnb notebooks DIR` copies them for JupyterLab."""
