"""Builds the one compiled part of mdcnb: the native CloudTrail log reader (mdcnb/cloudtrail/_jsonscan.c).
Everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("mdcnb.cloudtrail._jsonscan", ["mdcnb/cloudtrail/_jsonscan.c"])])
