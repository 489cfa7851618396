"""The pretrained zoo: models trained on the real data sets, loaded by name.

Example:

>>> from kerasrnn import zoo
>>> zoo.list() == sorted(zoo.list())
True
"""

from kerasrnn.zoo.api import download, evaluate, info, list_models, load

list = list_models  # the name users expect: kerasrnn.zoo.list()

__all__ = ["download", "evaluate", "info", "list", "list_models", "load"]
