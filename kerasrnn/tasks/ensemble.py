"""`average_of`: one task model that averages the predicted probabilities of several."""

import keras

from kerasrnn.tasks.task_model import TaskModel, without_compile_configs


def same_preprocessing(first, second):
    """True if two preprocessors turn the same inputs into the same ids and labels.

    Their configurations are compared without the layer names, which Keras
    numbers per process (`pos_tagger_preprocessor_1`).

    Example:

    >>> from kerasrnn.tasks.sentiment import SentimentPreprocessor
    >>> same_preprocessing(SentimentPreprocessor(["", "[UNK]", "good"]), SentimentPreprocessor(["", "[UNK]", "good"]))
    True
    """
    def without_name(layer):
        return {key: value for key, value in layer.get_config().items() if key != "name"}

    return type(first) is type(second) and without_name(first) == without_name(second)


def average_of(models, name=None):
    """A task model whose network averages the output probabilities of `models`.

    The members must be task models of one class with the same preprocessor
    (the same vocabulary, characters and labels: models trained on the same
    data with the same data options), whose networks end in probabilities
    (a softmax or a sigmoid), so that the mean is again a distribution. Each
    member's network is copied with its weights into the new one, which is a
    plain functional Keras model: it saves, loads under `safe_mode`, exports
    and serves as any task model does, at the members' summed cost.

    Args:
        models: two or more task models (`SentimentClassifier`, `PosTagger`)
            of one class, with equal preprocessor configurations.
        name: the returned model's name (default: the first member's).

    Returns:
        A task model of the members' class.

    Example:

    >>> from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
    >>> preprocessor = PosTaggerPreprocessor(["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> members = [PosTagger(build_pos_tagger(4, 2, cell=cell, units=4, embedding_dim=4), preprocessor)
    ...            for cell in ("lstm", "gru")]
    >>> ensemble = average_of(members)
    >>> ensemble.predict(["the dog"], verbose=0).shape
    (1, 2, 2)
    """
    models = list(models)
    if len(models) < 2:
        raise ValueError(f"`models` must hold at least two task models to average. Received: {len(models)}")
    first = models[0]
    if not isinstance(first, TaskModel):
        raise ValueError(f"`models` must be task models (PosTagger, SentimentClassifier). Received: {type(first).__name__}")
    for index, model in enumerate(models[1:], start=1):
        if type(model) is not type(first):
            raise ValueError(
                f"`models` must all be of one class: models[0] is a {type(first).__name__}, "
                f"models[{index}] a {type(model).__name__}."
            )
        if not same_preprocessing(model.preprocessor, first.preprocessor):
            raise ValueError(
                f"`models[{index}]` has a different preprocessor (vocabulary, characters or labels) from "
                "`models[0]`: members must be trained on the same data with the same data options."
            )
    for index, model in enumerate(models):
        activation = getattr(model.network.layers[-1], "activation", None)
        if activation not in (keras.activations.softmax, keras.activations.sigmoid):
            # Logits (the char LM's) would average into something that is not a mean of distributions.
            raise ValueError(
                f"`models[{index}]` does not end in probabilities (a softmax or sigmoid layer); "
                "only probabilities can be averaged."
            )
    inputs = keras.tree.map_structure(
        lambda tensor: keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=tensor.name),
        first.network.input,
    )
    members = []
    for index, model in enumerate(models):
        # A copy under a name of its own: Keras needs the nested models' names to differ.
        config = without_compile_configs(model.network.get_config())
        member = keras.Model.from_config({**config, "name": f"member_{index}"})
        member.set_weights(model.network.get_weights())
        members.append(member(inputs))
    network = keras.Model(inputs, keras.layers.Average(name="average")(members), name=name or first.network.name)
    ensemble = type(first)(network, first.preprocessor, compile=False, name=name or first.name)
    ensemble.compile(**keras.saving.deserialize_keras_object(first.get_compile_config()))
    return ensemble


def published_average(zoo_name, models):
    """`average_of(models)` named as the zoo names it: a zoo average is assembled from its members at load.

    The zoo stores an average as the names of its members (`"average_of"`
    in its entry, `kerasrnn.zoo.index.averaged_members`); the model built
    from them takes the zoo name with `_` for `-`, a valid Keras name.

    Args:
        zoo_name: the average's zoo name (`pos-ewt-average-bilstm-bigru`).
        models: its loaded members, in the entry's order.

    Example:

    >>> from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
    >>> preprocessor = PosTaggerPreprocessor(["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> members = [PosTagger(build_pos_tagger(4, 2, cell=cell, units=4, embedding_dim=4), preprocessor)
    ...            for cell in ("lstm", "gru")]
    >>> published_average("pos-tiny-average", members).name
    'pos_tiny_average'
    """
    return average_of(models, name=zoo_name.replace("-", "_"))
