"""The character language model task, as the registry, the command line and the zoo see it."""

from kerasrnn.tasks.task_description import Score, TaskDescription

TASK = TaskDescription(
    name="char_lm",
    summary="character-level language model (Tiny Shakespeare)",
    model_class_name="CharLanguageModel",
    data_help="a UTF-8 text file (first 90%% trains, the last 10%% is validated and scored)",
    builder_options={},
    data_options={
        "seq_len": {"type": int, "help": "characters per TBPTT window (default 100)"},
        "stateful": {"action": "store_true", "help": "carry the state across windows"},
    },
    score=Score("nats_per_char", "validation nats/char", percent=False, higher_is_better=False),
    monitor=("val_loss", "min"),
    verb="generate",
    latency_example=[list("ROMEO:\nWhat light through yonder window breaks?")],
    batch_size=64,  # 64 parallel text streams of truncated BPTT, as char-rnn trains
)
