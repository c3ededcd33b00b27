"""mdcnb: analysis and compliance notebooks for Microsoft Defender for Cloud.

Data flows one way: source -> normalise -> tables -> analysis -> figures -> notebooks -> report.
"""


def __getattr__(name: str) -> str:
    """`mdcnb.__version__`, read from the installed metadata when first asked (the one version, written in
    pyproject.toml): importing `importlib.metadata` is a third of a light command's start-up."""
    if name != "__version__":
        raise AttributeError(f"module 'mdcnb' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mdcnb")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
