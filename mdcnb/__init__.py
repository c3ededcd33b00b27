"""mdcnb: analysis and compliance notebooks for Microsoft Defender for Cloud.

Data flows one way: source -> normalise -> tables -> analysis -> figures -> notebooks -> report.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mdcnb")  # the one version, written in pyproject.toml
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
