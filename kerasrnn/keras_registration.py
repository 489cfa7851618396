"""Register every kerasrnn Keras class with Keras as soon as Keras is imported.

`keras.saving.load_model` finds a custom class only through Keras' registry
(`@keras.saving.register_keras_serializable`), which is filled when the
module defining the class is imported; unlike `keras_hub`, Keras never
imports a `kerasrnn.*` module by the name a saved file records. Importing
every task on `import kerasrnn` would make the CLI's `--help`, `zoo list` and
the model server (which must not import model code) pay for TensorFlow, and
would break `import kerasrnn` where Keras is not installed. So the classes are
registered by a post-import hook on `keras` (wrapt, a TensorFlow dependency):
after `import kerasrnn`, loading a saved kerasrnn model works whether Keras
was imported before or after, and a process that never imports Keras never
imports the task code.
"""

import warnings


def register_keras_classes(keras_module=None):
    """Import every module that registers a kerasrnn class with Keras.

    Args:
        keras_module: the imported `keras` module (passed by the import
            hook; unused).

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


def _register_or_warn(keras_module):
    # A failure here must not break the user's `import keras`: it only means
    # that loading a kerasrnn file will name the class it could not find.
    try:
        register_keras_classes(keras_module)
    except Exception as error:  # noqa: BLE001
        warnings.warn(f"kerasrnn could not register its Keras classes ({type(error).__name__}: {error}); "
                      "call kerasrnn.keras_registration.register_keras_classes() before loading a model.",
                      stacklevel=2)


def register_when_keras_is_imported():
    """Register the classes now if Keras is imported, else right after `import keras`.

    Called once by `import kerasrnn`. Without wrapt (a venv with neither
    TensorFlow nor Keras) there is nothing to register.

    Example:

    >>> register_when_keras_is_imported()
    """
    try:
        import wrapt
    except ImportError:
        return
    wrapt.register_post_import_hook(_register_or_warn, "keras")
