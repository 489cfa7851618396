"""Maintainer tooling, run from a clone (`python -m tools.zoo ...`); not part of the installed package."""
