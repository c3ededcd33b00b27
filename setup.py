"""What pyproject.toml cannot say declaratively: the native readers of CloudTrail logs
(mdcnb/normalize/cloudtrail/_jsonscan.c) and of plain assessment lines (mdcnb/normalize/_assessscan.c), and the
repository's top-level `data/` and `notebooks/` folders installed inside the package as `mdcnb.data` and
`mdcnb.notebooks`, so a wheel carries the sample tenant, the price tables and the notebooks, and an editable install
maps the same names onto the folders of the clone (`mdcnb.core.package_data` looks them up)."""

from setuptools import Extension, find_packages, setup

MAPPED = {"mdcnb.data": "data", "mdcnb.notebooks": "notebooks"}

setup(
    packages=find_packages(include=["mdcnb", "mdcnb.*"]) + list(MAPPED),
    package_dir=MAPPED,
    ext_modules=[Extension("mdcnb.normalize.cloudtrail._jsonscan", ["mdcnb/normalize/cloudtrail/_jsonscan.c"]),
                 Extension("mdcnb.normalize._assessscan", ["mdcnb/normalize/_assessscan.c"])],
)
