"""The zoo's maintainer tooling: train recipes, publish models, measure baselines and latency, generate the index.

Run from a clone's root: `python -m tools.zoo train NAME`, `python -m tools.zoo
publish NAME`, `python -m tools.zoo baselines`, `python -m tools.zoo table
--update-readme README.md`, `python -m tools.zoo index` (see `python -m
tools.zoo --help`). It writes the repository's `models/` (artifacts, the
generated `index.json`, `baselines.json`) and the task folders'
`presets.json`, the one registry of published models; the installed
`kerasrnn` package only reads them. Nothing here ships in the wheel.
"""
