"""Register every kerasrnn Keras class with Keras as soon as Keras is imported.

`keras.saving.load_model` finds a custom class only through Keras' registry
(`@keras.saving.register_keras_serializable`), which is filled when the
module defining the class is imported; unlike `keras_hub`, Keras never
imports a `kerasrnn.*` module by the name a saved file records. Importing
every task on `import kerasrnn` would make the CLI's `--help`, `zoo list` and
the model server pay for TensorFlow (and show its start-up log lines before
the CLI can hide them), and would break `import kerasrnn` where Keras is not
installed. So the classes are registered by post-import hooks (wrapt, a
TensorFlow dependency): after `import kerasrnn`, loading a saved kerasrnn
model works whether Keras was imported before or after, and a process that
never imports Keras never imports the task code.

The registration imports the task modules, which import other kerasrnn
modules; run while one of those is half-imported (it was the one whose
`import keras` fired the hook) it would fail on a circular import. So it
waits until no kerasrnn module is mid-import: the hooks also fire when each
kerasrnn module finishes importing.
"""

import os
import sys
import warnings

_state = {"registered": False}


def register_keras_classes(keras_module=None):
    """Import every module that registers a kerasrnn class with Keras.

    Args:
        keras_module: the imported module that fired the hook (unused).

    Example:

    >>> import keras
    >>> register_keras_classes()
    >>> keras.saving.get_registered_object("kerasrnn>SentimentClassifier").__name__
    'SentimentClassifier'
    """
    import kerasrnn.layers  # noqa: F401  the custom layers a saved network names
    from kerasrnn.tasks.registry import all_tasks

    for task in all_tasks():
        task.register_keras_classes()
    _state["registered"] = True


def _importing_kerasrnn_modules(besides):
    # CPython marks a module being executed by the import system with
    # `__spec__._initializing` (the flag behind "partially initialized module").
    return [
        name for name, module in list(sys.modules.items())
        if (name == "kerasrnn" or name.startswith("kerasrnn.")) and name != besides
        and getattr(getattr(module, "__spec__", None), "_initializing", False)
    ]


def _register_when_safe(module):
    if _state["registered"] or "keras" not in sys.modules:
        return
    # The package's own __init__ calls this last, with every attribute set.
    if [name for name in _importing_kerasrnn_modules(module.__name__) if name != "kerasrnn"]:
        return  # a later hook, when that import finishes, registers
    # A failure here must not break the user's `import keras`: it only means
    # that loading a kerasrnn file will name the class it could not find.
    try:
        register_keras_classes(module)
    except Exception as error:  # noqa: BLE001
        _state["registered"] = True  # said once, not at every later import
        warnings.warn(f"kerasrnn could not register its Keras classes ({type(error).__name__}: {error}); "
                      "call kerasrnn.keras_registration.register_keras_classes() before loading a model.",
                      stacklevel=2)


def _module_names(package_name, folder):
    # Listed from the files, not imported: `import kerasrnn` stays cheap.
    for root, directories, files in os.walk(folder):
        directories[:] = [name for name in directories if os.path.isfile(os.path.join(root, name, "__init__.py"))]
        relative = os.path.relpath(root, folder)
        prefix = package_name if relative == "." else f"{package_name}.{relative.replace(os.sep, '.')}"
        for file_name in files:
            if file_name.endswith(".py") and not file_name.endswith("_test.py"):
                stem = file_name[:-3]
                yield prefix if stem == "__init__" else f"{prefix}.{stem}"


def register_when_keras_is_imported():
    """Register the classes now if Keras is imported, else as soon as it is.

    Called once, last, by `import kerasrnn`. Without wrapt (a venv with
    neither TensorFlow nor Keras) there is nothing to register.

    Example:

    >>> register_when_keras_is_imported()
    """
    try:
        import wrapt
    except ImportError:
        return
    package = sys.modules["kerasrnn"]
    for name in ["keras", *_module_names("kerasrnn", os.path.dirname(package.__file__))]:
        if name != "kerasrnn":
            wrapt.register_post_import_hook(_register_when_safe, name)
    _register_when_safe(package)
