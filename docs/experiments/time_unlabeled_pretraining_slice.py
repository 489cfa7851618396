"""How long is one epoch of `sentiment-imdb-bilstm-pretrained`'s language-model pretraining? An estimate from a slice.

Run from the repository root (about one minute; it trains 24 batches, no more):

    TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. python docs/experiments/time_unlabeled_pretraining_slice.py

It builds exactly what `python -m tools.zoo train sentiment-imdb-bilstm-pretrained`
pretrains (the recipe's network, vocabulary, batches and language model) on
the 22,500 training + 50,000 unlabeled reviews, makes the one vectorizing
pass over them that pretraining makes, trains 4 warm-up batches and times 20
more, and scales the time per padded step to the epoch's padded steps.
Measured on 2026-12-05 on 2 CPU cores shared with other work (load average
about 2): 1,156 batches and 20.07 M padded steps per epoch, 20 batches in
8.8 s (0.44 s a batch), so about 580 s (10 min) an epoch; the final
full-vocabulary held-out loss about 220 s. An estimate under load, from 20
batches: the real epochs' `epoch_seconds` are the measurement.
"""
import json, math, os, sys, time
started = time.time()
import keras, numpy as np, tensorflow as tf
from kerasrnn.data.length_buckets import bucketed_batches
from kerasrnn.optimizers import build_optimizer
from kerasrnn.shared_data import SHARED_DATA
from kerasrnn.tasks.model_spec import build_from_spec
from kerasrnn.tasks.sentiment import data as sentiment_data
from kerasrnn.tasks.sentiment.pretraining import _read_unlabeled, full_softmax_loss, language_model_of
from tools.zoo.recipes import recipe

plan = recipe("sentiment-imdb-bilstm-pretrained")
step, batch_size, seed = plan["pretrain"], plan["batch_size"], plan.get("seed", 1337)
log = lambda *a: print(f"[{time.time() - started:7.1f}s]", *a, flush=True)
print("load average before:", os.getloadavg(), flush=True)
unlabeled = _read_unlabeled(os.path.join(SHARED_DATA, step["unlabeled"]), None)
log("unlabeled read", len(unlabeled))
keras.utils.set_random_seed(seed)
data = sentiment_data.prepare(os.path.join(SHARED_DATA, plan["data"]), batch_size=batch_size, seed=seed, **plan["data_options"])
log("prepared (vocabulary adapted)", data.spec_arguments)
network = build_from_spec({"task": "sentiment", **plan["builder_options"], **data.spec_arguments})
(train_texts, _), _ = sentiment_data.training_reviews(os.path.join(SHARED_DATA, plan["data"]), None, seed)
texts = list(train_texts) + list(unlabeled)
examples = sentiment_data.review_examples(data.preprocessor, texts).map(lambda ids: (ids, 0))
train = bucketed_batches(examples.cache(), batch_size, shuffle_buffer=len(texts), seed=seed)
t = time.time()
shapes = [tuple(ids.shape) for ids, _ in train]  # the vectorizing, cache-filling pass pretrain's count_tokens makes
vectorize_seconds = time.time() - t
padded = sum(b * l for b, l in shapes)
log(f"one pass over {len(texts)} reviews: {vectorize_seconds:.1f}s, {len(shapes)} batches, {padded} padded steps")
language_model = language_model_of(network, num_sampled=step["num_sampled"], dropout=step.get("dropout", 0.0), seed=seed)
language_model.compile(optimizer=build_optimizer("adam", learning_rate=step["learning_rate"], clipnorm=step["clipnorm"]))
batches = [ids for ids, _ in train.take(24)]
for ids in batches[:4]:  # traces (reduce_retracing) and warms up
    language_model.train_on_batch(ids)
log("warm-up done")
timed, timed_steps = 0.0, 0
for ids in batches[4:]:
    t = time.time(); language_model.train_on_batch(ids); timed += time.time() - t
    timed_steps += int(np.prod(ids.shape))
per_step = timed / timed_steps
log(f"20 batches: {timed:.1f}s for {timed_steps} padded steps ({timed / 20:.2f}s/batch)")
val_batches = [ids for ids, _ in data.validation]
val_padded = sum(int(np.prod(ids.shape)) for ids in val_batches)
sample = list(data.validation.take(2))
t = time.time(); full_softmax_loss(language_model, tf.data.Dataset.from_generator(lambda: iter(sample), output_signature=data.validation.element_spec)); fs = time.time() - t
fs_per_step = fs / sum(int(np.prod(ids.shape)) for ids, _ in sample)
estimate = {
    "corpus_reviews": len(texts), "batches_per_epoch": len(shapes), "padded_steps_per_epoch": padded,
    "seconds_per_padded_step": per_step, "timed_batches": 20, "timed_seconds": round(timed, 1),
    "epoch_train_seconds_estimate": round(per_step * padded), "first_pass_vectorize_seconds": round(vectorize_seconds, 1),
    "final_full_softmax_seconds_estimate": round(fs_per_step * val_padded),
    "load_average_after": os.getloadavg(), "cpus": os.cpu_count(),
}
print(json.dumps(estimate, indent=2), flush=True)
