"""The part-of-speech tagging task, as the registry, the command line and the zoo see it."""

from kerasrnn.tasks.task_description import Score, TaskDescription

TASK = TaskDescription(
    name="pos_tagger",
    summary="many-to-many part-of-speech tagger (UD English EWT)",
    model_class_name="PosTagger",
    data_help="a folder with *-train/dev/test.conllu, or a CoNLL-U file (all of it is scored)",
    builder_options={
        "word_dropout": {"type": float, "help": "fraction of words replaced by [UNK] in training"},
    },
    data_options={
        "tag_column": {"choices": ["upos", "xpos"], "help": "which tags to learn (default upos)"},
        "use_characters": {"action": "store_true", "help": "add a character-level word encoder (rare/unknown words)"},
        # EWT's longest sentence has 159 tokens; a longer one in a treebank is most often a lost blank line.
        "max_sentence_tokens": {
            "type": int, "metavar": "N",
            "help": "most tokens per sentence; a longer one is refused in one line (default 1000; EWT's longest: 159)",
        },
    },
    score=Score("accuracy", "EWT test UPOS accuracy"),
    monitor=("val_accuracy", "max"),
    verb="predict",
    latency_example=[["This", "film", "was", "a", "pleasant", "surprise", "."]],
    batch_size=32,  # 12,544 short sentences: larger batches mean fewer updates per epoch
    input_limits=("max_sentence_tokens",),
)
