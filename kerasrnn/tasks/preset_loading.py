"""Loading a task model from a preset: the resolver gives a verified file, Keras loads it in safe mode.

`TaskModel.from_preset` and `kerasrnn.zoo.load` both call `load_preset`, which
calls down into the preset resolver (`kerasrnn.zoo.presets.model_file`: name,
file, folder, URL or `hf://` → sha256 check → cache → path); nothing below
this module imports it back.

Example:

>>> load_preset("no-such-model")
Traceback (most recent call last):
...
ValueError: Unknown zoo model 'no-such-model'. Available: ...
"""


def load_preset(preset, model_class=None):
    """Load a ready task model from a zoo name, a `.keras` file, a folder or a URL.

    Loading uses `safe_mode=True`: no `Lambda` code runs. A zoo model that
    averages others (`"average_of"` in its entry) is assembled here from its
    members, each loaded and checked as any zoo model, with
    `kerasrnn.average_of`. See
    `kerasrnn.zoo.presets.model_file` for every kind of source. Keras' own
    recurrent layers in an older model become the fused layers the builders
    use now (`kerasrnn.layers.recurrent_stack.with_builder_layers`).

    Args:
        preset: a zoo name, a `.keras` file, a `kerasrnn train` folder, a zoo
            folder, an `https://`/`file://` URL or `hf://OWNER/REPO`.
        model_class: if given (as `SentimentClassifier.from_preset` does),
            the model must be of this class.

    Returns:
        A `SentimentClassifier`, `PosTagger` or `CharLanguageModel`.

    Example:

    >>> model = load_preset("sentiment-imdb-bigru")  # doctest: +SKIP
    >>> model.predict_text("A moving, funny film.")["label"]  # doctest: +SKIP
    'pos'
    """
    import keras

    import kerasrnn.layers  # noqa: F401  registers the custom layers a saved model names
    from kerasrnn.layers.recurrent_stack import with_builder_layers
    from kerasrnn.tasks.registry import all_tasks, task_of
    from kerasrnn.zoo.presets import model_file, preset_members

    members = preset_members(preset)
    if members is not None:
        from kerasrnn.tasks.ensemble import published_average

        average = published_average(preset, [load_preset(member) for member in members])
        if model_class is not None and not isinstance(average, model_class):
            raise ValueError(f"{preset!r} is a {type(average).__name__}, not a {model_class.__name__}.")
        return average
    path = model_file(preset)
    for task in all_tasks():
        task.model_class()  # registers the task classes with Keras
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a loadable kerasrnn model ({message}).") from error
    try:
        task_of(model)
    except ValueError:
        raise ValueError(
            f"{path}: a {type(model).__name__}, not a kerasrnn task model (a .keras file of another library?)."
        ) from None
    if model_class is not None and not isinstance(model, model_class):
        raise ValueError(f"{preset!r} is a {type(model).__name__}, not a {model_class.__name__}.")
    # Zoo models saved before the fused GRU and SimpleRNN layers name Keras'
    # own: they run the layers a model trained today runs (same outputs).
    return with_builder_layers(model)
