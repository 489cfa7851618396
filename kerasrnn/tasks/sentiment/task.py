"""The sentiment task, as the registry, the command line and the zoo see it."""

from kerasrnn.tasks.task_description import Score, TaskDescription

TASK = TaskDescription(
    name="sentiment",
    summary="many-to-one review classifier (IMDB)",
    model_class_name="SentimentClassifier",
    data_help="the aclImdb folder or .tar.gz (train/ for training, test/ is scored)",
    builder_options={
        "pooling": {"choices": ["last", "mean", "max"], "help": "how the states become one vector"},
        "word_dropout": {"type": float, "help": "fraction of words replaced by [UNK] in training"},
    },
    data_options={
        "vocab_size": {"type": int, "help": "vocabulary size (default 20000)"},
        "max_length": {"type": int, "help": "tokens kept per review (default 400)"},
        # IMDB's longest review has 14,282 characters; the whole text is standardized before max_length cuts it.
        "max_review_characters": {
            "type": int, "metavar": "N",
            "help": "most characters per review; a longer one is refused in one line (default 100000; IMDB's "
            "longest: 14,282)",
        },
    },
    score=Score("accuracy", "IMDB test accuracy"),
    monitor=("val_accuracy", "max"),
    verb="predict",
    latency_example=["This film was a pleasant surprise: sharp writing and a moving ending."],
    # With 64 units a step's matmuls are tiny: batches of 32 leave the CPU
    # waiting on per-op overhead, batches of 128 run 1.6x faster per review.
    batch_size=128,
    training_options={
        "adversarial": {
            "choices": ["none", "at", "vat"],
            "help": "adversarial (at) or virtual adversarial (vat) perturbations of the embeddings in training "
            "(Miyato et al. 2017)",
        },
        "adversarial_epsilon": {"type": float, "help": "the perturbation's L2 norm per review (default 5.0)"},
        "unlabeled": {"help": "with --adversarial vat: IMDB's unlabeled reviews (aclImdb_v1_unsup.tar.gz) too"},
    },
    input_limits=("max_review_characters",),
)
