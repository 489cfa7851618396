"""What every task model shares: a Keras model over integer ids that carries its preprocessor.

A task model (`SentimentClassifier`, `PosTagger`, `CharLanguageModel`) is a
functional `keras.Model` whose graph is the integer-id network a `build_*`
builder returns, and which also holds the task's preprocessor (vocabulary,
standardization, label names). As in KerasHub, preprocessing runs in the
`tf.data` pipeline, not in the graph: `fit`, `evaluate` and `predict` accept
raw strings (which the preprocessor turns into padded id batches) as well as
integer ids (passed to Keras unchanged). The model is registered with Keras,
so a `.keras` file loads back as the same class under `safe_mode=True`, and
export, serving and the zoo know its task from the object itself.
"""

import contextlib
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.length_buckets import bucketed_batches

DEFAULT_BATCH_SIZE = 32


@contextlib.contextmanager
def length_bucketed_input():
    """Silence Keras' "input ran out of data" warning for datasets of unknown length.

    Length-bucketed batches have no known count, so Keras learns the epoch
    length when the first pass runs out and warns about it; here that is
    expected and would only alarm users.

    Example:

    >>> with length_bucketed_input():
    ...     pass
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def is_raw(data):
    """True if `data` holds strings (raw text) rather than integer ids.

    Example:

    >>> is_raw(["a review"]), is_raw([[3, 4]]), is_raw(np.array([["the", "dog"]]))
    (True, False, True)
    """
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        return any(leaf.dtype == tf.string for leaf in tf.nest.flatten(spec))
    if isinstance(data, (str, bytes)):
        return True
    if isinstance(data, (tf.Tensor, tf.RaggedTensor)):
        return data.dtype == tf.string
    if isinstance(data, np.ndarray):
        return data.dtype.kind in "USO" and (data.size == 0 or isinstance(data.flat[0], (str, bytes)))
    if isinstance(data, (list, tuple)):
        while isinstance(data, (list, tuple)) and data:
            data = data[0]
        return isinstance(data, (str, bytes))
    return False


def without_compile_configs(config):
    """A model config without the compile configs of the models nested in it.

    A nested model's serialized entry keeps its compile config, and Keras
    compiles (and then saves optimizer slots for) any model rebuilt with one.

    Example:

    >>> without_compile_configs({"a": [{"compile_config": {}, "b": 1}]})
    {'a': [{'b': 1}]}
    """
    if isinstance(config, dict):
        return {key: without_compile_configs(value) for key, value in config.items() if key != "compile_config"}
    if isinstance(config, list):
        return [without_compile_configs(value) for value in config]
    return config


def embedding_input_dims(network):
    """The `input_dim` (vocab_size) of every word or character embedding named `"embedding"` in `network`.

    The builders name the embedding of their token ids `"embedding"`; an
    averaged model holds one per member, found at any depth.

    Example:

    >>> from kerasrnn.tasks.char_lm import build_char_lm
    >>> embedding_input_dims(build_char_lm(vocab_size=7, units=4, num_layers=1))
    [7]
    """
    return [layer.input_dim for layer in network._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.Embedding) and layer.name == "embedding"]


class TaskModel(keras.Model):
    """Base class of the task models: an integer-id network plus its preprocessor.

    Subclasses set `task_name` and `head_class` (the task's `TaskHead`,
    which owns the loss and metrics: `default_loss` and `default_metrics`
    return its own), and implement `examples` (raw inputs → unbatched
    `tf.data` of model inputs, with targets when given),
    `serving_endpoints` and `predict_text`.

    Args:
        network: the compiled integer-id `keras.Model` a `build_*` builder
            returns. Its optimizer (with its clipping settings) becomes the
            task model's default optimizer.
        preprocessor: the task's preprocessing layer (vocabulary and labels).
            Its `check_network_sizes` refuses a network whose vocab_size or
            output size does not fit its ids, here rather than in a later
            `predict` or `generate`.
        compile: compile with the task's loss and metrics (default True).

    Example:

    >>> from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor
    >>> from kerasrnn.tasks.sentiment import build_sentiment_classifier
    >>> model = SentimentClassifier(build_sentiment_classifier(6, units=4, embedding_dim=4),
    ...                             SentimentPreprocessor(["", "[UNK]", "good", "bad", "film", "plot"]))
    >>> isinstance(model, TaskModel), model.task_name
    (True, 'sentiment')
    """

    task_name = None
    # The task's `kerasrnn.tasks.task_head.TaskHead`: its loss and metrics are the task's.
    head_class = None
    # The model attributes that bound one input (`kerasrnn.data.input_checks.bound_attribute`).
    input_limit_names = ()

    def __init__(self, network, preprocessor, compile=True, **kwargs):
        if not isinstance(network, keras.Model):
            raise ValueError(f"`network` must be a keras.Model over integer ids. Received: {type(network).__name__}")
        check_sizes = getattr(preprocessor, "check_network_sizes", None)
        if check_sizes is not None:
            check_sizes(embedding_input_dims(network), network.outputs[0].shape[-1])
        optimizer = network.optimizer if network.compiled else None
        self.network = network
        self.preprocessor = preprocessor
        inputs = network.input
        super().__init__(inputs=inputs, outputs=network(inputs), **kwargs)
        if compile:
            # A fresh optimizer of the builder's configuration (learning rate,
            # clipping): the task model trains as the builder's network would.
            self.compile(optimizer=optimizer.__class__.from_config(optimizer.get_config()) if optimizer else "auto")

    # -- configuration -----------------------------------------------------

    def get_config(self):
        network = keras.saving.serialize_keras_object(self.network)
        return {
            "name": self.name,
            "trainable": self.trainable,
            # The task model holds the optimizer; a nested compile config would
            # make Keras save a second (unused) set of optimizer slots.
            "network": without_compile_configs(network),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset):
        """Load a ready model of this class from a zoo name, a `.keras` file, a folder or a URL.

        Calls down into `kerasrnn.tasks.preset_loading.load_preset`, which
        resolves the preset with `kerasrnn.zoo.presets.model_file` (every kind
        of source: `https://`, `file://`, `hf://owner/repo`; checksums, the
        cache and offline use) and loads it in safe mode.

        Example:

        >>> from kerasrnn import SentimentClassifier
        >>> model = SentimentClassifier.from_preset("sentiment-imdb-bigru")  # doctest: +SKIP
        """
        from kerasrnn.tasks.preset_loading import load_preset

        return load_preset(preset, model_class=cls)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Compile with the task's loss and metrics unless others are given.

        Example:

        >>> model.compile(optimizer="adam")  # doctest: +SKIP
        """
        super().compile(
            optimizer=keras.optimizers.Adam() if optimizer == "auto" else optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )

    # Keras' own `compile_from_config` refuses to run when `compile` is
    # overridden; ours accepts exactly what Keras saved, so restore it here.
    def get_compile_config(self):
        return super().get_compile_config()

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if not self.built:
            return
        # As Keras does: build the optimizer so a saved optimizer state loads.
        optimizer = self.optimizer
        optimizer.build(self.trainable_variables)
        unbuilt_count = len(optimizer.__class__.from_config(optimizer.get_config()).variables)
        load_state = optimizer.load_own_variables

        def load_own_variables(store):
            # kerasrnn's saved models (zoo, `kerasrnn train`) carry the
            # optimizer's configuration but no state: nothing to restore.
            if len(store.keys()) != unbuilt_count:
                load_state(store)

        optimizer.load_own_variables = load_own_variables

    # -- training hooks ---------------------------------------------------
    # What `kerasrnn.training.train` asks the task for, so that nothing in the
    # trainer branches on a task.

    def training_callbacks(self):
        """The Keras callbacks this task's training needs beside the trainer's own: none here.

        A task whose `fit` needs more overrides it (the char LM resets a
        stateful network's carried state every epoch).

        Returns:
            A list of `keras.callbacks.Callback`.

        Example:

        >>> from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
        >>> preprocessor = CharLanguageModelPreprocessor(list("ab"), sequence_length=4)
        >>> model = CharLanguageModel(build_char_lm(len(preprocessor.labels), units=4, num_layers=1), preprocessor)
        >>> model.training_callbacks()
        []
        """
        return []

    def inference_network(self):
        """A copy of the network with the same weights, for inference: here, the same graph.

        A task whose training network differs from the one to save
        overrides it (the char LM's stateful network becomes stateless,
        with no fixed batch size).

        Returns:
            A `keras.Model` over integer ids.

        Example:

        >>> from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
        >>> preprocessor = PosTaggerPreprocessor(["the", "cat"], ["DET", "NOUN"])
        >>> model = PosTagger(build_pos_tagger(4, 2, units=4, embedding_dim=4), preprocessor)
        >>> copy = model.inference_network()
        >>> copy is model.network, copy.count_params() == model.network.count_params()
        (False, True)
        """
        network = keras.Model.from_config(self.network.get_config())
        network.set_weights(self.network.get_weights())
        return network

    def inference_copy(self):
        """A copy of the trained model to save: same weights and compile settings, no optimizer state.

        Returns:
            A model of this class over `inference_network()`, compiled with
            this model's loss, metrics and optimizer configuration.

        Example:

        >>> from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
        >>> preprocessor = CharLanguageModelPreprocessor(list("ab"), sequence_length=4)
        >>> model = CharLanguageModel(build_char_lm(len(preprocessor.labels), units=4, num_layers=1), preprocessor)
        >>> copy = model.inference_copy()
        >>> type(copy).__name__, copy.network is model.network, copy.optimizer.built
        ('CharLanguageModel', False, False)
        """
        copy = self.__class__(self.inference_network(), self.preprocessor, compile=False)
        # Same loss, metrics and optimizer configuration, and an optimizer not yet
        # built: the file holds no optimizer slots (a third of the size), and a
        # loaded model fine-tunes as the original would.
        copy.compile(**keras.saving.deserialize_keras_object(self.get_compile_config()))
        return copy

    @classmethod
    def default_loss(cls):
        """The task's loss: its head's (`head_class.loss()`).

        Example:

        >>> from kerasrnn.tasks.sentiment import SentimentClassifier
        >>> SentimentClassifier.default_loss()
        'sparse_categorical_crossentropy'
        """
        return cls.head_class.loss()

    @classmethod
    def default_metrics(cls):
        """The task's metrics: its head's (`head_class.metrics()`).

        Example:

        >>> from kerasrnn.tasks.sentiment import SentimentClassifier
        >>> SentimentClassifier.default_metrics()
        ['accuracy']
        """
        return cls.head_class.metrics()

    # -- raw inputs --------------------------------------------------------

    def examples(self, x, y=None):
        """Raw inputs (and targets) → an unbatched `tf.data.Dataset` of model inputs (and target ids)."""
        raise NotImplementedError

    def input_limits(self):
        """The bounds on one input this model applies, as keyword arguments of its task's `evaluation_data`.

        They are the attributes `input_limit_names` names (`max_sentence_tokens`, `max_review_characters`).

        Example:

        >>> model.input_limits()  # doctest: +SKIP
        {'max_review_characters': 100000}
        """
        return {name: getattr(self, name) for name in self.input_limit_names}

    def evaluation_data_options(self):
        """Keyword arguments of its task's `evaluation_data` that make it read what this model was trained on.

        The input limits (`input_limits`), and whatever else a task reads
        differently per model (the tagger's tag column).

        Example:

        >>> model.evaluation_data_options()  # doctest: +SKIP
        {'max_sentence_tokens': 1000, 'tag_column': 'upos'}
        """
        return self.input_limits()

    def raw_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None, keep_order=False):
        """Batches of model inputs (and targets) from raw strings, ready for Keras.

        Training and evaluation batches are grouped by length (bucketed);
        `keep_order=True` (prediction) pads in input order instead. A
        `tf.data.Dataset` of raw batches is preprocessed batch by batch.

        Example:

        >>> batches = model.raw_dataset(["Great film."], [1], batch_size=8)  # doctest: +SKIP
        """
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        if isinstance(x, tf.data.Dataset):
            return x.map(self.preprocess_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        examples = self.examples(x, y)
        if not keep_order:
            return bucketed_batches(examples, batch_size, shuffle_buffer=10_000 if shuffle else None, seed=seed)
        # Keras concatenates prediction batches, so every batch gets the length of the longest input.
        inputs_spec = examples.element_spec[0] if y is not None else examples.element_spec
        longest = int(
            examples.reduce(
                tf.constant(1), lambda m, e: tf.maximum(m, tf.shape(tf.nest.flatten(e)[0])[0])
            )
        )
        shapes = tf.nest.map_structure(lambda spec: [longest] + list(spec.shape[1:]), inputs_spec)
        return examples.padded_batch(batch_size, padded_shapes=shapes).prefetch(tf.data.AUTOTUNE)

    def preprocess_batch(self, x, y=None, sample_weight=None):
        """One batch of a raw `tf.data.Dataset` → model inputs (and target ids)."""
        inputs = self.preprocessor(x)
        if y is None:
            return inputs
        targets = self.preprocessor.target_ids(y)
        return (inputs, targets) if sample_weight is None else (inputs, targets, sample_weight)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True, **kwargs):
        """`keras.Model.fit`, also on raw strings (see `raw_dataset`).

        Example:

        >>> model.fit(["A moving film.", "Dull."], ["pos", "neg"], epochs=1)  # doctest: +SKIP
        """
        if is_raw(x):
            if kwargs.get("validation_split"):
                raise ValueError(
                    "`validation_split` needs arrays of ids; with raw strings pass `validation_data=(texts, labels)`."
                )
            x = self.raw_dataset(x, y, batch_size, shuffle=shuffle, seed=kwargs.pop("seed", None))
            y, batch_size, shuffle = None, None, False  # shuffled by raw_dataset
        if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
            validation_x, validation_y, _ = keras.utils.unpack_x_y_sample_weight(tuple(validation_data))
            if is_raw(validation_x):
                validation_data = self.raw_dataset(validation_x, validation_y, batch_size)
        elif isinstance(validation_data, tf.data.Dataset) and is_raw(validation_data):
            validation_data = self.raw_dataset(validation_data)
        with length_bucketed_input():
            return super().fit(x, y, batch_size=batch_size, validation_data=validation_data, shuffle=shuffle, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate`, also on raw strings; the task's metrics, as `kerasrnn evaluate` prints them.

        Example:

        >>> model.evaluate(["A moving film."], ["pos"], return_dict=True)  # doctest: +SKIP
        """
        if is_raw(x):
            x, y, batch_size = self.raw_dataset(x, y, batch_size), None, None
        with length_bucketed_input():
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """`keras.Model.predict`, also on raw strings (outputs in input order).

        Example:

        >>> model.predict(["A moving film."])  # doctest: +SKIP
        """
        if is_raw(x):
            x, batch_size = self.raw_dataset(x, batch_size=batch_size, keep_order=True), None
        return super().predict(x, batch_size=batch_size, **kwargs)

    # -- what the task answers ---------------------------------------------

    def serving_endpoints(self):
        """The `Endpoint`s `kerasrnn export` writes, `serving_default` first."""
        raise NotImplementedError

    def predict_text(self, text):
        """Answer one text as `kerasrnn predict` prints it (JSON-ready)."""
        raise NotImplementedError
