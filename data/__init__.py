"""Installed as `mdcnb.data`: the embedded sample tenant (`sample/`) and the dated price tables (`prices/`).

Package data, found through `mdcnb.package_data`; setup.py maps this folder into the package."""
