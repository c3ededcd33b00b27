"""Live sources: read a cloud and write a dataset directory in the layout of `mdcnb.sources.dataset`."""
