"""Where the maintainer tooling reads and writes: the clone's `models/` and this folder's unpublished recipes.

Example:

>>> os.path.isfile(os.path.join(MODELS_DIR, "index.json"))
True
"""

import os

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The published zoo folder: the .keras artifacts beside the generated index.json, and baselines.json.
MODELS_DIR = os.path.join(REPOSITORY, "models")
# Training runs (resumable, not committed).
RUNS_DIR = os.path.join(MODELS_DIR, "runs")
BASELINES_FILE = os.path.join(MODELS_DIR, "baselines.json")
# Recipes not published yet; a published recipe lives in its preset's `training_recipe`.
UNPUBLISHED_RECIPES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes-unpublished.json")
