"""Builds the one compiled part of mdcnb: the native CloudTrail log reader (mdcnb/normalize/cloudtrail/_jsonscan.c).
Everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("mdcnb.normalize.cloudtrail._jsonscan", ["mdcnb/normalize/cloudtrail/_jsonscan.c"])])
